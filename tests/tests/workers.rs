//! Queues and workers through the real binaries: servers started with `--run queue` create tasks
//! and run nothing; `mcp-tasks worker` processes on the same store claim and run them, each task
//! exactly once; a worker killed with SIGKILL mid-task takes its tool with it, and another worker
//! runs the task's next attempt.

use std::collections::BTreeMap;
use std::path::Path;

use std::time::{Duration, Instant};

use mcp_tasks_e2e::{Server, Worker, postgres_url, read_pids, tempdir, wait_until_dead};
use serde_json::json;

/// `$DIR` is the first server's directory: the tools log there.
const TOOLS: &str = r#"
[server]
poll_interval_ms = 100
lease_ms = 1000

[[tools]]
name = "job"
description = "Append n to the log"
command = ["sh", "-c", 'echo "$1" >> "$0"; echo "job $1 done"', "$DIR/jobs.log", "{n}"]
task_support = "optional"
input_schema = { type = "object", properties = { n = { type = "integer" } }, required = ["n"] }

[[tools]]
name = "queued_job"
description = "Append n to the log, always through the queue"
command = ["sh", "-c", 'echo "$1" >> "$0"; echo "job $1 done"', "$DIR/jobs.log", "{n}"]
task_support = "optional"
run = "queue"
input_schema = { type = "object", properties = { n = { type = "integer" } }, required = ["n"] }

[[tools]]
name = "slow_first"
description = "The first run records its PIDs and hangs; a later run answers at once"
command = ["sh", "-c", 'if [ -e "$0.started" ]; then echo "done on a later run"; else touch "$0.started"; sleep 300 & echo $$ $! > "$0"; wait; fi', "$DIR/slow.pid"]
task_support = "optional"
max_attempts = 2
"#;

/// A `serve --run queue` on `store`, initialized, with the tools logging into `log_dir`.
fn queueing_server(store: &str, log_dir: &Path) -> Server {
    let tools = TOOLS.replace("$DIR", &log_dir.display().to_string());
    let mut s = Server::start(
        &tools,
        &["--owner", "queue", "--store", store, "--run", "queue"],
    );
    s.initialize();
    s
}

fn five_hundred_tasks_run_exactly_once(store: &str) {
    let logs = tempdir::Dir::new();
    let mut servers = [
        queueing_server(store, logs.path()),
        queueing_server(store, logs.path()),
    ];
    // Queue 500 tasks through the two servers, 250 each, pipelined.
    let mut ids = BTreeMap::new();
    for (k, server) in servers.iter_mut().enumerate() {
        let sent: Vec<(u64, usize)> = (0..250)
            .map(|i| {
                let n = k * 250 + i;
                let id = server.send(
                    "tools/call",
                    json!({ "name": "job", "arguments": { "n": n }, "task": { "ttl": 600000 } }),
                );
                (id, n)
            })
            .collect();
        for (request, n) in sent {
            let created = server.response(request).expect("queued");
            let task_id = created["task"]["taskId"].as_str().unwrap().to_string();
            ids.insert(n, task_id);
        }
    }
    // Nothing runs before a worker does.
    std::thread::sleep(Duration::from_millis(1_200));
    assert!(
        !logs.path().join("jobs.log").exists(),
        "a queueing server ran a tool"
    );

    let tools = servers[0].dir.path().join("tools.toml");
    let _workers: Vec<Worker> = (0..3).map(|_| Worker::start(&tools, store)).collect();
    let started = Instant::now();
    let log = logs.path().join("jobs.log");
    loop {
        let lines = std::fs::read_to_string(&log)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 500 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {lines} of 500 jobs ran"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("3 workers ran 500 queued tasks in {:?}", started.elapsed());
    // Each exactly once, and each task completed with its own result.
    let mut ran: Vec<usize> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    ran.sort_unstable();
    assert_eq!(ran, (0..500).collect::<Vec<_>>());
    for (n, id) in &ids {
        let server = &mut servers[n % 2];
        let done = server.poll_task(id, "completed", |t| t["status"] == "completed");
        assert_eq!(done["status"], "completed");
    }
    let result = servers[1]
        .request("tasks/result", json!({ "taskId": ids[&7] }))
        .unwrap();
    assert_eq!(result["content"][0]["text"], "job 7 done\n");
}

#[test]
fn three_workers_run_500_queued_tasks_exactly_once_on_postgres() {
    five_hundred_tasks_run_exactly_once(&postgres_url());
}

#[test]
fn three_workers_run_500_queued_tasks_exactly_once_on_a_file_store() {
    let dir = tempdir::Dir::new();
    five_hundred_tasks_run_exactly_once(&format!("file:{}", dir.path().join("tasks.db").display()));
}

#[test]
fn a_worker_killed_mid_task_takes_its_tool_along_and_another_runs_the_next_attempt() {
    let store = postgres_url();
    let logs = tempdir::Dir::new();
    let mut server = queueing_server(&store, logs.path());
    let tools = server.dir.path().join("tools.toml");
    let id = server.create_task("slow_first", json!({}));
    let mut first = Worker::start(&tools, &store);
    let pids = read_pids(&logs.path().join("slow.pid"), 2);
    let _second = Worker::start(&tools, &store);
    first.kill_hard();
    wait_until_dead(&pids, "the killed worker's tool");
    let result = server.completed_result(&id);
    assert_eq!(result["content"][0]["text"], "done on a later run\n");
}

#[test]
fn a_tool_with_run_queue_is_queued_on_a_local_server_which_claims_it_too() {
    let logs = tempdir::Dir::new();
    let tools = TOOLS.replace("$DIR", &logs.path().display().to_string());
    let mut server = Server::start(&tools, &["--owner", "local"]);
    server.initialize();
    let created = server
        .request(
            "tools/call",
            json!({ "name": "queued_job", "arguments": { "n": 1 }, "task": {} }),
        )
        .expect("queued");
    assert_eq!(
        created["task"]["statusMessage"],
        "Queued: waiting for a host to run it."
    );
    let id = created["task"]["taskId"].as_str().unwrap();
    let done = server.poll_task(id, "completed", |t| t["status"] == "completed");
    assert_eq!(done["status"], "completed");
}
