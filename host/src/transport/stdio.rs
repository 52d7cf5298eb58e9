//! Newline-delimited JSON-RPC over a byte stream (stdio): one reader, one writer, one client.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::unix::pipe;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use super::Limits;
use crate::hub::{Hub, Peer, Places, Runner, answer_error};
use crate::lines::{self, Line};
use crate::outbox::{self, Outbox};
use crate::types::Outgoing;

/// The most lines already waiting that cross into the component together.
const MAX_BATCH: usize = 64;

/// Serve one connection of newline-delimited JSON-RPC until `input` ends or `stop` completes
/// (see [`Server::serve_until`]).
pub(crate) async fn serve<R, W>(
    server: &Runner,
    input: R,
    output: W,
    stop: impl Future<Output = std::io::Result<()>>,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let limits = server.limits.clone();
    let (outbox, writer) = writer(output, limits.max_queued_bytes);
    let peer = Arc::new(Peer {
        id: 0,
        owner: server.owner.clone(),
        session: Arc::default(),
        // One stream, one client: a legacy task's question can go out as soon as it is asked.
        push: true,
        client: String::new(),
        transport: "stdio",
        outbox,
    });
    let read = server
        .serve_loop(peer.clone(), |hub| read(hub, peer, input, limits, stop))
        .await;
    // Every outbox is gone with the hub's runs and the reader: the writer drains and finishes.
    let written = writer
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    read.and(written)
}

/// Hand each line of `input` to the hub until the input ends or `stop` completes; then end the
/// requests that wait and let those already read be answered.
async fn read<R: AsyncBufRead + Unpin>(
    hub: Arc<Hub>,
    peer: Arc<Peer>,
    input: R,
    limits: Limits,
    stop: impl Future<Output = std::io::Result<()>>,
) -> std::io::Result<()> {
    let mut requests = JoinSet::new();
    // As many places for requests being answered, and as many again for waiting ones.
    let places_each = limits.requests_per_owner.max(1);
    let answering = Arc::new(Semaphore::new(places_each));
    let waiting = Arc::new(Semaphore::new(places_each));
    let mut lines = Lines::new(input, limits.max_body_bytes);
    // Pipelined lines cross together only where the store reads locally: a batch reads one line
    // after another, where lines on their own read concurrently (and a store of round trips
    // gathers their reads).
    let max_batch = if hub.reads_locally() { MAX_BATCH } else { 1 };
    tokio::pin!(stop);
    let read = loop {
        let line = tokio::select! {
            line = lines.next(&peer.outbox) => match line {
                Ok(Some(line)) => line,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            },
            stopped = &mut stop => break stopped,
        };
        if refused_for_tools(&hub, &peer, &limits, &line) {
            continue;
        }
        // Back-pressure: the next line is read once a place is free.
        let place = tokio::select! {
            place = answering.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break Ok(()), // Never closed.
            },
            stopped = &mut stop => break stopped,
        };
        let places = |answering| {
            Some(Places {
                answering,
                waiting: waiting.clone(),
                limit: places_each,
            })
        };
        // Lines already waiting behind this one (a client that pipelines) go with it, each with
        // a place of its own, and cross into the component together.
        let mut batch = vec![line];
        let mut held = vec![places(place)];
        let mut failed = None;
        while batch.len() < max_batch && answering.available_permits() > 0 {
            let line = match lines.next_buffered(&peer.outbox).await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            if refused_for_tools(&hub, &peer, &limits, &line) {
                continue;
            }
            // Free (only this reader takes places): no wait.
            let Ok(place) = answering.clone().acquire_owned().await else {
                break; // Never closed.
            };
            batch.push(line);
            held.push(places(place));
        }
        if batch.len() == 1 {
            let line = batch.pop().unwrap_or_default();
            requests.spawn(hub.clone().handle(peer.clone(), line, held.pop().flatten()));
        } else {
            // Handled here rather than spawned: the store reads locally, so the batch is done in
            // microseconds, and the reader goes on without waking another task for it.
            hub.handle_batch(&peer, batch, held, &mut requests).await;
        }
        // Reap finished handlers as we go, so a long session does not accumulate them.
        while requests.try_join_next().is_some() {}
        if let Some(e) = failed {
            break Err(e);
        }
    };
    drain(&hub, &mut requests, limits.drain).await;
    read
}

/// The input ended, or `stop` came: what was read is answered. The host claims no more tasks;
/// requests that wait (on a task), then the running tools — plain calls' and tasks' — get up to
/// `period` in all, or until the server is hurried; then the tools still running are stopped
/// (the component answers each plain call with an error saying the server is stopping, and
/// hands each task back, or fails it) and the requests still waiting are answered so too.
async fn drain(hub: &Arc<Hub>, requests: &mut JoinSet<()>, period: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + period;
    hub.stop_claiming();
    while !requests.is_empty() {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            () = hub.hurried() => break,
            _ = requests.join_next() => {}
        }
    }
    hub.drain_runs(deadline).await;
    hub.end_subscriptions().await;
    hub.shutdown.cancel();
    while requests.join_next().await.is_some() {}
}

/// Whether `line` is refused, and answered so, because it is a `tools/call` of a caller that has
/// as many tools running as it may.
fn refused_for_tools(hub: &Hub, peer: &Peer, limits: &Limits, line: &str) -> bool {
    if hub.runs_of(&peer.owner) < limits.tasks_per_owner || !is_tool_call(line) {
        return false;
    }
    let message = format!(
        "Too many requests: this caller already has {} tools running; retry when one has \
         finished",
        limits.tasks_per_owner
    );
    answer_error(peer, line, -32000, &message);
    true
}

/// Whether `line` is a `tools/call` request.
fn is_tool_call(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|m| m["method"] == "tools/call")
}

/// This process's standard input, buffered, and its standard output, and what gives them back
/// their blocking mode once dropped.
///
/// Where they are pipes (as an MCP client starts a stdio server) they are read and written
/// without blocking, on the runtime's own threads: `tokio::io::stdin` and `stdout` hand every read
/// and write to a blocking thread and back, two thread wake-ups that cost a request more than its
/// whole handling. Anything else (a terminal, a file) goes through those.
pub(crate) fn process_streams() -> (
    BufReader<Box<dyn AsyncRead + Unpin + Send>>,
    Box<dyn AsyncWrite + Unpin + Send>,
    RestoreBlocking,
) {
    let mut restore = RestoreBlocking(Vec::new());
    let input: Box<dyn AsyncRead + Unpin + Send> =
        match restore.non_blocking(std::io::stdin().as_fd(), pipe::Receiver::from_owned_fd) {
            Some(pipe) => Box::new(pipe),
            None => Box::new(tokio::io::stdin()),
        };
    let output: Box<dyn AsyncWrite + Unpin + Send> =
        match restore.non_blocking(std::io::stdout().as_fd(), pipe::Sender::from_owned_fd) {
            Some(pipe) => Box::new(pipe),
            None => Box::new(tokio::io::stdout()),
        };
    (BufReader::with_capacity(64 * 1024, input), output, restore)
}

/// The status flags standard input and output had before they were made non-blocking, put back
/// when this is dropped: the flag belongs to the pipe, which outlives this process, and whoever
/// uses it next (a shell's next command) expects it blocking.
pub(crate) struct RestoreBlocking(Vec<(RawFd, libc::c_int)>);

impl RestoreBlocking {
    /// `fd` as a non-blocking pipe made by `pipe` (which sets the flag), or `None` if it is
    /// not a pipe.
    fn non_blocking<P>(
        &mut self,
        fd: BorrowedFd<'_>,
        pipe: impl FnOnce(OwnedFd) -> std::io::Result<P>,
    ) -> Option<P> {
        // SAFETY: F_GETFL on a descriptor this process holds open reads its flags, nothing more.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        let made = pipe(fd.try_clone_to_owned().ok()?).ok()?;
        if flags >= 0 {
            self.0.push((fd.as_raw_fd(), flags));
        }
        Some(made)
    }
}

impl Drop for RestoreBlocking {
    fn drop(&mut self) {
        for &(fd, flags) in &self.0 {
            // SAFETY: standard input and output stay open for the life of the process.
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
        }
    }
}

/// Start the writer task. It writes each message as one line, flushing whenever the queue is
/// empty, and ends once every [`Outbox`] is dropped and the queue is drained. Beyond
/// `max_queued` bytes not yet written (a client that does not read), notifications are dropped.
pub(crate) fn writer<W>(output: W, max_queued: usize) -> (Outbox, JoinHandle<std::io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut rx) = outbox::channel(max_queued);
    let task = tokio::spawn(async move {
        let mut out = BufWriter::with_capacity(64 * 1024, output);
        while let Some(message) = rx.recv().await {
            out.write_all(message.message.as_bytes()).await?;
            out.write_all(b"\n").await?;
            // Batch what is already queued into one flush.
            while let Some(message) = rx.try_recv() {
                out.write_all(message.message.as_bytes()).await?;
                out.write_all(b"\n").await?;
            }
            out.flush().await?;
        }
        out.flush().await
    });
    (Outbox::new(sink), task)
}

/// The incoming messages of a byte stream, one per line, at most `max_line` bytes each.
pub(crate) struct Lines<R> {
    input: R,
    buf: Vec<u8>,
    max_line: usize,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    pub(crate) fn new(input: R, max_line: usize) -> Self {
        Self {
            input,
            buf: Vec::new(),
            max_line,
        }
    }

    /// The next non-blank line, or `None` at the end of input. A line that is not UTF-8, or
    /// longer than the limit, is answered here with a JSON-RPC error without an ID (MCP's schema
    /// has no null ID), as no JSON can be read from it, and skipped.
    pub(crate) async fn next(&mut self, outbox: &Outbox) -> std::io::Result<Option<String>> {
        loop {
            match self.one(outbox).await? {
                Read::Line(line) => return Ok(Some(line)),
                Read::Skipped => {}
                Read::End => return Ok(None),
            }
        }
    }

    /// The next non-blank line if a whole one is in the buffer already (a client that
    /// pipelines), without waiting for input; `None` if none is.
    pub(crate) async fn next_buffered(
        &mut self,
        outbox: &Outbox,
    ) -> std::io::Result<Option<String>> {
        while self.has_whole_line() {
            // A whole line is buffered: reading it does not wait.
            match self.one(outbox).await? {
                Read::Line(line) => return Ok(Some(line)),
                Read::Skipped => {}
                Read::End => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Whether the input's buffer holds a whole line, looking without waiting for more (what a
    /// look reads, if anything was ready, stays in the buffer).
    fn has_whole_line(&mut self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::Pin::new(&mut self.input).poll_fill_buf(&mut cx) {
            std::task::Poll::Ready(Ok(buffered)) => buffered.contains(&b'\n'),
            _ => false,
        }
    }

    /// Read one line: a message, or one answered and skipped here, or the end.
    async fn one(&mut self, outbox: &Outbox) -> std::io::Result<Read> {
        Ok(
            match lines::read_line(&mut self.input, &mut self.buf, self.max_line).await? {
                Line::End => Read::End,
                Line::TooLong(length) => {
                    let max_line = self.max_line;
                    tracing::warn!(
                        length,
                        max_line,
                        "a message longer than the limit was dropped"
                    );
                    outbox.send(Outgoing::host_response(
                        None,
                        json!({
                            "jsonrpc": "2.0",
                            "error": {
                                "code": -32600,
                                "message": format!(
                                    "Invalid Request: the message is {length} bytes, more than \
                                     this server takes ({max_line}, set by --max-body or max_body)"
                                ),
                            },
                        })
                        .to_string(),
                    ));
                    Read::Skipped
                }
                Line::Complete if self.buf.iter().all(u8::is_ascii_whitespace) => Read::Skipped,
                Line::Complete => match String::from_utf8(std::mem::take(&mut self.buf)) {
                    Ok(line) => Read::Line(line),
                    Err(_) => {
                        outbox.send(Outgoing::host_response(
                            None,
                            r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error: the line is not valid UTF-8"}}"#
                                .to_string(),
                        ));
                        Read::Skipped
                    }
                },
            },
        )
    }
}

/// What one read of [`Lines`] gave.
enum Read {
    /// A message.
    Line(String),
    /// A blank line, or one answered with an error and dropped.
    Skipped,
    /// The end of input.
    End,
}
