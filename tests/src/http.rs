//! Drives the real `mcp-tasks serve --http` over loopback: one process, any number of callers.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{PATIENCE, binary, collect_stderr, tempdir};

/// The protocol version of the stateless era, sent in headers and `_meta`.
pub const MODERN: &str = "2026-07-28";

/// A running `mcp-tasks serve --http 127.0.0.1:0`; killed when dropped.
pub struct HttpServer {
    child: Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    stderr: Arc<Mutex<String>>,
    agent: ureq::Agent,
    /// Holds the tools file and whatever the test put beside it.
    pub dir: tempdir::Dir,
}

/// What came back: status, headers (lower-case names), and the JSON-RPC messages of the body
/// (one for a JSON body, each event's for an SSE body).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub messages: Vec<Value>,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The answer (the last message with `result` or `error`).
    pub fn answer(&self) -> &Value {
        self.messages
            .iter()
            .rev()
            .find(|m| m.get("result").is_some() || m.get("error").is_some())
            .unwrap_or_else(|| panic!("no answer in {self:?}"))
    }

    /// The answer's `result`, or a panic that shows the reply.
    pub fn result(&self) -> &Value {
        self.answer()
            .get("result")
            .unwrap_or_else(|| panic!("expected a result: {self:?}"))
    }

    /// The answer's error code, or a panic that shows the reply.
    pub fn error_code(&self) -> i64 {
        self.answer()["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("expected an error: {self:?}"))
    }
}

impl HttpServer {
    /// Start `mcp-tasks serve --http 127.0.0.1:0 --tools <tools_toml>` with these arguments;
    /// `$DIR` in the tools file and the arguments is the test's directory.
    pub fn start(tools_toml: &str, args: &[&str]) -> HttpServer {
        let dir = tempdir::Dir::new();
        let at = dir.path().display().to_string();
        let tools = dir.path().join("tools.toml");
        std::fs::write(&tools, tools_toml.replace("$DIR", &at)).unwrap();
        let mut child = Command::new(binary())
            .args(["serve", "--http", "127.0.0.1:0", "--no-cache", "--tools"])
            .arg(&tools)
            .args(args.iter().map(|a| a.replace("$DIR", &at)))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mcp-tasks");
        let stderr = collect_stderr(&mut child);
        let start = Instant::now();
        let addr = loop {
            let log = stderr.lock().unwrap().clone();
            if let Some(addr) = log
                .lines()
                .find(|l| l.contains("serving MCP over Streamable HTTP"))
                .and_then(|l| l.split("addr=").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
            {
                break addr.to_string();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("mcp-tasks exited ({status}) before serving:\n{log}");
            }
            assert!(
                start.elapsed() < PATIENCE,
                "mcp-tasks did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PATIENCE))
            .build()
            .into();
        HttpServer {
            child,
            url: format!("http://{addr}/mcp"),
            stderr,
            agent,
            dir,
        }
    }

    /// Send SIGTERM and wait for the exit (up to [`PATIENCE`]); its status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "no exit after SIGTERM:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The server's address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
    }

    /// A POST of `body` with these headers, plus Content-Type and the Accept every client sends.
    fn send(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut request = request
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send(body.to_string())
    }

    /// POST a body with these headers; read the whole reply.
    pub fn post(&self, headers: &[(&str, &str)], body: &Value) -> Reply {
        read_reply(
            self.send(self.agent.post(&self.url), headers, body)
                .expect("POST"),
        )
    }

    /// POST, and read the SSE reply event by event as it arrives (it must be an SSE stream).
    pub fn post_stream(&self, headers: &[(&str, &str)], body: &Value) -> Events {
        events(
            self.send(self.agent.post(&self.url), headers, body)
                .expect("POST"),
        )
    }

    /// POST, giving up after `after` (the client goes away); whether the reply came in time.
    pub fn post_and_leave(&self, headers: &[(&str, &str)], body: &Value, after: Duration) -> bool {
        let request = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(after))
            .build();
        self.send(request, headers, body).is_ok()
    }

    /// GET the session's stream, read event by event.
    pub fn get_stream(&self, headers: &[(&str, &str)]) -> Events {
        let mut request = self
            .agent
            .get(&self.url)
            .header("accept", "text/event-stream");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        events(request.call().expect("GET"))
    }

    /// Any method on any path, for the refusals (GET, DELETE, the metadata).
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let url = format!("http://{}{path}", self.addr());
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .agent
            .run(request.body(()).unwrap())
            .expect("HTTP request");
        read_reply(response)
    }

    /// A 2026-07-28 request with the headers and `_meta` it needs, as `token` (if any).
    pub fn modern(&self, token: Option<&str>, id: u64, method: &str, params: Value) -> Reply {
        self.modern_with(token, id, method, params, &[])
    }

    /// [`modern`](Self::modern) with extra headers.
    pub fn modern_with(
        &self,
        token: Option<&str>,
        id: u64,
        method: &str,
        mut params: Value,
        extra: &[(&str, &str)],
    ) -> Reply {
        crate::add_meta(
            &mut params,
            json!({
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {
                    "elicitation": {},
                    "extensions": { "io.modelcontextprotocol/tasks": {} }
                }
            }),
        );
        let name = params
            .get("name")
            .or_else(|| params.get("taskId"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
        if let Some(name) = &name {
            headers.push(("mcp-name", name));
        }
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer));
        }
        headers.extend_from_slice(extra);
        self.post(
            &headers,
            &json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }),
        )
    }

    /// Poll `tasks/get` (2026-07-28) until `done` holds of the task.
    pub fn poll(&self, token: Option<&str>, task_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let reply = self.modern(token, 1, "tasks/get", json!({ "taskId": task_id }));
            let task = reply.result().clone();
            if done(&task) {
                return task;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "task {task_id} never got there: {task}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_reply(response: ureq::http::Response<ureq::Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect::<Vec<_>>();
    let sse = headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"));
    let mut text = String::new();
    response
        .into_body()
        .into_reader()
        .read_to_string(&mut text)
        .expect("read the body");
    let messages = if sse {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            // A priming event has no data: it is no message.
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_json::from_str(d.trim()).expect("an SSE event that is JSON"))
            .collect()
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        // A refusal by the HTTP layer itself may be plain text (413): kept as a string.
        vec![serde_json::from_str(&text).unwrap_or(Value::String(text))]
    };
    Reply {
        status,
        headers,
        messages,
    }
}

/// The JSON-RPC messages of an SSE stream, as they arrive (an event with no data, such as a
/// stream's priming event, is not one), and the ID and `retry` of the last event read.
pub struct Events {
    reader: Box<dyn BufRead + Send>,
    /// The `id` of the last event read, if it had one.
    pub last_id: Option<String>,
    /// The last `retry` field read, in ms.
    pub retry: Option<u64>,
}

impl Iterator for Events {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(id) = line.strip_prefix("id:") {
                self.last_id = Some(id.trim().to_string());
            } else if let Some(retry) = line.strip_prefix("retry:") {
                self.retry = retry.trim().parse().ok();
            } else if let Some(data) = line.strip_prefix("data:")
                && !data.trim().is_empty()
            {
                return Some(serde_json::from_str(data.trim()).expect("an SSE event that is JSON"));
            }
        }
    }
}

fn events(response: ureq::http::Response<ureq::Body>) -> Events {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "expected an SSE stream, got {} {content_type}",
        response.status()
    );
    Events {
        reader: Box::new(BufReader::new(response.into_body().into_reader())),
        last_id: None,
        retry: None,
    }
}

/// A tokens file for alice (token `alice-token`) and bob (`bob-token`).
pub fn tokens_file(server_dir: &std::path::Path) -> std::path::PathBuf {
    let hash = |t: &str| {
        let out = std::process::Command::new(binary())
            .arg("token-hash")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(t.as_bytes())?;
                child.wait_with_output()
            })
            .expect("mcp-tasks token-hash");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let path = server_dir.join("tokens.toml");
    std::fs::write(
        &path,
        format!(
            "[tokens]\n\"{}\" = \"alice\"\n\"sha256:{}\" = \"bob\"\n",
            hash("alice-token"),
            hash("bob-token")
        ),
    )
    .unwrap();
    path
}
