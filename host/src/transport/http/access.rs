//! Who may call: `Origin` and `Host` checked against DNS rebinding, bearer tokens or JWTs
//! authenticated, and the protected resource metadata (RFC 9728) that tells clients where to get
//! a token.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AuthError, Http, Refused, refusal};

impl Http {
    /// Who calls: the owner of a request that passed the DNS-rebinding checks and
    /// authentication.
    pub(super) async fn caller(&self, headers: &HeaderMap) -> Result<String, Refused> {
        self.check_origin(headers)?;
        self.authenticate(headers).await
    }

    /// `Origin` and (bound to loopback) `Host` must be this server's, against DNS rebinding.
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refused> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let allowed = self.options.allowed_origins.iter().any(|o| o == origin)
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
                    .options
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

/// The OAuth 2.0 protected resource metadata (RFC 9728) clients discover the issuer from.
pub(super) async fn metadata(State(http): State<Arc<Http>>) -> Response {
    if !http.auth.required() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut body = json!({
        "resource": http.resource,
        "bearer_methods_supported": ["header"],
        "resource_name": "mcp-tasks",
    });
    if let Some(issuer) = http.auth.issuer() {
        body["authorization_servers"] = json!([issuer]);
    }
    axum::Json(body).into_response()
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

/// GET /metrics: the Prometheus text (see [`crate::metrics`]), for the callers the endpoint
/// admits (the same Origin and Host checks, and the same tokens when it authenticates).
pub(super) async fn metrics(State(http): State<Arc<Http>>, headers: HeaderMap) -> Response {
    if let Err(refused) = http.caller(&headers).await {
        return *refused;
    }
    crate::metrics::answer(http.store.as_ref()).await
}

/// The dashboard beside the endpoint (`--admin`): for callers the endpoint admits whose owner is
/// an operator (any admitted caller when the server does not authenticate: it is then the one
/// owner, on loopback). Changes are made in the caller's name.
pub(super) async fn operators_only(
    State(http): State<Arc<Http>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let owner = match http.caller(request.headers()).await {
        Ok(owner) => owner,
        Err(refused) => return *refused,
    };
    let admitted = !http.auth.required()
        || http
            .options
            .admins
            .as_ref()
            .is_some_and(|admins| admins.contains(&owner));
    if !admitted {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({ "error": format!("{owner} is not an operator (--admin-owner)") })),
        )
            .into_response();
    }
    request
        .extensions_mut()
        .insert(crate::admin::dashboard::Operator(owner));
    next.run(request).await
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
