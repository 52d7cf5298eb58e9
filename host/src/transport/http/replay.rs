//! Resumable 2025-11-25 streams (SEP-1699). A session's POST and GET streams are numbered; its first event
//! is a priming event (an ID, no data, and a `retry` field) and every later one carries the ID
//! `STREAM-SEQ`. What the stream carries is kept in its log, not only written to the connection,
//! so a client whose connection broke sends GET with `Last-Event-ID` and gets everything after
//! that event, then the rest as it comes, ending with the answer; its request runs on meanwhile.
//!
//! Bounds: a log keeps notifications up to the stream's queue limit (`max_queued_bytes`; beyond
//! it they are dropped, never responses or the server's requests), and is kept until its answer
//! has reached a reader, or until nobody has read it for [`KEPT_FOR`]: then its request ends as
//! if its client had gone for good. A GET stream's log, which no answer ends, keeps the last
//! `max_queued_bytes` of what it carried (its oldest events go first), until nobody has read it
//! for [`KEPT_FOR`].

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio_stream::Stream;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::outbox::Receiver;
use crate::types::{MessageKind, Outgoing};
use crate::util::lock;

/// How long a client waits before it reconnects to a stream that closed (the priming event's
/// `retry` field).
pub(super) const RETRY: Duration = Duration::from_secs(1);

/// How often an idle stream gets a comment, so that proxies do not take it for dead.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a stream that nobody reads is kept for its client to resume: its request runs on
/// that long, then ends.
pub(super) const KEPT_FOR: Duration = Duration::from_secs(300);

/// The resumable streams of one session, by number: its POST streams and its GET streams.
#[derive(Default)]
pub(super) struct Replay {
    streams: Mutex<HashMap<u64, Arc<StreamLog>>>,
    next: AtomicU64,
    /// The log of the session's GET stream now (the last one opened).
    standing: Mutex<Option<Arc<StreamLog>>>,
}

impl Replay {
    /// A new stream for the request whose id is `until` (JSON text): its answer ends it.
    pub(super) fn open(&self, until: String, limit: usize) -> Arc<StreamLog> {
        self.new_log(Some(until), limit)
    }

    /// A new log for the session's GET stream, unless the current one has a reader (`None`).
    /// It keeps the last `limit` bytes of what it carried, for a client to resume after a
    /// break; the log it replaces ends (once its queue's sender is dropped).
    pub(super) fn open_standing(&self, limit: usize) -> Option<Arc<StreamLog>> {
        let mut standing = lock(&self.standing);
        if standing
            .as_ref()
            .is_some_and(|log| lock(&log.inner).readers > 0)
        {
            return None;
        }
        let log = self.new_log(None, limit);
        *standing = Some(log.clone());
        Some(log)
    }

    fn new_log(&self, until: Option<String>, limit: usize) -> Arc<StreamLog> {
        let trims = until.is_none();
        let number = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let log = Arc::new(StreamLog {
            number,
            until: until.unwrap_or_default(),
            inner: Mutex::new(Inner {
                events: VecDeque::new(),
                first: 1,
                bytes: 0,
                limit,
                trims,
                ended: false,
                delivered: false,
                readers: 0,
                unread_since: Instant::now(),
                wakers: Vec::new(),
            }),
        });
        lock(&self.streams).insert(number, log.clone());
        log
    }

    /// The stream a `Last-Event-ID` names, and the sequence number to resume after.
    pub(super) fn resume(&self, last_event_id: &str) -> Option<(Arc<StreamLog>, u64)> {
        let (number, seq) = last_event_id.split_once('-')?;
        let log = lock(&self.streams).get(&number.parse().ok()?)?.clone();
        Some((log, seq.parse().ok()?))
    }

    /// Forget the streams whose answer reached a reader, or that nobody read for [`KEPT_FOR`].
    pub(super) fn prune(&self) {
        lock(&self.streams).retain(|_, log| {
            let inner = lock(&log.inner);
            !inner.delivered && (inner.readers > 0 || inner.unread_since.elapsed() < KEPT_FOR)
        });
    }
}

/// What one stream carried, in order: event `n` (from 1) is `events[n - first]`; 0 is its
/// priming.
pub(super) struct StreamLog {
    number: u64,
    /// The id (JSON text) of the request whose answer ends the stream; empty for a GET stream,
    /// which no answer ends.
    until: String,
    inner: Mutex<Inner>,
}

struct Inner {
    events: VecDeque<Outgoing>,
    /// The number of `events[0]`: a GET stream's log forgets its oldest events.
    first: u64,
    /// Bytes kept (of notifications only, for a POST stream's log), and the most that may be.
    bytes: usize,
    limit: usize,
    /// Whether the oldest events make room for new ones (a GET stream's log), rather than new
    /// notifications being dropped (a POST stream's, whose answer must stay).
    trims: bool,
    /// Nothing more will come (the answer is in, or the request ended).
    ended: bool,
    /// The answer went out to a reader.
    delivered: bool,
    readers: usize,
    /// Since when nobody reads it (meaningful while `readers` is 0).
    unread_since: Instant,
    wakers: Vec<Waker>,
}

impl StreamLog {
    fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.number)
    }

    /// Keep a message, unless it is a notification beyond the bound (a GET stream's log
    /// forgets its oldest events instead).
    pub(super) fn push(&self, message: Outgoing) {
        let mut inner = lock(&self.inner);
        if inner.trims {
            inner.bytes += message.message.len();
            inner.events.push_back(message);
            while inner.bytes > inner.limit && inner.events.len() > 1 {
                if let Some(old) = inner.events.pop_front() {
                    inner.bytes -= old.message.len();
                    inner.first += 1;
                }
            }
            inner.wakers.drain(..).for_each(Waker::wake);
            return;
        }
        if message.kind == MessageKind::Notification {
            if inner.bytes.saturating_add(message.message.len()) > inner.limit {
                tracing::debug!("a resumable stream's log is full: a notification dropped");
                return;
            }
            inner.bytes += message.message.len();
        }
        inner.events.push_back(message);
        inner.wakers.drain(..).for_each(Waker::wake);
    }

    fn end(&self) {
        let mut inner = lock(&self.inner);
        inner.ended = true;
        inner.wakers.drain(..).for_each(Waker::wake);
    }

    /// Completes once nobody has read the stream for [`KEPT_FOR`].
    async fn abandoned(&self) {
        loop {
            let left = {
                let inner = lock(&self.inner);
                match inner.readers {
                    0 => KEPT_FOR.saturating_sub(inner.unread_since.elapsed()),
                    _ => KEPT_FOR,
                }
            };
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.max(Duration::from_secs(1))).await;
        }
    }
}

/// Keep what the request's queue yields in `log` until its answer (or until nobody has read it
/// for [`KEPT_FOR`]); `held` (the request's handler and its place) lives as long, and `ended`
/// runs after.
pub(super) async fn pump(
    log: Arc<StreamLog>,
    mut rx: Receiver,
    held: Box<dyn Send>,
    ended: Box<dyn FnOnce() + Send>,
) {
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(message) => {
                    let answer = message.answers(&log.until);
                    log.push(message);
                    if answer {
                        break;
                    }
                }
                None => break,
            },
            () = log.abandoned() => {
                tracing::debug!(stream = log.number, "a resumable stream nobody read was dropped");
                break;
            }
        }
    }
    log.end();
    drop(held);
    ended();
}

/// A connection reading a stream's log from one event on: the stream's own (priming it first),
/// or a GET that resumes it. Ends after the answer, or at shutdown once nothing is waiting.
pub(super) struct Reader {
    log: Arc<StreamLog>,
    /// The next event to send; 0 sends the priming event first.
    next: u64,
    done: bool,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    /// When the server closes the stream before the answer, for the client to resume it.
    close: Option<Pin<Box<tokio::time::Sleep>>>,
    keep_alive: tokio::time::Interval,
    _held: Box<dyn Send>,
}

impl Reader {
    /// Read `log` from event `from` (0: prime the stream first).
    pub(super) fn new(
        log: Arc<StreamLog>,
        from: u64,
        shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
        held: Box<dyn Send>,
    ) -> Self {
        lock(&log.inner).readers += 1;
        Self {
            log,
            next: from,
            done: false,
            shutdown,
            close: None,
            keep_alive: tokio::time::interval_at(
                tokio::time::Instant::now() + KEEP_ALIVE,
                KEEP_ALIVE,
            ),
            _held: held,
        }
    }

    /// The stream as an SSE response. Written here rather than with axum's `Sse`, which cannot
    /// send the priming event's empty `data` field.
    pub(super) fn into_response(self) -> Response {
        let mut response = Body::from_stream(self).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // Proxies such as nginx would otherwise hold events back.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }

    /// Close the stream this long after it opens if the answer has not gone out by then (the
    /// tool's `close_stream_after_ms`); the request runs on, and the client resumes.
    pub(super) fn closing_after(mut self, after: Option<Duration>) -> Self {
        self.close = after.map(|after| Box::pin(tokio::time::sleep(after)));
        self
    }
}

/// One SSE event: its ID, and its data (a JSON-RPC message, which has no line breaks; any are
/// split across `data:` lines all the same).
fn event(id: &str, data: &str) -> Bytes {
    let mut text = format!("id: {id}\n");
    for line in data.split('\n') {
        text.push_str("data: ");
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    Bytes::from(text)
}

impl Stream for Reader {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if this.next == 0 {
            this.next = 1;
            // The priming event: an ID to resume from, no data, and when to come back.
            let priming = format!(
                "id: {}\nretry: {}\ndata: \n\n",
                this.log.id(0),
                RETRY.as_millis()
            );
            return Poll::Ready(Some(Ok(Bytes::from(priming))));
        }
        let stopping = this.shutdown.as_mut().poll(cx).is_ready();
        let mut inner = lock(&this.log.inner);
        // Events the log has forgotten (a GET stream's oldest) are skipped.
        this.next = this.next.max(inner.first);
        let seq = this.next;
        let Some(message) = usize::try_from(seq - inner.first)
            .ok()
            .and_then(|at| inner.events.get(at))
        else {
            let closing = this
                .close
                .as_mut()
                .is_some_and(|close| close.as_mut().poll(cx).is_ready());
            if inner.ended || stopping || closing {
                return Poll::Ready(None);
            }
            inner.wakers.push(cx.waker().clone());
            drop(inner);
            if this.keep_alive.poll_tick(cx).is_ready() {
                return Poll::Ready(Some(Ok(Bytes::from_static(b":\n\n"))));
            }
            return Poll::Pending;
        };
        let event = event(&this.log.id(seq), &message.message);
        if message.answers(&this.log.until) {
            this.done = true;
            inner.delivered = true;
        }
        this.next += 1;
        Poll::Ready(Some(Ok(event)))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut inner = lock(&self.log.inner);
        inner.readers -= 1;
        if inner.readers == 0 {
            inner.unread_since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(n: u32) -> Outgoing {
        Outgoing {
            message: format!("{{\"n\":{n:04}}}"), // 10 bytes
            kind: MessageKind::Notification,
            answers: None,
            http_status: 200,
            method: None,
            era: None,
            is_error: false,
        }
    }

    #[test]
    fn a_get_streams_log_forgets_its_oldest_events_and_a_post_streams_drops_new_notifications() {
        let replay = Replay::default();
        let get = replay.open_standing(25).expect("no GET stream is read yet");
        let post = replay.open("1".into(), 25);
        for n in 1..=3 {
            get.push(note(n));
            post.push(note(n));
        }
        let get = lock(&get.inner);
        assert_eq!((get.first, get.events.len(), get.bytes), (2, 2, 20));
        assert_eq!(get.events[0].message, note(2).message);
        let post = lock(&post.inner);
        assert_eq!((post.first, post.events.len(), post.bytes), (1, 2, 20));
        assert_eq!(post.events[1].message, note(2).message);
    }

    #[tokio::test]
    async fn a_second_get_stream_is_refused_while_the_first_is_read() {
        let replay = Replay::default();
        let first = replay.open_standing(100).unwrap();
        let never = Box::pin(tokio_util::sync::CancellationToken::new().cancelled_owned());
        let reader = Reader::new(first, 0, never, Box::new(()));
        assert!(replay.open_standing(100).is_none());
        drop(reader);
        assert!(replay.open_standing(100).is_some());
    }
}
