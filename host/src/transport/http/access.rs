//! Who may call: `Origin` and `Host` checked against DNS rebinding, bearer tokens or JWTs
//! authenticated, operators told from other owners, and the protected resource metadata (RFC
//! 9728) that tells clients where to get a token. One [`Gate`] guards an MCP endpoint, the
//! dashboard beside it, and the dashboard on its own (`mcp-tasks admin --http`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::Authenticator;
use super::{AuthError, HttpError, HttpOptions, Refused, refusal};

/// The checks every request to a server passes: the same for its MCP endpoint, its `/metrics`
/// and its dashboard.
pub struct Gate {
    auth: Authenticator,
    allowed_origins: Vec<String>,
    allowed_hosts: Vec<String>,
    /// Bound to loopback: the `Host` header must name loopback too (DNS rebinding).
    loopback: bool,
    /// The public URL of the protected resource, and of its metadata.
    resource: String,
    metadata_url: String,
    /// The owners who may operate (the dashboard), when callers authenticate.
    operators: Vec<String>,
}

impl Gate {
    /// The checks `options` ask for, of a server bound to `addr` whose resource is at
    /// `resource`; without authentication every caller is `owner`. Reads the tokens file and
    /// fetches the JWKS now: a bad one fails here.
    pub async fn new(
        options: &HttpOptions,
        addr: SocketAddr,
        resource: String,
        owner: String,
    ) -> Result<Gate, HttpError> {
        let auth = if options.authenticates() {
            Authenticator::new(options.tokens_file.as_deref(), options.jwt.clone()).await?
        } else {
            Authenticator::anonymous(owner)
        };
        Ok(Gate {
            auth,
            allowed_origins: options.allowed_origins.clone(),
            allowed_hosts: options.allowed_hosts.clone(),
            loopback: addr.ip().is_loopback(),
            metadata_url: metadata_url(&resource),
            resource,
            operators: options.admins.clone().unwrap_or_default(),
        })
    }

    /// Whether callers must present a token.
    pub fn authenticates(&self) -> bool {
        self.auth.required()
    }

    /// Fetch the JWKS again if it is due (see the authenticator).
    pub async fn refresh(&self) {
        self.auth.refresh().await;
    }

    /// Who calls: the owner of a request that passed the DNS-rebinding checks and
    /// authentication.
    pub(crate) async fn caller(&self, headers: &HeaderMap) -> Result<String, Refused> {
        self.check_origin(headers)?;
        self.authenticate(headers).await
    }

    /// Who operates: a caller that is an operator (any admitted caller when callers do not
    /// authenticate: there is then one owner, and the server is on loopback); else the 401 or
    /// 403 that says why not.
    pub(crate) async fn operator(&self, headers: &HeaderMap) -> Result<String, Refused> {
        let owner = self.caller(headers).await?;
        if self.auth.required() && !self.operators.contains(&owner) {
            return Err(Box::new(
                (
                    StatusCode::FORBIDDEN,
                    axum::Json(
                        json!({ "error": format!("{owner} is not an operator (--admin-owner)") }),
                    ),
                )
                    .into_response(),
            ));
        }
        Ok(owner)
    }

    /// `Origin` and (bound to loopback) `Host` must be this server's, against DNS rebinding.
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refused> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let allowed = self.allowed_origins.iter().any(|o| o == origin)
                || origin
                    .split_once("://")
                    .filter(|(scheme, _)| *scheme == "http" || *scheme == "https")
                    .is_some_and(|(_, host)| is_loopback_host(host));
            if !allowed {
                return Err(forbidden("Origin", origin));
            }
        }
        if self.loopback {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let allowed = is_loopback_host(host)
                || self
                    .allowed_hosts
                    .iter()
                    .any(|h| h == host || h == strip_port(host));
            if !allowed {
                return Err(forbidden("Host", host));
            }
        }
        Ok(())
    }

    /// The owner the request acts for, or the 401 that asks for a token.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<String, Refused> {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        self.auth.owner(authorization).await.map_err(|e| {
            let challenge = match &e {
                AuthError::Missing => format!("Bearer resource_metadata=\"{}\"", self.metadata_url),
                other => format!(
                    "Bearer resource_metadata=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
                    self.metadata_url,
                    other.to_string().replace('"', "'")
                ),
            };
            tracing::info!("refused a request: {e}");
            let mut response = refusal(
                StatusCode::UNAUTHORIZED,
                None,
                -32000,
                &format!("Unauthorized: {e}"),
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            Box::new(response)
        })
    }
}

/// The OAuth 2.0 protected resource metadata (RFC 9728) clients discover the issuer from; 404
/// when callers do not authenticate.
pub(crate) async fn metadata(State(gate): State<Arc<Gate>>) -> Response {
    if !gate.auth.required() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut body = json!({
        "resource": gate.resource,
        "bearer_methods_supported": ["header"],
        "resource_name": "mcp-tasks",
    });
    if let Some(issuer) = gate.auth.issuer() {
        body["authorization_servers"] = json!([issuer]);
    }
    axum::Json(body).into_response()
}

/// Middleware: requests from this site only (the `Origin` and `Host` checks), with or without
/// a token: what a page's own assets need.
pub(crate) async fn same_site(
    State(gate): State<Arc<Gate>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match gate.check_origin(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => *refused,
    }
}

/// Middleware: an operator (see [`Gate::operator`]), whose owner goes with the request as its
/// [`crate::admin::dashboard::Operator`] (changes are made in its name).
pub(crate) async fn operators_only(
    State(gate): State<Arc<Gate>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match gate.operator(request.headers()).await {
        Ok(owner) => {
            request
                .extensions_mut()
                .insert(crate::admin::dashboard::Operator(owner));
            next.run(request).await
        }
        Err(refused) => *refused,
    }
}

/// GET /metrics: the Prometheus text (see [`crate::metrics`]) of `store`, for the callers `gate`
/// admits (an MCP endpoint's: the callers it admits; the dashboard's: its operators).
pub(crate) async fn metrics_for(
    gate: &Gate,
    operators_only: bool,
    headers: &HeaderMap,
    store: &dyn crate::TaskStore,
) -> Response {
    let admitted = if operators_only {
        gate.operator(headers).await
    } else {
        gate.caller(headers).await
    };
    match admitted {
        Ok(_) => crate::metrics::answer(store).await,
        Err(refused) => *refused,
    }
}

/// 403 for a header (`Origin`, `Host`) that names another site.
fn forbidden(header: &str, value: &str) -> Refused {
    Box::new(refusal(
        StatusCode::FORBIDDEN,
        None,
        -32000,
        &format!("Forbidden: {header} {value} is not allowed"),
    ))
}

/// `host[:port]` without the port.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn is_loopback_host(host: &str) -> bool {
    let name = strip_port(host);
    matches!(name, "localhost" | "127.0.0.1" | "::1")
}

/// RFC 9728: the metadata of `https://host/path` is at `https://host/.well-known/oauth-protected-resource/path`.
pub(super) fn metadata_url(resource: &str) -> String {
    let (scheme, rest) = resource.split_once("://").unwrap_or(("http", resource));
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        format!("{scheme}://{host}/.well-known/oauth-protected-resource")
    } else {
        format!("{scheme}://{host}/.well-known/oauth-protected-resource/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_metadata_urls() {
        assert!(is_loopback_host("localhost:8080"));
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("[::1]:3000"));
        assert!(!is_loopback_host("evil.example.com"));
        assert!(!is_loopback_host("localhost.evil.example.com:80"));
        assert_eq!(
            metadata_url("http://127.0.0.1:8080/mcp"),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://tasks.example.com"),
            "https://tasks.example.com/.well-known/oauth-protected-resource"
        );
    }
}
