//! `tasks/get` per second over Streamable HTTP: 64 concurrent clients, each on its own
//! keep-alive connection, each polling a task of its own, against `mcp-tasks serve --http`
//! (memory store; a 2025-11-25 session per client, and 2026-07-28 stateless requests) and, in the
//! same run, against the TypeScript SDK's own Streamable HTTP server with its in-memory task store
//! (`interop/typescript/bench-server.mjs`, 1.32.x, sessions, JSON responses).
//!
//! The binary runs three times: with its `/metrics` (the default), with `--no-metrics`, and with
//! `--no-metrics` and traces exported over OTLP to a receiver in this process that takes and
//! drops them; so the run shows what counting costs, and what tracing every request costs.
//!
//! `cargo bench -p mcp-tasks --bench http`. Each figure is the median of the rounds; rounds of
//! the servers alternate, so that the machine's noise falls on all of them alike.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CLIENTS: usize = 64;
const ROUND: Duration = Duration::from_secs(2);
const ROUNDS: usize = 9;
const MODERN: &str = "2026-07-28";

const TOOLS: &str = r#"
[[tools]]
name = "greet"
command = ["echo", "hello"]
task_support = "optional"
input_schema = { type = "object", properties = { name = { type = "string" } } }
"#;

/// One client: its own connection, its session (2025-11-25) and its task.
struct Poller {
    http: reqwest::Client,
    url: String,
    session: Option<String>,
    body: String,
    modern: bool,
    task_id: String,
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (Option<String>, Value) {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("POST");
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.expect("body");
    // An SSE body carries the answer in its last data line.
    let json = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or(&text)
        .trim()
        .to_string();
    (session, serde_json::from_str(&json).unwrap_or(Value::Null))
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": { "io.modelcontextprotocol/tasks": {} }
        }
    })
}

impl Poller {
    async fn legacy(url: &str) -> Poller {
        let http = reqwest::Client::new();
        let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": { "name": "bench", "version": "1" } } });
        let (session, _) = post(&http, url, &[], &init).await;
        let session = session.expect("a session");
        let headers = [
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ];
        post(
            &http,
            url,
            &headers,
            &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        )
        .await;
        let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "greet", "arguments": { "name": "bench" }, "task": { "ttl": 600000 } } });
        let (_, created) = post(&http, url, &headers, &call).await;
        let task_id = created["result"]["task"]["taskId"]
            .as_str()
            .unwrap_or_else(|| panic!("no task: {created}"))
            .to_string();
        let body = json!({ "jsonrpc": "2.0", "id": 3, "method": "tasks/get",
                           "params": { "taskId": task_id } })
        .to_string();
        Poller {
            http,
            url: url.to_string(),
            session: Some(session),
            body,
            modern: false,
            task_id,
        }
    }

    async fn modern(url: &str) -> Poller {
        let http = reqwest::Client::new();
        let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "greet", "arguments": { "name": "bench" }, "_meta": meta() } });
        let headers = [
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "greet"),
        ];
        let (_, created) = post(&http, url, &headers, &call).await;
        let task_id = created["result"]["taskId"]
            .as_str()
            .unwrap_or_else(|| panic!("no task: {created}"))
            .to_string();
        let body = json!({ "jsonrpc": "2.0", "id": 2, "method": "tasks/get",
                           "params": { "taskId": task_id, "_meta": meta() } })
        .to_string();
        Poller {
            http,
            url: url.to_string(),
            session: None,
            body,
            modern: true,
            task_id,
        }
    }

    /// Poll until `until`, counting the answers.
    async fn poll(self: Arc<Self>, until: Instant, count: Arc<AtomicU64>) {
        while Instant::now() < until {
            let mut request = self
                .http
                .post(&self.url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(self.body.clone());
            if let Some(session) = &self.session {
                request = request
                    .header("mcp-session-id", session)
                    .header("mcp-protocol-version", "2025-11-25");
            }
            if self.modern {
                request = request
                    .header("mcp-protocol-version", MODERN)
                    .header("mcp-method", "tasks/get")
                    .header("mcp-name", &self.task_id);
            }
            let response = request.send().await.expect("tasks/get");
            assert!(response.status().is_success(), "{}", response.status());
            let text = response.text().await.expect("body");
            assert!(text.contains("\"completed\""), "{text}");
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Requests per second of one round of the pollers.
async fn round(pollers: &[Arc<Poller>]) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let until = start + ROUND;
    let handles: Vec<_> = pollers
        .iter()
        .map(|p| tokio::spawn(p.clone().poll(until, count.clone())))
        .collect();
    for h in handles {
        h.await.expect("poller");
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_mcp_tasks(dir: &Path, extra: &[&str]) -> (Running, String) {
    let tools = dir.join("tools.toml");
    std::fs::write(&tools, TOOLS).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-tasks"))
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--max-requests-per-owner",
            "1000",
        ])
        .arg("--tools")
        .arg(&tools)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start mcp-tasks");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("mcp-tasks exited")
            .expect("read stderr");
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining its log.
    std::thread::spawn(move || for _ in lines {});
    (Running(child), format!("http://{addr}/mcp"))
}

/// An OTLP/HTTP receiver that answers every export with 200 and keeps nothing; its base URL.
fn start_otlp_sink() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().route("/v1/traces", axum::routing::post(|| async { "" }));
            axum::serve(listener, app).await.unwrap();
        });
    });
    url
}

fn start_typescript_sdk() -> Option<(Running, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("interop/typescript");
    if !dir.join("node_modules/@modelcontextprotocol/sdk").exists() {
        eprintln!(
            "interop/typescript/node_modules is missing (run .ci/setup): no TypeScript SDK baseline"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut child = Command::new("node")
        .arg(dir.join("bench-server.mjs"))
        .arg(port.to_string())
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).expect("the server's first line");
    assert!(line.contains("listening"), "{line}");
    Some((Running(child), format!("http://127.0.0.1:{port}/mcp")))
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test` of benches passes nothing: run either way.
    let dir = std::env::temp_dir().join(format!("mcp-tasks-http-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_ours, url) = start_mcp_tasks(&dir, &[]);
    // The same server without metrics, for what counting costs.
    let (_plain, plain_url) = start_mcp_tasks(&dir, &["--no-metrics"]);
    // And without metrics, tracing every request.
    let sink = start_otlp_sink();
    let (_traced, traced_url) = start_mcp_tasks(&dir, &["--no-metrics", "--otlp-endpoint", &sink]);
    let baseline = start_typescript_sdk();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut targets: Vec<(&str, Vec<Arc<Poller>>)> = Vec::new();
        let mut legacy = Vec::new();
        let mut modern = Vec::new();
        for _ in 0..CLIENTS {
            legacy.push(Arc::new(Poller::legacy(&url).await));
            modern.push(Arc::new(Poller::modern(&url).await));
        }
        targets.push(("mcp-tasks, 2025-11-25 sessions", legacy));
        targets.push(("mcp-tasks, 2026-07-28 stateless", modern));
        let mut legacy = Vec::new();
        let mut modern = Vec::new();
        for _ in 0..CLIENTS {
            legacy.push(Arc::new(Poller::legacy(&plain_url).await));
            modern.push(Arc::new(Poller::modern(&plain_url).await));
        }
        targets.push(("mcp-tasks --no-metrics, 2025-11-25 sessions", legacy));
        targets.push(("mcp-tasks --no-metrics, 2026-07-28 stateless", modern));
        let mut legacy = Vec::new();
        let mut modern = Vec::new();
        for _ in 0..CLIENTS {
            legacy.push(Arc::new(Poller::legacy(&traced_url).await));
            modern.push(Arc::new(Poller::modern(&traced_url).await));
        }
        targets.push(("mcp-tasks --no-metrics, traced, 2025-11-25", legacy));
        targets.push(("mcp-tasks --no-metrics, traced, 2026-07-28", modern));
        if let Some((_, ts_url)) = &baseline {
            let mut ts = Vec::new();
            for _ in 0..CLIENTS {
                ts.push(Arc::new(Poller::legacy(ts_url).await));
            }
            targets.push(("TypeScript SDK 1.32, 2025-11-25 sessions", ts));
        }
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
        for _ in 0..ROUNDS {
            for (i, (_, pollers)) in targets.iter().enumerate() {
                rates[i].push(round(pollers).await);
            }
        }
        println!(
            "tasks/get over Streamable HTTP, {CLIENTS} keep-alive clients, median of {ROUNDS} rounds of {}s:",
            ROUND.as_secs()
        );
        let medians: Vec<f64> = rates.into_iter().map(median).collect();
        let baseline = (targets.len() == 7).then(|| medians[6]);
        for ((name, _), rate) in targets.iter().zip(&medians) {
            match baseline {
                Some(b) => println!("  {name:<46} {rate:>9.0}/s  ({:.2}× the TypeScript SDK)", rate / b),
                None => println!("  {name:<46} {rate:>9.0}/s"),
            }
        }
        println!(
            "  metrics on / off: 2025-11-25 {:.3}, 2026-07-28 {:.3}",
            medians[0] / medians[2],
            medians[1] / medians[3]
        );
        println!(
            "  traced / not: 2025-11-25 {:.3}, 2026-07-28 {:.3}",
            medians[4] / medians[2],
            medians[5] / medians[3]
        );
    });
    drop(baseline);
    let _ = std::fs::remove_dir_all(&dir);
}
