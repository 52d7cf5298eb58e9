//! Prometheus metrics through the real binary: `serve --http` and `worker --metrics` serve
//! `/metrics`, read here with a Prometheus text parser, and their counts match what the test
//! did: requests by method, era and outcome with latency histograms, task events by tool, runs
//! in flight, queue depth, store calls.

use std::io::Read;
use std::time::{Duration, Instant};

use mcp_tasks_e2e::http::HttpServer;
use mcp_tasks_e2e::{Worker, tempdir};
use prometheus_parse::{Scrape, Value as Metric};
use serde_json::{Value, json};

const TOOLS: &str = r#"
[server]
poll_interval_ms = 100

[[tools]]
name = "echo"
description = "Print the text"
command = ["sh", "-c", 'echo "$0"', "{text}"]
task_support = "optional"
input_schema = { type = "object", properties = { text = { type = "string" } }, required = ["text"] }

[[tools]]
name = "hang"
description = "Never finish"
command = ["sleep", "300"]
task_support = "optional"
grace_secs = 0.2

[[tools]]
name = "later"
description = "Print done, always through the queue"
command = ["echo", "done"]
task_support = "optional"
run = "queue"
"#;

/// GET `http://addr/metrics` with these headers: the status and the body.
fn get_metrics(addr: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(format!("http://{addr}/metrics"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut response = request.call().expect("GET /metrics");
    let mut body = String::new();
    response
        .body_mut()
        .as_reader()
        .read_to_string(&mut body)
        .unwrap();
    (response.status().as_u16(), body)
}

/// The metrics at `addr`, parsed.
fn scrape(addr: &str) -> Scrape {
    let (status, text) = get_metrics(addr, &[]);
    assert_eq!(status, 200, "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text")
}

/// The value of the sample `name` with these labels (a counter or gauge), or of a histogram's
/// count; 0 if there is none.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
            Metric::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            Metric::Summary(_) => panic!("{name} is a summary, not a histogram"),
        })
        .sum()
}

fn create(server: &HttpServer, id: u64, tool: &str, arguments: Value) -> String {
    let reply = server.modern(
        None,
        id,
        "tools/call",
        json!({ "name": tool, "arguments": arguments }),
    );
    reply.result()["task"]["taskId"]
        .as_str()
        .or_else(|| reply.result()["taskId"].as_str())
        .unwrap_or_else(|| panic!("no task: {reply:?}"))
        .to_string()
}

/// `tasks/get` until the task's status is `status`; how many were sent.
fn poll_counting(server: &HttpServer, id: &str, status: &str) -> u64 {
    let start = Instant::now();
    let mut sent = 0;
    loop {
        sent += 1;
        let task = server
            .modern(None, 9, "tasks/get", json!({ "taskId": id }))
            .result()
            .clone();
        if task["status"] == status {
            return sent;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{task}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// The address a worker serves its metrics on, from its log.
fn metrics_addr(worker: &Worker) -> String {
    let start = Instant::now();
    loop {
        if let Some(addr) = worker
            .stderr()
            .lines()
            .find(|l| l.contains("serving metrics"))
            .and_then(|l| l.split("addr=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
        {
            return addr.to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            worker.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_and_worker_count_what_happened() {
    let dir = tempdir::Dir::new();
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    // The server queues every task; a worker on the same store runs them.
    let server = HttpServer::start(TOOLS, &["--store", &store, "--run", "queue"]);
    let modern = "2026-07-28";

    // Before any worker: one task waits.
    let queued = create(&server, 1, "later", json!({}));
    let m = scrape(server.addr());
    assert_eq!(
        value(&m, "mcp_tasks_queue_waiting", &[("tool", "later")]),
        1.0
    );
    assert!(
        value(
            &m,
            "mcp_tasks_queue_oldest_waiting_seconds",
            &[("tool", "later")]
        ) >= 0.0
    );

    let tools = server.dir.path().join("tools.toml");
    let worker = Worker::start_with(&tools, &store, &["--metrics", "127.0.0.1:0"]);
    let worker_addr = metrics_addr(&worker);
    let mut gets = poll_counting(&server, &queued, "completed");
    let echoes: Vec<String> = (0..2)
        .map(|i| create(&server, 2 + i, "echo", json!({ "text": format!("hi {i}") })))
        .collect();
    for id in &echoes {
        gets += poll_counting(&server, id, "completed");
    }
    let hang = create(&server, 5, "hang", json!({}));
    let start = Instant::now();
    while value(&scrape(&worker_addr), "mcp_tasks_runs_in_flight", &[]) != 1.0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the worker never ran it"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    // Unknown to the router: an error answer.
    let missing = server.modern(None, 7, "tasks/get", json!({ "taskId": "no-such-task" }));
    assert!(missing.answer().get("error").is_some(), "{missing:?}");

    let m = scrape(server.addr());
    let requests = |method: &str, outcome: &str| {
        value(
            &m,
            "mcp_tasks_requests_total",
            &[("method", method), ("era", modern), ("outcome", outcome)],
        )
    };
    assert_eq!(requests("tools/call", "ok"), 4.0);
    assert_eq!(requests("tasks/get", "ok"), gets as f64);
    assert_eq!(requests("tasks/get", "error"), 1.0);
    let latency = |method: &str| {
        value(
            &m,
            "mcp_tasks_request_duration_seconds",
            &[("method", method), ("era", modern)],
        )
    };
    assert_eq!(latency("tools/call"), 4.0);
    assert_eq!(latency("tasks/get"), gets as f64 + 1.0);
    let events = |m: &Scrape, tool: &str, event: &str| {
        value(
            m,
            "mcp_tasks_task_events_total",
            &[("tool", tool), ("event", event)],
        )
    };
    // Each process counts what it wrote: the server created, the worker ran.
    assert_eq!(events(&m, "echo", "created"), 2.0);
    assert_eq!(events(&m, "hang", "created"), 1.0);
    assert_eq!(events(&m, "later", "created"), 1.0);
    assert_eq!(events(&m, "echo", "completed"), 0.0);
    assert_eq!(value(&m, "mcp_tasks_runs_in_flight", &[]), 0.0);
    assert_eq!(
        value(&m, "mcp_tasks_queue_waiting", &[("tool", "later")]),
        0.0
    );
    assert_eq!(
        value(&m, "mcp_tasks_queue_running", &[("tool", "hang")]),
        1.0
    );
    assert!(
        value(
            &m,
            "mcp_tasks_store_call_duration_seconds",
            &[("op", "create")]
        ) >= 4.0
    );
    assert_eq!(value(&m, "mcp_tasks_component_traps_total", &[]), 0.0);
    let w = scrape(&worker_addr);
    assert_eq!(events(&w, "echo", "completed"), 2.0);
    assert_eq!(events(&w, "later", "completed"), 1.0);
    assert_eq!(events(&w, "echo", "created"), 0.0);
    assert_eq!(value(&w, "mcp_tasks_requests_total", &[]), 0.0);

    // A cancel through the server is counted there; the worker's run stops.
    server.modern(None, 8, "tasks/cancel", json!({ "taskId": hang }));
    poll_counting(&server, &hang, "cancelled");
    assert_eq!(events(&scrape(server.addr()), "hang", "cancelled"), 1.0);
    let start = Instant::now();
    while value(&scrape(&worker_addr), "mcp_tasks_runs_in_flight", &[]) != 0.0 {
        assert!(start.elapsed() < Duration::from_secs(10), "still in flight");
        std::thread::sleep(Duration::from_millis(50));
    }

    // /metrics is behind the endpoint's own checks.
    let (status, _) = get_metrics(server.addr(), &[("origin", "https://evil.example")]);
    assert_eq!(status, 403);
}

#[test]
fn no_metrics_turns_the_path_off() {
    let server = HttpServer::start(TOOLS, &["--no-metrics"]);
    let (status, _) = get_metrics(server.addr(), &[]);
    assert_eq!(status, 404);
}
