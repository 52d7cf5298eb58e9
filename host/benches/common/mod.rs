//! What the stdio benches share: the binary they measure, a server on the other end of a pipe,
//! and the median. Each bench target includes this module (`mod common;`), and not every bench
//! uses every part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

/// The median of `samples` (the upper one of an even count).
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The release binary `mcp-tasks`, built if it is not there yet.
pub fn binary() -> PathBuf {
    // Benches run from <target>/release/deps/.
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("mcp-tasks");
    if !bin.exists() {
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "build",
                "--release",
                "-p",
                "mcp-tasks",
                "--bin",
                "mcp-tasks",
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    bin
}

/// Where a request template takes its ID: every request sent carries an ID of its own, as
/// JSON-RPC asks of requests in flight (a server may drop a request whose ID is in use).
pub const ID: &str = "@ID@";

/// A server process spoken to over its stdin and stdout, one JSON-RPC message per line.
pub struct StdioServer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl StdioServer {
    /// Start `command` with piped stdin and stdout (its stderr goes to the bench's).
    pub fn spawn(mut command: Command) -> StdioServer {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        StdioServer {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    /// `template` as a line, with an ID of its own in place of [`ID`].
    fn line(&mut self, template: &str) -> String {
        self.next_id += 1;
        format!("{}\n", template.replace(ID, &self.next_id.to_string()))
    }

    /// Send one message (a template, see [`ID`]) and return the response to it (notifications
    /// in between are skipped).
    pub fn call(&mut self, request: &str) -> serde_json::Value {
        let request = self.line(request);
        self.stdin.write_all(request.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "server closed its output"
            );
            let message: serde_json::Value = serde_json::from_str(&line).unwrap();
            if message.get("id").is_some() {
                return message;
            }
        }
    }

    /// Send one notification, which has no response.
    pub fn notify(&mut self, notification: &str) {
        self.stdin.write_all(notification.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Read lines until `n` responses have arrived; notifications are skipped. The last
    /// response's line.
    fn read_responses(&mut self, n: usize) -> String {
        let mut line = String::new();
        let mut got = 0;
        while got < n {
            line.clear();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "server closed its output"
            );
            // A response has an `id` and no `method`, wherever the server puts its keys.
            if line.contains("\"id\"") && !line.contains("\"method\"") {
                got += 1;
            }
        }
        line
    }

    /// Requests per second for `n` requests of the template `request` (see [`ID`]): all written
    /// at once (pipelined) or one after the other's response.
    pub fn rate(&mut self, request: &str, n: usize, pipelined: bool) -> f64 {
        self.rate_cycling(&[request], n, pipelined)
    }

    /// [`rate`](Self::rate), the requests taking the templates `requests` in turn.
    pub fn rate_cycling(&mut self, requests: &[&str], n: usize, pipelined: bool) -> f64 {
        let lines: Vec<String> = requests
            .iter()
            .cycle()
            .take(n)
            .map(|request| self.line(request))
            .collect();
        let start = Instant::now();
        if pipelined {
            // Write from another thread so neither pipe fills while the other waits.
            let mut stdin = self.stdin_handle();
            let batch = lines.concat();
            let writer = std::thread::spawn(move || stdin.write_all(batch.as_bytes()).unwrap());
            self.read_responses(n);
            writer.join().unwrap();
        } else {
            for line in &lines {
                self.stdin.write_all(line.as_bytes()).unwrap();
                self.stdin.flush().unwrap();
                self.read_responses(1);
            }
        }
        n as f64 / start.elapsed().as_secs_f64()
    }

    /// The round trip of requests of the template `request` (see [`ID`]) sent one at a time, `n`
    /// times: the median in µs.
    pub fn round_trip_us(&mut self, request: &str, n: usize) -> f64 {
        let lines: Vec<String> = (0..n).map(|_| self.line(request)).collect();
        let samples = lines
            .iter()
            .map(|line| {
                let start = Instant::now();
                self.stdin.write_all(line.as_bytes()).unwrap();
                self.stdin.flush().unwrap();
                let response = self.read_responses(1);
                let took = start.elapsed().as_secs_f64() * 1e6;
                // A stray response would shift every later one onto the request before it,
                // already answered: round trips that measure nothing.
                let id = serde_json::from_str::<serde_json::Value>(&response)
                    .ok()
                    .and_then(|r| r.get("id").and_then(serde_json::Value::as_u64));
                let sent = serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|r| r.get("id").and_then(serde_json::Value::as_u64));
                assert_eq!(id, sent, "a response to another request: {response}");
                took
            })
            .collect();
        median(samples)
    }

    /// A second handle on the same stdin pipe, for a writer thread.
    fn stdin_handle(&self) -> std::fs::File {
        use std::os::fd::AsFd;
        std::fs::File::from(self.stdin.as_fd().try_clone_to_owned().unwrap())
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PostgreSQL that `MCP_TASKS_BENCH_POSTGRES` names (default the local `test`), with
/// `schema` in it emptied: the URL that puts a server's tables there, or `None` (and a note)
/// when there is none.
pub fn fresh_postgres_schema(schema: &str) -> Option<String> {
    let base = std::env::var("MCP_TASKS_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fresh = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .await
    });
    match fresh {
        Ok(()) => Some(format!("{base}?options=-csearch_path%3D{schema}")),
        Err(e) => {
            println!("PostgreSQL at {base} not reachable ({e}): skipped");
            None
        }
    }
}
