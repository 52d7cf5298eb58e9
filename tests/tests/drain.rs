//! Drains through the real binaries: a worker stopped by SIGTERM claims no more tasks, lets its
//! running tools finish within `--drain-timeout`, then stops the rest and hands their tasks back
//! to the queue without spending an attempt (every tool here has one attempt: a task that lost
//! its attempt would fail); a second SIGTERM ends the drain at once. Three workers restarted in
//! turn while tasks flow lose nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use mcp_tasks_e2e::{Server, Worker, postgres_url, read_pids, tempdir, wait_until_dead};
use serde_json::json;

/// `$DIR` is the queueing server's directory: the tools log their runs there.
const TOOLS: &str = r#"
[server]
poll_interval_ms = 100
lease_ms = 1000

[[tools]]
name = "job"
description = "Log the run's start and end around a sleep"
command = ["sh", "-c", 'echo "start $1" >> "$0"; sleep "$2"; echo "end $1" >> "$0"; echo "job $1 done"', "$DIR/runs.log", "{n}", "{secs}"]
task_support = "optional"
max_attempts = 1
input_schema = { type = "object", properties = { n = { type = "integer" }, secs = { type = "number" } }, required = ["n", "secs"] }

[[tools]]
name = "hang_first"
description = "The first run records its PIDs and hangs; a later run answers at once"
command = ["sh", "-c", 'if [ -e "$0.started" ]; then echo "done on a later run"; else touch "$0.started"; sleep 300 & echo $$ $! > "$0"; wait; fi', "$DIR/hang.pid"]
task_support = "optional"
max_attempts = 1
"#;

/// A `serve --run queue` on `store`, initialized: it queues, the workers run.
fn queueing_server(store: &str) -> Server {
    let mut server = Server::start(
        TOOLS,
        &["--owner", "ops", "--store", store, "--run", "queue"],
    );
    server.initialize();
    server
}

fn tools_of(server: &Server) -> std::path::PathBuf {
    server.dir.path().join("tools.toml")
}

/// The runs log's lines.
fn runs(server: &Server) -> Vec<String> {
    std::fs::read_to_string(server.dir.path().join("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn file_store(dir: &Path) -> String {
    format!("file:{}", dir.join("tasks.db").display())
}

#[test]
fn a_stopped_worker_finishes_its_running_tool_within_the_drain_and_claims_no_more() {
    let dir = tempdir::Dir::new();
    let store = file_store(dir.path());
    let mut server = queueing_server(&store);
    let running = server.create_task("job", json!({ "n": 1, "secs": 1 }));
    let mut worker = Worker::start_with(&tools_of(&server), &store, &["--drain-timeout", "10"]);
    wait_for("the tool started", || {
        runs(&server).contains(&"start 1".into())
    });
    worker.sigterm();
    // Queued while the worker drains: it is not taken.
    std::thread::sleep(Duration::from_millis(200));
    let waiting = server.create_task("job", json!({ "n": 2, "secs": 0 }));
    let status = worker.wait();
    assert!(status.success(), "{status}\n{}", worker.stderr());

    let result = server.completed_result(&running);
    assert_eq!(result["content"][0]["text"], "job 1 done\n");
    assert_eq!(runs(&server), ["start 1", "end 1"]);
    let queued = server.poll_task(&waiting, "working", |t| t["status"] == "working");
    assert_eq!(queued["status"], "working", "{queued}");

    // The next worker takes what was left.
    let _next = Worker::start(&tools_of(&server), &store);
    server.poll_task(&waiting, "completed", |t| t["status"] == "completed");
}

#[test]
fn a_tool_still_running_after_the_drain_is_stopped_and_its_task_handed_back_without_spending_an_attempt()
 {
    let store = postgres_url();
    let mut server = queueing_server(&store);
    let id = server.create_task("hang_first", json!({}));
    let mut first = Worker::start_with(&tools_of(&server), &store, &["--drain-timeout", "0.5"]);
    let pids = read_pids(&server.dir.path().join("hang.pid"), 2);
    first.sigterm();
    let status = first.wait();
    assert!(status.success(), "{status}\n{}", first.stderr());
    // No tool process outlives the drain.
    wait_until_dead(&pids, "the stopped worker's tool");
    let handed = server.poll_task(&id, "handed back", |t| {
        t["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("stopped before it finished"))
    });
    assert_eq!(handed["status"], "working", "{handed}");
    assert!(
        handed["statusMessage"]
            .as_str()
            .unwrap()
            .starts_with("The server running attempt 1 ("),
        "{handed}"
    );

    // Another worker runs the same, only, attempt: the task completes rather than failing.
    let _second = Worker::start(&tools_of(&server), &store);
    let result = server.completed_result(&id);
    assert_eq!(result["content"][0]["text"], "done on a later run\n");
}

#[test]
fn a_second_sigterm_ends_the_drain_at_once() {
    let dir = tempdir::Dir::new();
    let store = file_store(dir.path());
    let mut server = queueing_server(&store);
    let id = server.create_task("hang_first", json!({}));
    // A drain far longer than the test's patience for the worker to exit.
    let mut worker = Worker::start_with(&tools_of(&server), &store, &["--drain-timeout", "600"]);
    let pids = read_pids(&server.dir.path().join("hang.pid"), 2);
    worker.sigterm();
    wait_for("the drain began", || worker.stderr().contains("draining"));
    worker.sigterm();
    let status = worker.wait();
    assert!(status.success(), "{status}\n{}", worker.stderr());
    assert!(
        worker.stderr().contains("stopping at once"),
        "{}",
        worker.stderr()
    );
    wait_until_dead(&pids, "the hurried worker's tool");
    let handed = server.poll_task(&id, "handed back", |t| {
        t["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("stopped before it finished"))
    });
    assert_eq!(handed["status"], "working");
}

/// Queue `count` jobs of 0.5–1.5 s through `server`; their task IDs by job number.
fn queue_jobs(server: &mut Server, count: u64) -> BTreeMap<u64, String> {
    let sent: Vec<(u64, u64)> = (0..count)
        .map(|n| {
            let secs = [0.5, 1.0, 1.5][n as usize % 3];
            let request = server.send(
                "tools/call",
                json!({ "name": "job", "arguments": { "n": n, "secs": secs }, "task": { "ttl": 600000 } }),
            );
            (request, n)
        })
        .collect();
    sent.into_iter()
        .map(|(request, n)| {
            let created = server.response(request).expect("queued");
            (n, created["task"]["taskId"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Three workers on PostgreSQL running `count` queued jobs, each worker SIGTERMed and started
/// again in turn while the jobs flow, with this drain. Every task completes (none fails: each
/// has one attempt); the runs log, and what the test measured.
fn rolling_restart(count: u64, drain: &str) -> (Vec<String>, String) {
    let store = postgres_url();
    let mut server = queueing_server(&store);
    let tools = tools_of(&server);
    let args = ["--concurrency", "4", "--drain-timeout", drain];
    let mut workers: Vec<Worker> = (0..3)
        .map(|_| Worker::start_with(&tools, &store, &args))
        .collect();
    let started = Instant::now();
    let ids = queue_jobs(&mut server, count);
    let mut stops = Vec::new();
    for worker in &mut workers {
        std::thread::sleep(Duration::from_millis(1_500));
        let stopping = Instant::now();
        worker.sigterm();
        let status = worker.wait();
        assert!(status.success(), "{status}\n{}", worker.stderr());
        stops.push(stopping.elapsed());
        *worker = Worker::start_with(&tools, &store, &args);
    }
    for id in ids.values() {
        let done = server.poll_task(id, "ended", |t| {
            matches!(
                t["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
        });
        assert_eq!(done["status"], "completed", "{done}");
    }
    let figures = format!(
        "{count} tasks on 3 workers (4 runs each), drain {drain} s, each worker restarted in \
         turn: all completed in {:.1} s; the stopped workers exited {:.2?} after SIGTERM",
        started.elapsed().as_secs_f64(),
        stops
    );
    (runs(&server), figures)
}

/// How many times each job's run logged `what` ("start" or "end").
fn counts(runs: &[String], what: &str) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for line in runs {
        if let Some(n) = line.strip_prefix(what).map(str::trim) {
            *counts.entry(n.parse().unwrap()).or_default() += 1;
        }
    }
    counts
}

#[test]
fn a_rolling_restart_of_three_workers_under_load_runs_every_task_exactly_once() {
    let count = 90;
    let (runs, figures) = rolling_restart(count, "10");
    eprintln!("{figures}");
    // Each run finished within its worker's drain: one run per task, none cut short.
    let all_once: BTreeMap<u64, usize> = (0..count).map(|n| (n, 1)).collect();
    assert_eq!(counts(&runs, "start"), all_once);
    assert_eq!(counts(&runs, "end"), all_once);
}

#[test]
fn a_rolling_restart_with_a_short_drain_hands_the_cut_tasks_back_and_none_fails() {
    let count = 90;
    let (runs, figures) = rolling_restart(count, "0.2");
    let starts = counts(&runs, "start");
    let handed_back: usize = starts.values().map(|n| n - 1).sum();
    eprintln!("{figures}; {handed_back} runs were cut and their tasks handed back");
    // Every task ran to its end, with its one attempt.
    assert_eq!(counts(&runs, "end").len(), count as usize);
    assert_eq!(starts.len(), count as usize);
    // The restarts cut runs short (else this test shows nothing).
    assert!(handed_back > 0, "no run was cut: {runs:?}");
}
