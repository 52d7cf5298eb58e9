//! Retries through the real binary: a tool with `max_attempts` runs again after a failed attempt
//! (and after its server died) while attempts remain; the task stays `working` meanwhile, so a
//! polling client never sees a failure a retry undoes; a cancel ends the retries; a tool with one
//! attempt fails as before.

use std::time::{Duration, Instant};

use mcp_tasks_e2e::{PATIENCE, Server, postgres_url, read_pids, tempdir, wait_until_dead};
use serde_json::{Value, json};

/// `$DIR` is the test's directory: each tool counts its runs in a file there.
const TOOLS: &str = r#"
[server]
poll_interval_ms = 100
lease_ms = 1000

[[tools]]
name = "flaky"
description = "Fail twice, then succeed"
command = ["sh", "-c", 'echo run >> "$0"; n=$(wc -l < "$0"); if [ "$n" -lt 3 ]; then echo "not yet ($n)" >&2; exit 1; fi; echo "done on run $n"', "$DIR/flaky.runs"]
task_support = "optional"
max_attempts = 3
retry_backoff_ms = 100

[[tools]]
name = "once"
description = "Fail, with a single attempt"
command = ["sh", "-c", 'echo run >> "$0"; echo "no luck" >&2; exit 1', "$DIR/once.runs"]
task_support = "optional"

[[tools]]
name = "hopeless"
description = "Always fail, with a long backoff"
command = ["sh", "-c", 'echo run >> "$0"; echo "still broken" >&2; exit 1', "$DIR/hopeless.runs"]
task_support = "optional"
max_attempts = 5
retry_backoff_ms = 300

[[tools]]
name = "slow_first"
description = "The first run records its PIDs and hangs; a later run answers at once"
command = ["sh", "-c", 'if [ -e "$0.started" ]; then echo "done on a later run"; else touch "$0.started"; sleep 300 & echo $$ $! > "$0"; wait; fi', "{pidfile}"]
task_support = "optional"
max_attempts = 2
input_schema = { type = "object", properties = { pidfile = { type = "string" } }, required = ["pidfile"] }
"#;

fn start(args: &[&str]) -> Server {
    let mut s = Server::start(TOOLS, args);
    s.initialize();
    s
}

/// Poll `tasks/get` every 20 ms until the task is terminal: every task seen on the way.
fn poll_to_the_end(s: &mut Server, id: &str) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let task = s
            .request("tasks/get", json!({ "taskId": id }))
            .expect("tasks/get");
        let done = matches!(
            task["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        );
        seen.push(task);
        if done {
            return seen;
        }
        assert!(Instant::now() < deadline, "never ended: {seen:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn runs(s: &Server, tool: &str) -> usize {
    std::fs::read_to_string(s.dir.path().join(format!("{tool}.runs")))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_flaky_tool_completes_on_its_third_attempt_and_is_never_seen_failed() {
    let mut s = start(&["--owner", "tester"]);
    let id = s.create_task("flaky", json!({}));
    let seen = poll_to_the_end(&mut s, &id);
    let statuses: Vec<&str> = seen.iter().filter_map(|t| t["status"].as_str()).collect();
    assert!(!statuses.contains(&"failed"), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&"completed"));
    // Between the attempts a poll may see the task waiting; it says so.
    for message in seen.iter().filter_map(|t| t["statusMessage"].as_str()) {
        assert!(
            message.starts_with("Attempt ") || message.starts_with("not yet"),
            "{message}"
        );
    }
    let result = s
        .request("tasks/result", json!({ "taskId": id }))
        .expect("the result");
    assert_eq!(result["content"][0]["text"], "done on run 3\n");
    assert_eq!(runs(&s, "flaky"), 3);
}

#[test]
fn one_attempt_fails_at_once_and_a_cancel_in_the_backoff_ends_the_retries() {
    let mut s = start(&["--owner", "tester"]);
    let id = s.create_task("once", json!({}));
    let seen = poll_to_the_end(&mut s, &id);
    assert_eq!(seen.last().unwrap()["status"], "failed");
    assert_eq!(runs(&s, "once"), 1);

    let id = s.create_task("hopeless", json!({}));
    let waiting = s.poll_task(&id, "waiting for attempt 2", |t| {
        t["statusMessage"]
            .as_str()
            .is_some_and(|m| m.starts_with("Attempt 1 of 5 failed: 'sh' exited with status 1: still broken. Attempt 2 starts at "))
    });
    assert_eq!(waiting["status"], "working");
    s.request("tasks/cancel", json!({ "taskId": id }))
        .expect("cancelled");
    // Past the backoff and two sweeps: no second run.
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(runs(&s, "hopeless"), 1);
    let task = s.request("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(task["status"], "cancelled");
}

/// Server A takes a task and is killed with SIGKILL mid-run: its tool dies with it, and server B,
/// on the same store, runs the task's second attempt once A's lease lapses.
fn a_killed_servers_task_runs_again_elsewhere(store: &str) {
    let mut a = start(&["--owner", "shared", "--store", store]);
    let pidfile = a.dir.path().join("slow.pid");
    let id = a.create_task("slow_first", json!({ "pidfile": pidfile }));
    let pids = read_pids(&pidfile, 2);
    let mut b = start(&["--owner", "shared", "--store", store]);
    a.kill_hard();
    wait_until_dead(&pids, "the first attempt's processes");
    let seen = poll_to_the_end(&mut b, &id);
    let last = seen.last().unwrap();
    assert_eq!(last["status"], "completed", "{seen:?}");
    let result = b
        .request("tasks/result", json!({ "taskId": id }))
        .expect("the result");
    assert_eq!(result["content"][0]["text"], "done on a later run\n");
}

#[test]
fn a_killed_servers_task_runs_again_on_another_server_on_a_file_store() {
    let dir = tempdir::Dir::new();
    a_killed_servers_task_runs_again_elsewhere(&format!(
        "file:{}",
        dir.path().join("tasks.db").display()
    ));
}

#[test]
fn a_killed_servers_task_runs_again_on_another_server_on_postgres() {
    a_killed_servers_task_runs_again_elsewhere(&postgres_url());
}
