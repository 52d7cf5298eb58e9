//! How messages reach clients: newline-delimited JSON-RPC on a byte stream (`stdio`), and MCP's
//! Streamable HTTP ([`http`]). Both hand each incoming message to the same hub; only where the
//! answers go differs, and that is an `Outbox`.

pub mod http;
pub(crate) mod stdio;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// What a server refuses beyond, per caller: an HTTP owner, or the one client of a stdio
/// connection. Each refusal is a JSON-RPC error that says which limit was reached.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest message: an HTTP request body (413 beyond), a line on stdio (answered with
    /// -32600 and dropped).
    pub max_body_bytes: usize,
    /// Requests of one caller being answered at once. HTTP: waiting ones included (429 beyond).
    /// Stdio: the next line is read only once one of them is answered (back-pressure); a
    /// `tasks/result` that waits gives its place back and takes one of as many places for
    /// waiting requests (-32000 beyond).
    pub requests_per_owner: usize,
    /// Long-lived SSE streams of one owner (HTTP): session GET streams and
    /// `subscriptions/listen`.
    pub streams_per_owner: usize,
    /// Tools running here for one caller's calls, tasks and plain calls alike (HTTP 429, or a
    /// -32000 error on stdio, beyond).
    pub tasks_per_owner: usize,
    /// Bytes queued for a stdio client that does not read. Beyond them, notifications are
    /// dropped (logged and counted); responses and the server's requests are always queued,
    /// and they are bounded by the requests in flight.
    pub max_queued_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            requests_per_owner: 64,
            streams_per_owner: 16,
            tasks_per_owner: 256,
            max_queued_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A stream a message can be written to later, if one is open (an HTTP session's GET stream).
pub(crate) type Standby = Arc<Mutex<Option<mpsc::UnboundedSender<String>>>>;

/// Where one client's messages go. Every message goes through one channel to one writer, so
/// messages never interleave whichever task produced them. When that channel has closed (an
/// HTTP response that is complete), messages go to the standby stream, if one is open.
#[derive(Clone)]
pub(crate) struct Outbox {
    to: mpsc::UnboundedSender<String>,
    standby: Option<Standby>,
    queue: Option<Arc<Queue>>,
}

/// What an outbox's writer has yet to write, and the bound beyond which notifications are
/// dropped.
pub(crate) struct Queue {
    bytes: AtomicUsize,
    limit: usize,
    dropped: AtomicU64,
}

impl Queue {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            bytes: AtomicUsize::new(0),
            limit,
            dropped: AtomicU64::new(0),
        })
    }

    /// The writer has written a message of `len` bytes.
    pub(crate) fn written(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::Relaxed);
    }
}

impl Outbox {
    /// Messages go to `to`, and nowhere once it has closed.
    pub(crate) fn new(to: mpsc::UnboundedSender<String>) -> Self {
        Self {
            to,
            standby: None,
            queue: None,
        }
    }

    /// Messages go to `to`, whose writer reports to `queue` what it has written.
    pub(crate) fn bounded(to: mpsc::UnboundedSender<String>, queue: Arc<Queue>) -> Self {
        Self {
            to,
            standby: None,
            queue: Some(queue),
        }
    }

    /// Messages go to `to`, and to whatever `standby` holds once `to` has closed.
    pub(crate) fn with_standby(to: mpsc::UnboundedSender<String>, standby: Standby) -> Self {
        Self {
            to,
            standby: Some(standby),
            queue: None,
        }
    }

    /// An outbox whose messages go nowhere: for work that answers no client (the sweep of a
    /// server with many clients).
    pub(crate) fn nowhere() -> Self {
        Self::new(mpsc::unbounded_channel().0)
    }

    /// Queue one message (one JSON text without a newline).
    pub(crate) fn send(&self, message: String) {
        if let Some(queue) = &self.queue {
            let queued = queue.bytes.load(Ordering::Relaxed);
            // Every notification the component and the host write starts so (serde_json puts
            // `jsonrpc` first, and `id` after `method` never comes: notifications have none).
            let notification = message.starts_with(r#"{"jsonrpc":"2.0","method":"#);
            if notification && queued + message.len() > queue.limit {
                let dropped = queue.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // Said once, then at every power of two, so a flood does not flood the log too.
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped,
                        queued,
                        limit = queue.limit,
                        "the client is not reading: notifications dropped"
                    );
                }
                return;
            }
            queue.bytes.fetch_add(message.len(), Ordering::Relaxed);
        }
        let Err(mpsc::error::SendError(message)) = self.to.send(message) else {
            return;
        };
        let standby = self
            .standby
            .as_ref()
            .and_then(|s| crate::server::lock(s).clone());
        // No stream open: a notification nobody can receive. Requests of the component that
        // wait for an answer are sent again when the client asks (tasks/result).
        match standby {
            Some(tx) if tx.send(message).is_ok() => {}
            _ => tracing::debug!("no stream is open for a message; dropped"),
        }
    }
}
