//! 2025-11-25 sessions: opened by `initialize`, named by `Mcp-Session-Id`, forgotten when idle
//! or on DELETE; a session's GET stream carries what belongs to no request.
//!
//! Where the store keeps sessions ([`TaskStore::sessions`](crate::TaskStore::sessions)), every
//! host sharing it serves each of them: a request is checked against the stored session (its
//! owner, its state as the component last set it), and a message for the session's stream that
//! no stream here takes is relayed through the store to the host that holds it. Each host keeps
//! a copy of the sessions it served, with what cannot be shared: its streams.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};

use super::incoming::{Incoming, header_version};
use super::replay::Replay;
use super::{Http, Refused, SESSION_ID, refusal};
use crate::outbox::{Outbox, Relay, Sink, Standby};
use crate::store::{Relayed, SessionRecord};
use crate::types::MessageKind;
use crate::util::{lock, now_ms};

/// A session unused this long, with no stream open, is forgotten.
const SESSION_IDLE: Duration = Duration::from_secs(3600);
/// How often a session's use is written to the store: its idle timeout is counted from there.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

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
    /// The state as the store last had it, and when this host last wrote that it was used.
    stored: Mutex<(String, Instant)>,
}

impl Session {
    fn new(id: String, owner: String, state: String) -> Self {
        Self {
            id,
            owner,
            state: Arc::new(Mutex::new(state.clone())),
            stream: Arc::default(),
            last_seen: Mutex::new(Instant::now()),
            replay: Replay::default(),
            stored: Mutex::new((state, Instant::now())),
        }
    }
}

/// Refused: the store could not be asked about the session.
fn store_down(e: impl std::fmt::Display) -> Refused {
    tracing::error!("the task store could not be reached for a session: {e}");
    Box::new(refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        -32000,
        "Service unavailable: the task store cannot be reached; try again",
    ))
}

fn not_found() -> Refused {
    Box::new(refusal(
        StatusCode::NOT_FOUND,
        None,
        -32001,
        "Session not found: initialize again",
    ))
}

impl Http {
    /// Forget idle sessions (and, where the store keeps them, those ended on another host),
    /// keep the JWKS fresh.
    pub(super) async fn upkeep(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let kept: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
            for session in kept {
                session.replay.prune();
                let open = lock(&session.stream)
                    .as_ref()
                    .is_some_and(|s| !s.is_closed());
                let idle = lock(&session.last_seen).elapsed() >= SESSION_IDLE;
                let mut forget = idle && !open;
                if let Some(store) = self.store.sessions() {
                    match store.load(&session.id).await {
                        // Ended elsewhere (DELETE, or idle everywhere): its stream here ends too.
                        Ok(None) => forget = true,
                        // A stream open here is use: the store keeps the session.
                        Ok(Some(_)) if open => {
                            let _ = store.touch(&session.id, now_ms()).await;
                        }
                        _ => {}
                    }
                }
                if forget {
                    self.forget_session(&session.id);
                }
            }
            if let Some(store) = self.store.sessions() {
                let before = now_ms().saturating_sub(SESSION_IDLE.as_millis() as u64);
                if let Err(e) = store.forget_idle(before).await {
                    tracing::warn!("idle sessions could not be forgotten: {e}");
                }
            }
            self.gate.refresh().await;
        }
    }

    /// End a session (DELETE): here at once, and on every host sharing the store, whose next
    /// request naming it, or whose upkeep, finds it gone.
    pub(super) async fn end_session(&self, id: &str) -> Result<(), Refused> {
        self.forget_session(id);
        match self.store.sessions() {
            Some(store) => store.delete(id).await.map_err(store_down),
            None => Ok(()),
        }
    }

    /// Forget a session here; its GET stream ends.
    pub(super) fn forget_session(&self, id: &str) {
        if let Some(session) = lock(&self.sessions).remove(id) {
            // Outboxes of its runs still name it: they find no stream.
            lock(&session.stream).take();
        }
    }

    /// The session a 2025-11-25 request names, if it exists and is the caller's; a caller never
    /// learns whether another owner's session exists.
    pub(super) async fn session(
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
        let here = lock(&self.sessions).get(id).cloned();
        let Some(store) = self.store.sessions() else {
            return match here {
                Some(session) if session.owner == owner => {
                    *lock(&session.last_seen) = Instant::now();
                    Ok(session)
                }
                _ => Err(not_found()),
            };
        };
        let Some(record) = store.load(id).await.map_err(store_down)? else {
            self.forget_session(id);
            return Err(not_found());
        };
        if record.owner != owner {
            return Err(not_found());
        }
        let session = match here {
            Some(session) => session,
            None => {
                let session = Arc::new(Session::new(
                    record.id.clone(),
                    record.owner.clone(),
                    record.state.clone(),
                ));
                lock(&self.sessions)
                    .entry(record.id.clone())
                    .or_insert(session)
                    .clone()
            }
        };
        *lock(&session.last_seen) = Instant::now();
        let touch = {
            let mut stored = lock(&session.stored);
            // Changed on another host (a logging level set there): this host's copy follows.
            if stored.0 != record.state {
                *lock(&session.state) = record.state.clone();
                stored.0 = record.state;
            }
            let due = stored.1.elapsed() >= TOUCH_EVERY;
            if due {
                stored.1 = Instant::now();
            }
            due
        };
        if touch && let Err(e) = store.touch(id, now_ms()).await {
            tracing::warn!("a session's use could not be noted: {e}");
        }
        Ok(session)
    }

    /// A 2025-11-25 message's session: a new one (not yet registered) for `initialize`, else
    /// the one its `Mcp-Session-Id` names.
    pub(super) async fn session_of(
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
            return Ok(Arc::new(Session::new(
                uuid::Uuid::new_v4().to_string(),
                owner.to_string(),
                String::new(),
            )));
        }
        self.session(headers, owner).await
    }

    /// After a request of the session was answered: a session the component agreed to open is
    /// registered (and stored), and a state the component changed (a logging level) is stored,
    /// for every host. Whether the session is registered.
    pub(super) async fn keep_session(&self, session: &Arc<Session>, opening: bool) -> bool {
        let state = lock(&session.state).clone();
        // The component keeps state only for a session it agreed to.
        if state.is_empty() {
            return false;
        }
        if opening {
            lock(&self.sessions).insert(session.id.clone(), session.clone());
        }
        if lock(&session.stored).0 == state && !opening {
            return true;
        }
        if let Some(store) = self.store.sessions() {
            let record = SessionRecord {
                id: session.id.clone(),
                owner: session.owner.clone(),
                state: state.clone(),
                seen_at: now_ms(),
            };
            if let Err(e) = store.save(&record).await {
                tracing::error!("a session could not be stored: {e}");
                if opening {
                    self.forget_session(&session.id);
                    return false;
                }
            }
        }
        *lock(&session.stored) = (state, Instant::now());
        true
    }

    /// Where a request of this session sends what the component says: `to`, else the session's
    /// GET stream here, else (where the store relays) the hosts sharing the store.
    pub(super) fn session_outbox(&self, to: Sink, session: &Session) -> Outbox {
        Outbox::with_standby(to, session.stream.clone()).relaying(self.relay_for(&session.id))
    }

    fn relay_for(&self, session: &str) -> Option<Relay> {
        if !self.relaying {
            return None;
        }
        let store = self.store.clone();
        let session = session.to_string();
        Some(Arc::new(move |message| {
            // An answer belongs to the request's own stream, gone now: nobody else takes it.
            if message.kind == MessageKind::Response {
                return;
            }
            let relayed = Relayed {
                session: session.clone(),
                request: message.kind == MessageKind::Request,
                message: message.message,
            };
            let store = store.clone();
            tokio::spawn(async move {
                if let Some(sessions) = store.sessions()
                    && let Err(e) = sessions.relay(&relayed).await
                {
                    tracing::warn!("a message for a session's stream could not be relayed: {e}");
                }
            });
        }))
    }

    /// Hand each message relayed by a host sharing the store to this host's stream of its
    /// session, if it holds that stream.
    pub(super) async fn deliver_relayed(
        self: Arc<Self>,
        mut relayed: tokio::sync::mpsc::Receiver<Relayed>,
    ) {
        while let Some(message) = relayed.recv().await {
            let stream = lock(&self.sessions)
                .get(&message.session)
                .and_then(|s| lock(&s.stream).clone());
            if let Some(stream) = stream {
                Outbox::new(stream).send(message.outgoing());
            }
        }
    }
}
