//! 2025-11-25 sessions: opened by `initialize`, named by `Mcp-Session-Id`, forgotten when idle
//! or on DELETE; a session's GET stream carries what belongs to no request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};

use super::incoming::{Incoming, header_version};
use super::replay::Replay;
use super::{Http, Refused, SESSION_ID, refusal};
use crate::outbox::Standby;
use crate::util::lock;

/// A session unused this long, with no stream open, is forgotten.
const SESSION_IDLE: Duration = Duration::from_secs(3600);

/// A 2025-11-25 session: whose it is, the component's state for it, its GET stream, and its
/// POST streams kept for resuming.
pub(super) struct Session {
    /// Its `Mcp-Session-Id`.
    pub(super) id: String,
    pub(super) owner: String,
    pub(super) state: Arc<Mutex<String>>,
    pub(super) stream: Standby,
    pub(super) last_seen: Mutex<Instant>,
    /// Its POST streams, kept for a client to resume (SEP-1699).
    pub(super) replay: Replay,
}

impl Http {
    /// Forget idle sessions, and keep the JWKS fresh.
    pub(super) async fn upkeep(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            lock(&self.sessions).retain(|_, s| {
                s.replay.prune();
                lock(&s.last_seen).elapsed() < SESSION_IDLE || lock(&s.stream).is_some()
            });
            self.auth.refresh().await;
        }
    }

    /// The session a 2025-11-25 request names, if it exists and is the caller's; a caller never
    /// learns whether another owner's session exists.
    pub(super) fn session(
        &self,
        headers: &HeaderMap,
        owner: &str,
    ) -> Result<Arc<Session>, Refused> {
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

    /// A 2025-11-25 message's session: a new one (not yet registered) for `initialize`, else
    /// the one its `Mcp-Session-Id` names.
    pub(super) fn session_of(
        &self,
        headers: &HeaderMap,
        incoming: &Incoming,
        owner: &str,
    ) -> Result<Arc<Session>, Refused> {
        let versions = &self.versions;
        if let Some(version) =
            header_version(headers).filter(|v| !versions.session.iter().any(|s| s == v))
        {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                incoming.id.as_ref(),
                -32600,
                &format!(
                    "Bad Request: unsupported MCP-Protocol-Version {version} (supported: {}, {})",
                    versions.session.join(", "),
                    versions.stateless
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
                replay: Replay::default(),
            }));
        }
        self.session(headers, owner)
    }
}
