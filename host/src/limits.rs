//! What a server refuses beyond, per caller: the same bounds for every transport.

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
    /// Bytes queued for a client that does not read, per stdio connection or HTTP stream.
    /// Beyond them, notifications are dropped (logged and counted); responses and the server's
    /// requests are always queued, and they are bounded by the requests in flight.
    pub max_queued_bytes: usize,
    /// At the end of stdin, SIGTERM or Ctrl-C: how long plain calls still running, and (stdio)
    /// requests still waiting, get to be answered before the server stops them (each then gets a
    /// JSON-RPC error saying the server is stopping).
    pub drain: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            requests_per_owner: 64,
            streams_per_owner: 16,
            tasks_per_owner: 256,
            max_queued_bytes: 16 * 1024 * 1024,
            drain: std::time::Duration::from_secs(10),
        }
    }
}
