//! Where one client's messages go: a bounded queue per client stream, which every transport
//! writes out and the hub fills, so that messages never interleave whichever task produced them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::types::{MessageKind, Outgoing};

impl Outgoing {
    /// A response the host writes itself (a refusal, a line it could not read), to the request
    /// `id`, or to none where the id could not be read.
    pub(crate) fn host_response(id: Option<&Value>, message: String) -> Self {
        Self {
            message,
            kind: MessageKind::Response,
            answers: id.map(Value::to_string),
            http_status: 200,
            // The host answers only what the component could not: a request it refused.
            method: None,
            era: None,
            is_error: true,
        }
    }

    /// Whether this is the answer to the request whose id is `id` (as JSON text).
    pub(crate) fn answers(&self, id: &str) -> bool {
        self.kind == MessageKind::Response && self.answers.as_deref() == Some(id)
    }
}

/// A stream a message can be written to later, if one is open (an HTTP session's GET stream).
pub(crate) type Standby = Arc<Mutex<Option<Sink>>>;

/// Where a message goes that no stream of this process can take: to the hosts sharing the store,
/// one of which may hold the client's stream (a 2025-11-25 session's GET stream).
pub(crate) type Relay = Arc<dyn Fn(Outgoing) + Send + Sync>;

/// The sending end of one client stream's queue: a stdio connection's, or one HTTP stream's.
/// Beyond `limit` bytes not yet taken by the stream's writer (a client that does not read),
/// notifications are dropped, logged and counted; responses and the server's requests are always
/// queued, and they are bounded by the requests in flight.
#[derive(Clone)]
pub(crate) struct Sink {
    tx: mpsc::UnboundedSender<Outgoing>,
    queue: Arc<Queue>,
}

/// The receiving end of a [`Sink`]: what it yields no longer counts against the bound.
pub(crate) struct Receiver {
    rx: mpsc::UnboundedReceiver<Outgoing>,
    queue: Arc<Queue>,
}

/// What a stream's writer has yet to take, and the bound beyond which notifications are dropped.
struct Queue {
    bytes: AtomicUsize,
    limit: usize,
    dropped: AtomicU64,
}

/// A queue of at most `limit` bytes of notifications (see [`Sink`]).
pub(crate) fn channel(limit: usize) -> (Sink, Receiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = Arc::new(Queue {
        bytes: AtomicUsize::new(0),
        limit,
        dropped: AtomicU64::new(0),
    });
    (
        Sink {
            tx,
            queue: queue.clone(),
        },
        Receiver { rx, queue },
    )
}

/// Why a [`Sink`] did not take a message.
enum Refused {
    /// Its receiver is gone: the message is handed back.
    Closed(Outgoing),
    /// A notification beyond the bound: dropped.
    Dropped,
}

impl Sink {
    /// A sink whose receiver is gone: what is pushed to it is handed back.
    pub(crate) fn closed() -> Self {
        channel(usize::MAX).0
    }

    /// Queue one message, unless it is a notification beyond the bound or the stream is gone.
    fn push(&self, message: Outgoing) -> Result<(), Refused> {
        let queue = &self.queue;
        let queued = queue.bytes.load(Ordering::Relaxed);
        let notification = message.kind == MessageKind::Notification;
        if notification && queued.saturating_add(message.message.len()) > queue.limit {
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
            return Err(Refused::Dropped);
        }
        let len = message.message.len();
        queue.bytes.fetch_add(len, Ordering::Relaxed);
        self.tx
            .send(message)
            .map_err(|mpsc::error::SendError(message)| {
                queue.bytes.fetch_sub(len, Ordering::Relaxed);
                Refused::Closed(message)
            })
    }

    /// Whether the receiver is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl Receiver {
    fn taken(&self, message: Option<Outgoing>) -> Option<Outgoing> {
        if let Some(message) = &message {
            self.queue
                .bytes
                .fetch_sub(message.message.len(), Ordering::Relaxed);
        }
        message
    }

    /// The next message, or `None` once every sink is dropped and the queue is empty.
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        let message = self.rx.recv().await;
        self.taken(message)
    }

    /// The next message if one is queued now.
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        let message = self.rx.try_recv().ok();
        self.taken(message)
    }

    /// [`Receiver::recv`] for a hand-written stream.
    pub(crate) fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Option<Outgoing>> {
        self.rx.poll_recv(cx).map(|message| self.taken(message))
    }
}

/// Where one client's messages go. Every message goes through one channel to one writer, so
/// messages never interleave whichever task produced them. When that channel has closed (an
/// HTTP response that is complete), messages go to the standby stream, if one is open.
#[derive(Clone)]
pub(crate) struct Outbox {
    to: Sink,
    standby: Option<Standby>,
    elsewhere: Option<Relay>,
}

impl Outbox {
    /// Messages go to `to`, and nowhere once it has closed.
    pub(crate) fn new(to: Sink) -> Self {
        Self {
            to,
            standby: None,
            elsewhere: None,
        }
    }

    /// Messages go to `to`, and to whatever `standby` holds once `to` has closed.
    pub(crate) fn with_standby(to: Sink, standby: Standby) -> Self {
        Self {
            to,
            standby: Some(standby),
            elsewhere: None,
        }
    }

    /// What no stream here takes (neither `to` nor the standby stream) goes to `relay`.
    pub(crate) fn relaying(mut self, relay: Option<Relay>) -> Self {
        self.elsewhere = relay;
        self
    }

    /// An outbox whose messages go nowhere: for work that answers no client (the sweep of a
    /// server with many clients).
    pub(crate) fn nowhere() -> Self {
        Self::new(Sink::closed())
    }

    /// Queue one message.
    pub(crate) fn send(&self, message: Outgoing) {
        let message = match self.to.push(message) {
            Ok(()) | Err(Refused::Dropped) => return,
            Err(Refused::Closed(message)) => message,
        };
        let standby = self
            .standby
            .as_ref()
            .and_then(|s| crate::util::lock(s).clone());
        let message = match standby {
            Some(sink) => match sink.push(message) {
                Ok(()) | Err(Refused::Dropped) => return,
                Err(Refused::Closed(message)) => message,
            },
            None => message,
        };
        self.relay_or_drop(message)
    }

    /// No stream here is open: another host may hold the client's stream; else the message is
    /// one nobody can receive (requests of the component that wait for an answer are sent again
    /// when the client asks: tasks/result).
    fn relay_or_drop(&self, message: Outgoing) {
        match &self.elsewhere {
            Some(relay) => relay(message),
            None => tracing::debug!("no stream is open for a message; dropped"),
        }
    }
}
