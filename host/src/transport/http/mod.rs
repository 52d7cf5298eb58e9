//! MCP over Streamable HTTP: both eras of the protocol on one endpoint (`/mcp` by default).
//!
//! - 2025-11-25: `initialize` opens a session (`Mcp-Session-Id`); each POST is answered with JSON,
//!   or with an SSE stream when the server has more to say before the answer (a task's question
//!   on `tasks/result`); GET opens the session's stream for messages that belong to no request
//!   (a task's status notifications); DELETE ends the session. A session's SSE streams are
//!   resumable (SEP-1699): event IDs, and GET with `Last-Event-ID` replays what followed.
//! - 2026-07-28: stateless. `Mcp-Method` and `Mcp-Name` (and a tool's `Mcp-Param-*`) must match
//!   the body, else 400 with -32020; `subscriptions/listen` is answered with an SSE stream that
//!   stays open.
//!
//! Every caller is authenticated (or, with no authentication configured, is the one owner) and
//! owns the tasks it creates. The same hub as stdio's carries out what the component decides;
//! this module only decides where each message goes and what each refusal looks like.

mod access;
mod auth;
mod handlers;
mod headers;
mod incoming;
mod limits;
mod replay;
mod sessions;
mod sse;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

pub use access::Gate;
pub(crate) use access::{metadata, metrics_for, operators_only, same_site};
pub use auth::{AuthError, JwksSource, JwtConfig, token_hash};
use handlers::{delete, get_stream, post};
use limits::PerOwner;
use sessions::Session;

use crate::hub::{Hub, Peer, Runner};
use crate::outbox::Outbox;
use crate::types::{Era, ProtocolVersion};
use crate::util::lock;
use crate::{GuestError, TaskStore};

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const SESSION_ID: &str = "mcp-session-id";
pub use super::Limits;

/// How to serve HTTP: the endpoint, who may call, and the limits.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The MCP endpoint's path.
    pub path: String,
    /// The endpoint's public URL, as clients reach it (the protected resource's identifier).
    /// Default: `http://<bound address><path>`.
    pub public_url: Option<String>,
    /// Origins allowed besides `http(s)://localhost`, `127.0.0.1` and `[::1]` (any port).
    pub allowed_origins: Vec<String>,
    /// Host names allowed besides the loopback names, when bound to loopback.
    pub allowed_hosts: Vec<String>,
    /// A TOML file mapping SHA-256 hashes of bearer tokens to owners.
    pub tokens_file: Option<PathBuf>,
    /// Accept JWTs from this issuer.
    pub jwt: Option<JwtConfig>,
    /// The limits.
    pub limits: Limits,
    /// Serve the operator's dashboard and its API at `/admin/` beside the endpoint, for these
    /// owners (when callers authenticate; any admitted caller when they do not). `None`: not at
    /// all.
    pub admins: Option<Vec<String>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            path: "/mcp".into(),
            public_url: None,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            tokens_file: None,
            jwt: None,
            limits: Limits::default(),
            admins: None,
        }
    }
}

impl HttpOptions {
    /// Whether callers must authenticate with these options.
    pub fn authenticates(&self) -> bool {
        self.tokens_file.is_some() || self.jwt.is_some()
    }
}

/// Why the HTTP server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The tokens file or the JWKS.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The socket.
    #[error("HTTP server: {0}")]
    Io(#[from] std::io::Error),
    /// The component could not be loaded or called.
    #[error(transparent)]
    Guest(#[from] GuestError),
    /// The store could not relay messages between hosts.
    #[error("the task store cannot relay messages between hosts: {0}")]
    Relay(String),
}

struct Http {
    hub: Arc<Hub>,
    /// Who may call.
    gate: Arc<Gate>,
    options: HttpOptions,
    /// The sessions this host served, by ID (see [`sessions`]).
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// The component's store: where sessions are kept, if it keeps them.
    store: Arc<dyn TaskStore>,
    /// Whether the store carries messages for sessions' streams between hosts.
    relaying: bool,
    requests: Arc<PerOwner>,
    streams: Arc<PerOwner>,
    next_peer: AtomicU64,
    shutdown: CancellationToken,
    versions: Versions,
}

/// The protocol versions the component speaks, as the `MCP-Protocol-Version` header names them.
struct Versions {
    /// The session era's (`initialize`), newest first.
    session: Vec<String>,
    /// The stateless era's: its requests carry it in `_meta` too.
    stateless: String,
}

impl Versions {
    /// What the component's router says it speaks.
    fn of(versions: Vec<ProtocolVersion>) -> Self {
        let (modern, legacy): (Vec<_>, Vec<_>) =
            versions.into_iter().partition(|v| v.era == Era::Modern);
        Self {
            session: legacy.into_iter().map(|v| v.version).collect(),
            stateless: modern
                .into_iter()
                .map(|v| v.version)
                .next()
                .unwrap_or_default(),
        }
    }
}

/// Serve MCP over Streamable HTTP on `listener` until `stop` completes (see
/// [`Server::serve_http`](crate::Server::serve_http)).
pub(crate) async fn serve(
    server: &Runner,
    listener: TcpListener,
    options: HttpOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let addr = listener.local_addr()?;
    let resource = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}{}", options.path));
    let gate = Arc::new(Gate::new(&options, addr, resource, server.owner.clone()).await?);
    let versions = Versions::of(server.guest.versions().await?);
    let store = server.guest.task_store();
    let relayed = match store.sessions() {
        Some(sessions) => sessions
            .listen()
            .await
            .map_err(|e| HttpError::Relay(e.to_string()))?,
        None => None,
    };
    // The sweep answers no client: what it would send for a task (its status) reaches the
    // task's owner through tasks/get.
    let nobody = Peer::nowhere(String::new());
    let owner = server.owner.clone();
    let served = server
        .serve_loop(nobody, |hub| async move {
            let http = Arc::new(Http {
                shutdown: hub.shutdown.clone(),
                hub,
                gate,
                options,
                sessions: Mutex::new(HashMap::new()),
                store,
                relaying: relayed.is_some(),
                requests: Arc::default(),
                streams: Arc::default(),
                next_peer: AtomicU64::new(1),
                versions,
            });
            let upkeep = AbortOnDropHandle::new(tokio::spawn(http.clone().upkeep()));
            let delivery = relayed.map(|feed| {
                AbortOnDropHandle::new(tokio::spawn(http.clone().deliver_relayed(feed)))
            });
            let app = http.clone().router();
            tracing::info!(
                %addr,
                path = %http.options.path,
                authentication = if http.gate.authenticates() { "bearer tokens" } else { "none" },
                "serving MCP over Streamable HTTP"
            );
            if !http.gate.authenticates() {
                tracing::warn!(
                    %owner,
                    "no authentication: every caller is the one owner, and sees every task"
                );
            }
            // The drain runs beside the graceful shutdown, which begins at the signal: the
            // listener closes and connections take no new requests, while the requests in
            // flight (and the streams) are answered as the drain ends them.
            let accepting = CancellationToken::new();
            let drain = AbortOnDropHandle::new(tokio::spawn(
                http.clone().drain_after(stop, accepting.clone()),
            ));
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(accepting.cancelled_owned())
                .await;
            // The graceful shutdown ends once every connection has closed, which the drain's end
            // brings about; the drain still owns the runs' end, so it is awaited (unless the
            // server failed before any signal).
            if served.is_ok() {
                let _ = drain.await;
            }
            drop((upkeep, delivery));
            served
        })
        .await;
    served.map_err(HttpError::Io)
}

impl Http {
    /// At `stop`, stop taking requests (`accepting`), then drain: the running tools get the drain
    /// period to finish; those still running are stopped (their calls answered with the stopping
    /// error, their tasks handed back or failed); each subscription's stream ends on the result
    /// that completes it; waiting requests (answered with the stopping error) and open streams end.
    async fn drain_after(
        self: Arc<Self>,
        stop: impl Future<Output = ()>,
        accepting: CancellationToken,
    ) {
        stop.await;
        accepting.cancel();
        let deadline = tokio::time::Instant::now() + self.options.limits.drain;
        self.hub.drain_runs(deadline).await;
        self.hub.end_subscriptions().await;
        self.shutdown.cancel();
        lock(&self.sessions).clear();
    }

    /// The endpoint, and beside it the metadata, `/metrics` when metrics are on, and the
    /// dashboard at `/admin/` with `--admin`.
    fn router(self: Arc<Self>) -> axum::Router {
        let path = self.options.path.clone();
        let metadata_routes = axum::Router::new()
            .route("/.well-known/oauth-protected-resource", get(metadata))
            .route(
                &format!("/.well-known/oauth-protected-resource{path}"),
                get(metadata),
            )
            .with_state(self.gate.clone());
        let router = axum::Router::new().route(&path, get(get_stream).post(post).delete(delete));
        let router = if crate::metrics::enabled() {
            router.route(
                "/metrics",
                get(
                    |State(http): State<Arc<Http>>, headers: HeaderMap| async move {
                        metrics_for(&http.gate, false, &headers, http.store.as_ref()).await
                    },
                ),
            )
        } else {
            router
        };
        let router = router
            .layer(DefaultBodyLimit::max(self.options.limits.max_body_bytes))
            .with_state(self.clone())
            .merge(metadata_routes);
        if self.options.admins.is_none() {
            return router;
        }
        let admin = Arc::new(crate::admin::Admin::for_host(
            self.hub.guest(),
            self.hub.executor(),
        ));
        let (page, api) = crate::admin::dashboard::routes("/admin", admin);
        router
            .merge(page)
            .merge(api.layer(axum::middleware::from_fn_with_state(
                self.gate.clone(),
                operators_only,
            )))
    }

    fn peer(&self, owner: String, session: Option<&Session>, outbox: Outbox) -> Arc<Peer> {
        let id = self.next_peer.fetch_add(1, Ordering::Relaxed);
        Arc::new(Peer {
            id,
            // Request IDs repeat between clients: a session's are its own, and a stateless
            // request is a client of its own (its retries name their run in requestState).
            client: match session {
                Some(s) => format!("session:{}", s.id),
                None => format!("request:{id}"),
            },
            owner,
            session: session.map(|s| s.state.clone()).unwrap_or_default(),
            // A session's client takes a task's question on the stream of the tasks/get that
            // shows it (or of tasks/result), as on stdio: clients that poll and never wait (the
            // ext-tasks v1 client) are asked too. A stateless request is never sent requests.
            push: session.is_some(),
            transport: "http",
            outbox,
        })
    }
}

/// A response that refuses a request, boxed: it is the large error side of checks' results.
type Refused = Box<Response>;

/// A refusal with a JSON-RPC error body.
fn refusal(status: StatusCode, id: Option<&Value>, code: i64, message: &str) -> Response {
    let mut body = json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message } });
    if let Some(id) = id {
        body["id"] = id.clone();
    }
    (status, axum::Json(body)).into_response()
}

fn too_many(id: &Value, message: &str) -> Response {
    let id = (!id.is_null()).then_some(id);
    let mut response = refusal(
        StatusCode::TOO_MANY_REQUESTS,
        id,
        -32000,
        &format!("Too many requests: {message}"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
