//! How messages reach clients: newline-delimited JSON-RPC on a byte stream (`stdio`), and MCP's
//! Streamable HTTP ([`http`]). Both hand each incoming message to the same hub; only where the
//! answers go differs, and that is an `Outbox`.

pub mod http;
pub(crate) mod stdio;

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// A stream a message can be written to later, if one is open (an HTTP session's GET stream).
pub(crate) type Standby = Arc<Mutex<Option<mpsc::UnboundedSender<String>>>>;

/// Where one client's messages go. Every message goes through one channel to one writer, so
/// messages never interleave whichever task produced them. When that channel has closed (an
/// HTTP response that is complete), messages go to the standby stream, if one is open.
#[derive(Clone)]
pub(crate) struct Outbox {
    to: mpsc::UnboundedSender<String>,
    standby: Option<Standby>,
}

impl Outbox {
    /// Messages go to `to`, and nowhere once it has closed.
    pub(crate) fn new(to: mpsc::UnboundedSender<String>) -> Self {
        Self { to, standby: None }
    }

    /// Messages go to `to`, and to whatever `standby` holds once `to` has closed.
    pub(crate) fn with_standby(to: mpsc::UnboundedSender<String>, standby: Standby) -> Self {
        Self {
            to,
            standby: Some(standby),
        }
    }

    /// An outbox whose messages go nowhere: for work that answers no client (the sweep of a
    /// server with many clients).
    pub(crate) fn nowhere() -> Self {
        Self::new(mpsc::unbounded_channel().0)
    }

    /// Queue one message (one JSON text without a newline).
    pub(crate) fn send(&self, message: String) {
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
