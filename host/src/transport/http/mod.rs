//! MCP over Streamable HTTP: both eras of the protocol on one endpoint (`/mcp` by default).
//!
//! - 2025-11-25: `initialize` opens a session (`Mcp-Session-Id`); each POST is answered with JSON,
//!   or with an SSE stream when the server has more to say before the answer (a task's question
//!   on `tasks/result`); GET opens the session's stream for messages that belong to no request
//!   (a task's status notifications); DELETE ends the session.
//! - 2026-07-28: stateless. `Mcp-Method` and `Mcp-Name` (and a tool's `Mcp-Param-*`) must match
//!   the body, else 400 with -32020; `subscriptions/listen` is answered with an SSE stream that
//!   stays open.
//!
//! Every caller is authenticated (or, with no authentication configured, is the one owner) and
//! owns the tasks it creates. The same hub as stdio's carries out what the component decides;
//! this module only decides where each message goes and what each refusal looks like.

mod auth;
mod headers;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::AbortOnDropHandle;

use auth::Authenticator;
pub use auth::{AuthError, JwksSource, JwtConfig, token_hash};

use super::{Outbox, Receiver, Sink, Standby, channel};
use crate::server::{Hub, Peer, Server, lock};

/// The protocol versions of the session era (`initialize`), which a session's
/// `MCP-Protocol-Version` header may name.
const SESSION_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// The stateless era's version: requests carry it in `_meta` and in `MCP-Protocol-Version`.
const STATELESS_VERSION: &str = "2026-07-28";
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// A session unused this long, with no stream open, is forgotten.
const SESSION_IDLE: Duration = Duration::from_secs(3600);
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
}

/// A 2025-11-25 session: whose it is, the component's state for it, and its GET stream.
struct Session {
    /// Its `Mcp-Session-Id`.
    id: String,
    owner: String,
    state: Arc<Mutex<String>>,
    stream: Standby,
    last_seen: Mutex<Instant>,
}

/// Counts of something each owner holds (requests, streams), each taken by a [`Slot`].
#[derive(Default)]
struct PerOwner(Mutex<HashMap<String, usize>>);

/// One counted thing; dropping it gives it back.
struct Slot {
    counts: Arc<PerOwner>,
    owner: String,
}

impl PerOwner {
    fn take(self: &Arc<Self>, owner: &str, max: usize) -> Option<Slot> {
        let mut counts = lock(&self.0);
        let count = counts.entry(owner.to_string()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            counts: self.clone(),
            owner: owner.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts.0);
        if let Some(count) = counts.get_mut(&self.owner) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.owner);
            }
        }
    }
}

struct Http {
    hub: Arc<Hub>,
    auth: Authenticator,
    options: HttpOptions,
    /// Bound to loopback: the `Host` header must name loopback too (DNS rebinding).
    loopback: bool,
    /// The public URL of the endpoint and of its protected resource metadata.
    resource: String,
    metadata_url: String,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    requests: Arc<PerOwner>,
    streams: Arc<PerOwner>,
    next_peer: AtomicU64,
    shutdown: CancellationToken,
}

impl Server {
    /// Serve MCP over Streamable HTTP on `listener` until `stop` completes; then stop taking
    /// requests, end open streams, stop running tools and return.
    pub async fn serve_http(
        &self,
        listener: TcpListener,
        options: HttpOptions,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HttpError> {
        let addr = listener.local_addr()?;
        let auth = if options.authenticates() {
            Authenticator::new(options.tokens_file.as_deref(), options.jwt.clone()).await?
        } else {
            Authenticator::anonymous(self.owner().to_string())
        };
        let resource = options
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}{}", options.path));
        let metadata_url = metadata_url(&resource);
        let hub = self.hub();
        let http = Arc::new(Http {
            hub: hub.clone(),
            auth,
            loopback: addr.ip().is_loopback(),
            resource,
            metadata_url,
            options,
            sessions: Mutex::new(HashMap::new()),
            requests: Arc::default(),
            streams: Arc::default(),
            next_peer: AtomicU64::new(1),
            shutdown: hub.shutdown.clone(),
        });
        // The sweep answers no client: what it would send for a task (its status) reaches the
        // task's owner through tasks/get.
        let background = Arc::new(Peer {
            id: 0,
            owner: String::new(),
            session: Arc::default(),
            push: false,
            client: String::new(),
            outbox: Outbox::nowhere(),
        });
        let sweeper = tokio::spawn(hub.clone().sweep_periodically(background));
        let upkeep = tokio::spawn(http.clone().upkeep());

        let path = http.options.path.clone();
        let app = axum::Router::new()
            .route(&path, get(get_stream).post(post).delete(delete))
            .route("/.well-known/oauth-protected-resource", get(metadata))
            .route(
                &format!("/.well-known/oauth-protected-resource{path}"),
                get(metadata),
            )
            .layer(DefaultBodyLimit::max(http.options.limits.max_body_bytes))
            .with_state(http.clone());
        tracing::info!(
            %addr,
            path = %path,
            authentication = if http.auth.required() { "bearer tokens" } else { "none" },
            "serving MCP over Streamable HTTP"
        );
        if !http.auth.required() {
            tracing::warn!(
                owner = %self.owner(),
                "no authentication: every caller is the one owner, and sees every task"
            );
        }
        let shutdown = http.shutdown.clone();
        let closing = http.clone();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                stop.await;
                // Waiting requests and open streams end now, so that the graceful shutdown does
                // not wait for them.
                shutdown.cancel();
                lock(&closing.sessions).clear();
            })
            .await;
        sweeper.abort();
        upkeep.abort();
        hub.finish().await;
        served.map_err(HttpError::Io)
    }
}

impl Http {
    /// Forget idle sessions, and keep the JWKS fresh.
    async fn upkeep(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            lock(&self.sessions).retain(|_, s| {
                lock(&s.last_seen).elapsed() < SESSION_IDLE || lock(&s.stream).is_some()
            });
            self.auth.refresh().await;
        }
    }

    /// Who calls: the owner of a request that passed the DNS-rebinding checks and
    /// authentication.
    async fn caller(&self, headers: &HeaderMap) -> Result<String, Refused> {
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

    /// The session a 2025-11-25 request names, if it exists and is the caller's; a caller never
    /// learns whether another owner's session exists.
    fn session(&self, headers: &HeaderMap, owner: &str) -> Result<Arc<Session>, Refused> {
        let Some(id) = headers.get(SESSION_ID).and_then(|h| h.to_str().ok()) else {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                None,
                -32000,
                "Bad Request: the Mcp-Session-Id header is required (send initialize first)",
            )));
        };
        match lock(&self.sessions).get(id) {
            Some(session) if session.owner == owner => {
                *lock(&session.last_seen) = Instant::now();
                Ok(session.clone())
            }
            _ => Err(Box::new(refusal(
                StatusCode::NOT_FOUND,
                None,
                -32001,
                "Session not found: initialize again",
            ))),
        }
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
            outbox,
        })
    }
}

/// One POSTed message, read and placed in its era.
struct Incoming {
    text: String,
    message: Value,
    /// A request's id; none for a notification or a response.
    id: Option<Value>,
    method: Option<String>,
    /// A 2026-07-28 message (by its header or by its `_meta`), rather than a session's.
    stateless: bool,
}

impl Incoming {
    fn read(body: &[u8], headers: &HeaderMap) -> Result<Self, Refused> {
        let refused =
            |code, message: &str| Box::new(refusal(StatusCode::BAD_REQUEST, None, code, message));
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| refused(-32700, "Parse error: the body is not UTF-8"))?;
        let message: Value = serde_json::from_str(&text)
            .map_err(|e| refused(-32700, &format!("Parse error: {e}")))?;
        if !message.is_object() {
            return Err(refused(
                -32600,
                "Invalid Request: a POST carries one JSON-RPC message, not a batch",
            ));
        }
        let id = message.get("id").filter(|id| !id.is_null()).cloned();
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        let stateless =
            header_version(headers) == Some(STATELESS_VERSION) || body_version(&message).is_some();
        Ok(Self {
            text,
            message,
            id,
            method,
            stateless,
        })
    }

    fn is_request(&self) -> bool {
        self.method.is_some() && self.id.is_some()
    }

    fn is(&self, method: &str) -> bool {
        self.method.as_deref() == Some(method)
    }
}

fn header_version(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("mcp-protocol-version")
        .and_then(|h| h.to_str().ok())
}

fn body_version(message: &Value) -> Option<&str> {
    message
        .pointer("/params/_meta")
        .and_then(|m| m.get(META_VERSION))
        .and_then(Value::as_str)
}

impl Http {
    /// A 2026-07-28 request's envelope (`_meta`) and headers, checked against each other.
    fn check_stateless(&self, headers: &HeaderMap, incoming: &Incoming) -> Result<(), Refused> {
        let id = incoming.id.as_ref();
        let refused =
            |code, message: String| Box::new(refusal(StatusCode::BAD_REQUEST, id, code, &message));
        // Without its `_meta` the body cannot be read as a request of that version: 400, as
        // the spec asks of envelope errors.
        let meta = incoming.message.pointer("/params/_meta");
        for field in [META_VERSION, META_CAPABILITIES] {
            if meta.and_then(|m| m.get(field)).is_none() {
                return Err(refused(
                    -32602,
                    format!(
                        "Invalid params: a {STATELESS_VERSION} request carries {field} in params._meta"
                    ),
                ));
            }
        }
        let (header, body) = (header_version(headers), body_version(&incoming.message));
        if header != body {
            return Err(refused(
                -32020,
                format!(
                    "Header mismatch: MCP-Protocol-Version header {} does not match _meta {META_VERSION} {}",
                    header.unwrap_or("(missing)"),
                    body.unwrap_or("(missing)")
                ),
            ));
        }
        let schema = match incoming.message.pointer("/params/name") {
            Some(Value::String(tool)) if incoming.is("tools/call") => self.hub.input_schema(tool),
            _ => None,
        };
        headers::check(headers, &incoming.message, schema.as_ref())
            .map_err(|mismatch| refused(-32020, format!("Header mismatch: {mismatch}")))
    }

    /// A 2025-11-25 message's session: a new one (not yet registered) for `initialize`, else
    /// the one its `Mcp-Session-Id` names.
    fn session_of(
        &self,
        headers: &HeaderMap,
        incoming: &Incoming,
        owner: &str,
    ) -> Result<Arc<Session>, Refused> {
        if let Some(version) = header_version(headers).filter(|v| !SESSION_VERSIONS.contains(v)) {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                incoming.id.as_ref(),
                -32600,
                &format!(
                    "Bad Request: unsupported MCP-Protocol-Version {version} (supported: {}, {STATELESS_VERSION})",
                    SESSION_VERSIONS.join(", ")
                ),
            )));
        }
        if incoming.is("initialize") {
            return Ok(Arc::new(Session {
                id: uuid::Uuid::new_v4().to_string(),
                owner: owner.to_string(),
                state: Arc::default(),
                stream: Arc::default(),
                last_seen: Mutex::new(Instant::now()),
            }));
        }
        self.session(headers, owner)
    }

    /// Whether a request is within the caller's limits; the slots it holds while it is
    /// answered (its own, and a stream's for a subscription).
    fn admit(&self, owner: &str, incoming: &Incoming) -> Result<(Slot, Option<Slot>), Refused> {
        let limits = &self.options.limits;
        let id = incoming.id.as_ref().unwrap_or(&Value::Null);
        let request = self
            .requests
            .take(owner, limits.requests_per_owner)
            .ok_or_else(|| {
                too_many(
                    id,
                    &format!(
                        "this caller already has {} requests in flight; retry later",
                        limits.requests_per_owner
                    ),
                )
            })?;
        if incoming.is("tools/call") && self.hub.runs_of(owner) >= limits.tasks_per_owner {
            return Err(Box::new(too_many(
                id,
                &format!(
                    "this caller already has {} tools running; retry when one has finished",
                    limits.tasks_per_owner
                ),
            )));
        }
        let stream = match incoming.is("subscriptions/listen") {
            true => Some(
                self.streams
                    .take(owner, limits.streams_per_owner)
                    .ok_or_else(|| {
                        too_many(
                            id,
                            &format!(
                                "this caller already has {} streams open",
                                limits.streams_per_owner
                            ),
                        )
                    })?,
            ),
            false => None,
        };
        Ok((request, stream))
    }
}

/// POST: one JSON-RPC message.
async fn post(
    State(http): State<Arc<Http>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        // Past --max-body (413), or a body that could not be read: said as JSON-RPC too.
        Err(rejected) => {
            return refusal(
                rejected.status(),
                None,
                -32600,
                &format!("Invalid Request: {}", rejected.body_text()),
            );
        }
    };
    answer_post(http, headers, body)
        .await
        .unwrap_or_else(|refused| *refused)
}

async fn answer_post(
    http: Arc<Http>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refused> {
    let owner = http.caller(&headers).await?;
    let incoming = Incoming::read(&body, &headers)?;
    tracing::debug!(
        %owner,
        method = incoming.method.as_deref().unwrap_or("(response)"),
        id = ?incoming.id,
        "POST"
    );
    let session = match incoming.stateless {
        true if incoming.is_request() => {
            http.check_stateless(&headers, &incoming)?;
            None
        }
        true => None,
        false => Some(http.session_of(&headers, &incoming, &owner)?),
    };

    if !incoming.is_request() {
        // A notification, or the client's answer to a question: nothing to answer.
        let outbox = match &session {
            Some(s) => Outbox::with_standby(Sink::closed(), s.stream.clone()),
            None => Outbox::nowhere(),
        };
        let peer = http.peer(owner, session.as_deref(), outbox);
        tokio::spawn(http.hub.clone().handle(peer, incoming.text, None));
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let (request_slot, stream_slot) = http.admit(&owner, &incoming)?;
    let Incoming {
        text,
        id,
        method,
        stateless,
        ..
    } = incoming;
    let id = id.unwrap_or(Value::Null);

    let (tx, mut rx) = channel(http.options.limits.max_queued_bytes);
    let outbox = match &session {
        Some(s) => Outbox::with_standby(tx, s.stream.clone()),
        None => Outbox::new(tx),
    };
    let peer = http.peer(owner, session.as_deref(), outbox);
    let peer_id = peer.id;
    // 2026-07-28: a client that closes the request's stream before the answer cancels it (the
    // tool of a plain call is stopped). 2025-11-25 asks the opposite: a disconnect is not a
    // cancel there, the client sends notifications/cancelled.
    let cancel = stateless.then(|| CancelOnClose {
        hub: http.hub.clone(),
        peer: peer.clone(),
        id: id.clone(),
        armed: true,
    });
    let handler = AbortOnDropHandle::new(tokio::spawn(http.hub.clone().handle(peer, text, None)));

    let first = tokio::select! {
        first = rx.recv() => first,
        () = http.shutdown.cancelled() => None,
    };
    let Some(first) = first else {
        // Shutting down, or nothing holds the request's stream any more (which would be a bug).
        return Err(Box::new(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&id),
            -32603,
            "Internal error: the request ended without an answer",
        )));
    };
    let mut extra = HeaderMap::new();
    if let Some(session) = session.filter(|_| method.as_deref() == Some("initialize")) {
        // The component keeps state only for a session it agreed to.
        if !lock(&session.state).is_empty() {
            if let Ok(value) = HeaderValue::from_str(&session.id) {
                extra.insert(SESSION_ID, value);
            }
            lock(&http.sessions).insert(session.id.clone(), session);
        }
    }
    // What the component sent in the same step is queued already: it all goes out, and the
    // answer last, as the answer ends the stream (a question sent with a tasks/get's answer).
    let mut queued = std::collections::VecDeque::from([first]);
    while let Some(message) = rx.try_recv() {
        queued.push_back(message);
    }
    if let Some(at) = queued.iter().position(|m| answers(m, &id).is_some()) {
        let answer = queued.remove(at).unwrap_or_default();
        queued.push_back(answer);
    }
    let mut response = match (queued.len(), queued.front().and_then(|m| answers(m, &id))) {
        (1, Some(status)) => {
            // Only the answer: plain JSON, and a 2026-07-28 error's own status.
            let status = if stateless { status } else { StatusCode::OK };
            if let Some(mut cancel) = cancel {
                cancel.disarm();
            }
            drop((handler, request_slot));
            let answer = queued.pop_front().unwrap_or_default();
            (status, [(header::CONTENT_TYPE, "application/json")], answer).into_response()
        }
        _ => {
            let hub = http.hub.clone();
            sse(Events {
                queued,
                rx,
                until: Some(id),
                done: false,
                cancel,
                shutdown: Box::pin(http.shutdown.clone().cancelled_owned()),
                _held: Box::new((handler, request_slot, stream_slot)),
                on_close: Some(Box::new(move || hub.forget(peer_id))),
            })
        }
    };
    response.headers_mut().extend(extra);
    Ok(response)
}

/// GET: a 2025-11-25 session's stream, for messages that belong to no request.
async fn get_stream(State(http): State<Arc<Http>>, headers: HeaderMap) -> Response {
    let owner = match http.caller(&headers).await {
        Ok(owner) => owner,
        Err(refused) => return *refused,
    };
    let stateless = headers
        .get("mcp-protocol-version")
        .is_some_and(|v| v == STATELESS_VERSION);
    if stateless {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let accepts_sse = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream") || a.contains("*/*"));
    if !accepts_sse {
        return refusal(
            StatusCode::NOT_ACCEPTABLE,
            None,
            -32000,
            "Not Acceptable: a GET must accept text/event-stream",
        );
    }
    let session = match http.session(&headers, &owner) {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    let Some(slot) = http
        .streams
        .take(&owner, http.options.limits.streams_per_owner)
    else {
        return too_many(&Value::Null, "this caller has too many streams open");
    };
    let (tx, rx) = channel(http.options.limits.max_queued_bytes);
    {
        let mut stream = lock(&session.stream);
        if stream.as_ref().is_some_and(|s| !s.is_closed()) {
            return refusal(
                StatusCode::CONFLICT,
                None,
                -32000,
                "Conflict: this session's stream is already open",
            );
        }
        *stream = Some(tx);
    }
    let standby = session.stream.clone();
    let events = Events {
        queued: Default::default(),
        rx,
        until: None,
        done: false,
        cancel: None,
        shutdown: Box::pin(http.shutdown.clone().cancelled_owned()),
        _held: Box::new(slot),
        on_close: Some(Box::new(move || {
            let mut stream = lock(&standby);
            if stream.as_ref().is_some_and(|s| s.is_closed()) {
                *stream = None;
            }
        })),
    };
    sse(events)
}

/// DELETE: end a 2025-11-25 session. Its tasks stay; only the session's state and stream go.
async fn delete(State(http): State<Arc<Http>>, headers: HeaderMap) -> Response {
    let owner = match http.caller(&headers).await {
        Ok(owner) => owner,
        Err(refused) => return *refused,
    };
    if headers
        .get("mcp-protocol-version")
        .is_some_and(|v| v == STATELESS_VERSION)
    {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    match http.session(&headers, &owner) {
        Ok(_) => {
            if let Some(id) = headers.get(SESSION_ID).and_then(|h| h.to_str().ok())
                && let Some(session) = lock(&http.sessions).remove(id)
            {
                // Its GET stream ends now, though outboxes of its runs still name it.
                lock(&session.stream).take();
            }
            StatusCode::OK.into_response()
        }
        Err(refused) => *refused,
    }
}

/// The OAuth 2.0 protected resource metadata (RFC 9728) clients discover the issuer from.
async fn metadata(State(http): State<Arc<Http>>) -> Response {
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

/// The messages of one SSE response: those already read, then the channel's, until the
/// answer to `until` (a request's stream) or until the channel or the server closes (a
/// session's or a subscription's stream). Dropping it, as when the client goes away, aborts
/// the request's handler and runs `on_close`.
struct Events {
    queued: std::collections::VecDeque<String>,
    rx: Receiver,
    until: Option<Value>,
    /// The answer to `until` went out.
    done: bool,
    /// Cancels the request if the stream closes before its answer.
    cancel: Option<CancelOnClose>,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    _held: Box<dyn Send>,
    on_close: Option<Box<dyn FnOnce() + Send>>,
}

impl Stream for Events {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        let message = match this.queued.pop_front() {
            Some(message) => message,
            None if this.done => return Poll::Ready(None),
            None => match this.rx.poll_recv(cx) {
                Poll::Ready(Some(message)) => message,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            },
        };
        if let Some(id) = &this.until {
            this.done = answers(&message, id).is_some();
            if this.done
                && let Some(cancel) = this.cancel.as_mut()
            {
                cancel.disarm();
            }
        }
        Poll::Ready(Some(Ok(Event::default().data(message))))
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        if let Some(on_close) = self.on_close.take() {
            on_close();
        }
    }
}

/// Cancels a stateless request when dropped: its HTTP exchange ended before the answer went out
/// (the client went away). Forgotten once the answer is on its way.
struct CancelOnClose {
    hub: Arc<Hub>,
    peer: Arc<Peer>,
    id: Value,
    armed: bool,
}

impl CancelOnClose {
    /// The answer is on its way: dropping no longer cancels.
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for CancelOnClose {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // The component decides what a cancel stops, as for stdio's notifications/cancelled.
        let cancelled = json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": { "requestId": self.id, "reason": "the client closed the request's stream" }
        });
        tracing::debug!(id = %self.id, "a stateless request's stream closed before its answer");
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(
                self.hub
                    .clone()
                    .handle(self.peer.clone(), cancelled.to_string(), None),
            );
        }
    }
}

fn sse(events: Events) -> Response {
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    // Proxies such as nginx would otherwise hold events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Whether `message` is the answer to request `id`, and if so the HTTP status that a stateless
/// request's answer goes with (2026-07-28 maps some errors to statuses).
fn answers(message: &str, id: &Value) -> Option<StatusCode> {
    #[derive(serde::Deserialize)]
    struct Answer {
        id: Option<Value>,
        method: Option<serde::de::IgnoredAny>,
        result: Option<serde::de::IgnoredAny>,
        error: Option<ErrorCode>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorCode {
        code: i64,
    }
    let answer: Answer = serde_json::from_str(message).ok()?;
    if answer.method.is_some() || answer.id.as_ref() != Some(id) {
        return None;
    }
    match (answer.result, answer.error) {
        (Some(_), _) => Some(StatusCode::OK),
        (None, Some(e)) => Some(match e.code {
            -32022..=-32020 => StatusCode::BAD_REQUEST,
            -32601 => StatusCode::NOT_FOUND,
            _ => StatusCode::OK,
        }),
        (None, None) => None,
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

/// 403 for a header (`Origin`, `Host`) that names another site.
fn forbidden(header: &str, value: &str) -> Refused {
    Box::new(refusal(
        StatusCode::FORBIDDEN,
        None,
        -32000,
        &format!("Forbidden: {header} {value} is not allowed"),
    ))
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
fn metadata_url(resource: &str) -> String {
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

    #[test]
    fn answers_know_their_request() {
        let id = json!(7);
        assert_eq!(
            answers(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#, &id),
            Some(StatusCode::OK)
        );
        assert_eq!(
            answers(
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":""}}"#,
                &id
            ),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            answers(
                r#"{"jsonrpc":"2.0","id":7,"method":"elicitation/create"}"#,
                &id
            ),
            None
        );
        assert_eq!(
            answers(r#"{"jsonrpc":"2.0","id":8,"result":{}}"#, &id),
            None
        );
    }
}
