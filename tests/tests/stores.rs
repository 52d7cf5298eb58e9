//! Durable, shared stores through the real binary: two servers sharing a file (SQLite) or a
//! PostgreSQL database, a restart, a server killed mid-task, a crash under load, and bad
//! store configuration.

use std::process::Command;

use mcp_tasks_e2e::{Server, binary, postgres_url, read_pids, tempdir, wait_until_dead};
use serde_json::{Value, json};

/// A one-second lease, so a dead server's task fails soon.
const TOOLS: &str = concat!(
    r#"
[server]
poll_interval_ms = 100
lease_ms = 1000
"#,
    mcp_tasks_e2e::echo_tool!(),
    mcp_tasks_e2e::long_tool!()
);

fn start(store: &str) -> Server {
    let mut s = Server::start(TOOLS, &["--owner", "shared-owner", "--store", store]);
    s.request(
        "initialize",
        json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "e2e", "version": "1" } }),
    )
    .expect("initialize");
    s
}

fn create(s: &mut Server, tool: &str, arguments: Value) -> String {
    s.request(
        "tools/call",
        json!({ "name": tool, "arguments": arguments, "task": { "ttl": 600000 } }),
    )
    .expect("task created")["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn get(s: &mut Server, id: &str) -> Value {
    s.request("tasks/get", json!({ "taskId": id }))
        .expect("tasks/get")
}

fn file_store(dir: &tempdir::Dir) -> String {
    format!("file:{}", dir.path().join("tasks.db").display())
}

/// Server B sees, lists and cancels the task server A runs, and the cancel reaches A's tool.
fn shared_between_two_servers(store: &str) {
    let mut a = start(store);
    let mut b = start(store);
    let pidfile = a.dir.path().join("pids");
    let id = create(&mut a, "long", json!({ "pidfile": pidfile }));
    let pids = read_pids(&pidfile, 2);

    assert_eq!(get(&mut b, &id)["status"], "working");
    let listed = b.request("tasks/list", json!({})).unwrap();
    assert!(
        listed["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["taskId"] == id.as_str()),
        "{listed}"
    );
    let waiting_on_a = a.send("tasks/result", json!({ "taskId": id }));
    let cancelled = b.request("tasks/cancel", json!({ "taskId": id })).unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let took = wait_until_dead(&pids, "the tool on A after the cancel on B");
    eprintln!("{store}: cancel on B to the tool's death on A: {took:?}");
    assert_eq!(get(&mut a, &id)["status"], "cancelled");
    // A's waiting tasks/result learns of it too.
    assert_eq!(a.response(waiting_on_a).unwrap_err()["code"], -32800);
}

/// A client that restarts its server (same owner, same store) finds its tasks.
fn found_after_restart(store: &str) {
    let mut a = start(store);
    let id = create(&mut a, "echo", json!({ "msg": "kept" }));
    let result = a.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["content"][0]["text"], "kept\n");
    let (status, _) = a.close();
    assert!(status.success());

    let mut again = start(store);
    assert_eq!(get(&mut again, &id)["status"], "completed");
    let result = again
        .request("tasks/result", json!({ "taskId": id }))
        .unwrap();
    assert_eq!(result["content"][0]["text"], "kept\n");
    // Another owner sharing the store does not see it.
    let mut stranger = Server::start(TOOLS, &["--owner", "stranger", "--store", store]);
    let err = stranger
        .request("tasks/get", json!({ "taskId": id }))
        .unwrap_err();
    assert_eq!(err["code"], -32602);
}

/// A server killed mid-task leaves a task that fails once its lease lapses, saying why.
fn lost_executor_fails(store: &str) {
    let mut a = start(store);
    let pidfile = a.dir.path().join("pids");
    let id = create(&mut a, "long", json!({ "pidfile": pidfile }));
    let pids = read_pids(&pidfile, 2);
    a.kill_hard();
    let mut b = start(store);
    let task = b.poll_task(&id, "failed", |t| t["status"] == "failed");
    let message = task["statusMessage"].as_str().unwrap();
    assert!(message.contains("stopped: its lease expired"), "{message}");
    let result = b.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["isError"], true);
    // The dead server's tool was orphaned; clean up.
    for pid in pids {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

#[test]
fn file_store_is_shared_between_two_servers() {
    let dir = tempdir::Dir::new();
    shared_between_two_servers(&file_store(&dir));
}

#[test]
fn postgres_store_is_shared_between_two_servers() {
    shared_between_two_servers(&postgres_url());
}

#[test]
fn file_store_tasks_are_found_after_a_restart() {
    let dir = tempdir::Dir::new();
    found_after_restart(&file_store(&dir));
}

#[test]
fn postgres_store_tasks_are_found_after_a_restart() {
    found_after_restart(&postgres_url());
}

#[test]
fn file_store_task_of_a_killed_server_fails() {
    let dir = tempdir::Dir::new();
    lost_executor_fails(&file_store(&dir));
}

#[test]
fn postgres_store_task_of_a_killed_server_fails() {
    lost_executor_fails(&postgres_url());
}

/// SIGKILL under a stream of creations: every task whose CreateTaskResult arrived is there
/// after the restart, and the file opens cleanly.
#[test]
fn file_store_keeps_every_acknowledged_task_through_a_crash() {
    let dir = tempdir::Dir::new();
    let store = file_store(&dir);
    let mut a = start(&store);
    // Fire creations without waiting, collect what was acknowledged, then kill mid-stream.
    let sent: Vec<u64> = (0..300)
        .map(|i| {
            a.send(
                "tools/call",
                json!({ "name": "echo", "arguments": { "msg": format!("n{i}") }, "task": {} }),
            )
        })
        .collect();
    let mut acknowledged = Vec::new();
    for id in &sent[..100] {
        let created = a.response(*id).expect("created");
        acknowledged.push(created["task"]["taskId"].as_str().unwrap().to_string());
    }
    a.kill_hard();
    // Whatever else arrived before the kill was acknowledged too.
    for message in a.drain() {
        if let Some(task_id) = message["result"]["task"]["taskId"].as_str() {
            acknowledged.push(task_id.to_string());
        }
    }
    let mut b = start(&store);
    for id in &acknowledged {
        let task = b.request("tasks/get", json!({ "taskId": id }));
        assert!(
            task.is_ok(),
            "task {id} was acknowledged but is lost: {task:?}"
        );
    }
    eprintln!(
        "{} acknowledged tasks found after SIGKILL",
        acknowledged.len()
    );
}

#[test]
fn bad_store_configuration_is_one_line_and_exit_2() {
    let dir = tempdir::Dir::new();
    let unwritable = dir.path().join("no/such/dir/tasks.db");
    for (store, says) in [
        (
            "redis://127.0.0.1".to_string(),
            "unknown store 'redis://127.0.0.1'",
        ),
        (
            format!("file:{}", unwritable.display()),
            "cannot open the task store file",
        ),
        (
            "postgres://postgres@127.0.0.1:1/test".to_string(),
            "cannot open the task store at postgres://postgres@127.0.0.1:1/test",
        ),
    ] {
        let out = Command::new(binary())
            .args(["serve", "--store", &store])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{store}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{store}: {stderr}");
        assert!(stderr.starts_with("mcp-tasks: error: "), "{stderr}");
        assert!(stderr.contains(says), "{store}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}
