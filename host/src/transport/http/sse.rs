//! Server-sent events: a request's stream that ends with its answer, and the long-lived streams
//! of a session or a subscription; a stateless request cancelled when its stream closes early.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_stream::Stream;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::hub::{Hub, Peer};
use crate::outbox::Receiver;
use crate::types::Outgoing;

/// The messages of one SSE response: those already read, then the channel's, until the
/// answer to `until` or until the channel or the server closes (a subscription's stream, which
/// no answer ends while it lasts). Dropping it, as when the client goes away, aborts the
/// request's handler and runs `on_close`.
pub(super) struct Events {
    pub(super) queued: std::collections::VecDeque<Outgoing>,
    pub(super) rx: Receiver,
    /// The id (JSON text) of the request whose answer ends the stream.
    pub(super) until: String,
    /// The answer to `until` went out.
    pub(super) done: bool,
    /// Cancels the request if the stream closes before its answer.
    pub(super) cancel: Option<CancelOnClose>,
    pub(super) shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    pub(super) _held: Box<dyn Send>,
    pub(super) on_close: Option<Box<dyn FnOnce() + Send>>,
}

impl Stream for Events {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // Stopping: what is already queued still goes out (a waiting request's stopping error, a
        // subscription's completion), then the stream ends.
        let stopping = this.shutdown.as_mut().poll(cx).is_ready();
        let message = match this.queued.pop_front() {
            Some(message) => message,
            None if this.done => return Poll::Ready(None),
            None => match this.rx.poll_recv(cx) {
                Poll::Ready(Some(message)) => message,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending if stopping => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            },
        };
        this.done = message.answers(&this.until);
        if this.done
            && let Some(cancel) = this.cancel.as_mut()
        {
            cancel.disarm();
        }
        Poll::Ready(Some(Ok(Event::default().data(message.message))))
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
pub(super) struct CancelOnClose {
    pub(super) hub: Arc<Hub>,
    pub(super) peer: Arc<Peer>,
    pub(super) id: Value,
    pub(super) armed: bool,
}

impl CancelOnClose {
    /// The answer is on its way: dropping no longer cancels.
    pub(super) fn disarm(&mut self) {
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

pub(super) fn sse(events: Events) -> Response {
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    // Proxies such as nginx would otherwise hold events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
