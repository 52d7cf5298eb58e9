//! The queue, measured through the real binaries on PostgreSQL (`cargo bench -p mcp-tasks-e2e
//! --bench queue`): how many queued tasks per second 1, 2 and 4 workers run, beside a local
//! server running the same tasks itself (the baseline, in the same run); and how long after a
//! worker is killed with SIGKILL its task's next attempt starts on another worker. Each figure
//! is the median of several rounds, each on a fresh schema.

use std::path::Path;
use std::time::{Duration, Instant};

use mcp_tasks_e2e::{Server, Worker, postgres_url, read_pids};
use serde_json::json;

/// `$DIR` is the server's directory.
const TOOLS: &str = r#"
[server]
lease_ms = 1000

[[tools]]
name = "job"
description = "Append n to the log"
command = ["sh", "-c", 'echo "$1" >> "$0"', "$DIR/jobs.log", "{n}"]
input_schema = { type = "object", properties = { n = { type = "integer" } }, required = ["n"] }

[[tools]]
name = "slow_first"
description = "The first run records its PIDs and hangs; a later run marks that it started"
command = ["sh", "-c", 'if [ -e "$0" ]; then touch "$0.again"; else sleep 300 & echo $$ $! > "$0"; wait; fi', "$DIR/slow.pid"]
max_attempts = 2
"#;

const TASKS: usize = 400;
const ROUNDS: usize = 3;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Create `TASKS` tasks of `job` through `server`, pipelined; wait for every answer.
fn create_all(server: &mut Server) {
    let ids: Vec<u64> = (0..TASKS)
        .map(|n| {
            server.send(
                "tools/call",
                json!({ "name": "job", "arguments": { "n": n }, "task": { "ttl": 600000 } }),
            )
        })
        .collect();
    for id in ids {
        server.response(id).expect("a task");
    }
}

/// Wait until the log holds `TASKS` lines; the time since `since`.
fn all_ran(log: &Path, since: Instant) -> Duration {
    while lines(log) < TASKS {
        assert!(
            since.elapsed() < Duration::from_secs(300),
            "the tasks never all ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    since.elapsed()
}

/// Tasks per second: a local server creating and running the tasks itself (from the first
/// call to the last run), or `workers` workers running tasks queued before they start.
fn round(workers: usize) -> f64 {
    let store = postgres_url();
    if workers == 0 {
        let mut server = Server::start(TOOLS, &["--store", &store]);
        server.initialize();
        let started = Instant::now();
        create_all(&mut server);
        let took = all_ran(&server.dir.path().join("jobs.log"), started);
        return TASKS as f64 / took.as_secs_f64();
    }
    let mut server = Server::start(TOOLS, &["--store", &store, "--run", "queue"]);
    server.initialize();
    create_all(&mut server);
    let tools = server.dir.path().join("tools.toml");
    let started = Instant::now();
    let _workers: Vec<Worker> = (0..workers)
        .map(|_| Worker::start(&tools, &store))
        .collect();
    let took = all_ran(&server.dir.path().join("jobs.log"), started);
    TASKS as f64 / took.as_secs_f64()
}

/// From a worker's SIGKILL to the next attempt of its task starting on the other worker.
fn takeover() -> Duration {
    let store = postgres_url();
    let mut server = Server::start(TOOLS, &["--store", &store, "--run", "queue"]);
    server.initialize();
    let tools = server.dir.path().join("tools.toml");
    let mut first = Worker::start(&tools, &store);
    server.create_task("slow_first", json!({}));
    let pidfile = server.dir.path().join("slow.pid");
    read_pids(&pidfile, 2);
    let _second = Worker::start(&tools, &store);
    // Let the second worker settle into its sweeps.
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Instant::now();
    first.kill_hard();
    let again = server.dir.path().join("slow.pid.again");
    while !again.exists() {
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "never taken over"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    killed.elapsed()
}

fn main() {
    println!(
        "{TASKS} tasks of a command tool (sh -c 'echo n >> log'), PostgreSQL, median of {ROUNDS} rounds"
    );
    let baseline = median((0..ROUNDS).map(|_| round(0)).collect());
    println!("local server, no queue (baseline)  {baseline:>8.0} tasks/s");
    for workers in [1, 2, 4] {
        let rate = median((0..ROUNDS).map(|_| round(workers)).collect());
        println!(
            "{workers} worker(s), --concurrency 16      {rate:>8.0} tasks/s  ({:.2}x the baseline)",
            rate / baseline
        );
    }
    let takeovers: Vec<f64> = (0..ROUNDS)
        .map(|_| takeover().as_secs_f64() * 1000.0)
        .collect();
    println!(
        "worker killed -> next attempt started on another: median {:.0} ms (lease_ms = 1000; runs: {:?})",
        median(takeovers.clone()),
        takeovers.iter().map(|t| t.round()).collect::<Vec<_>>()
    );
}
