//! `mcp-tasks admin` through the real binary, on a SQLite file and on PostgreSQL: servers of
//! two owners make tasks, and the operator lists them with filters, reads one whole with its
//! history, cancels a tool running in a server, retries, purges, and reads the queues.

use std::process::Command;

use mcp_tasks_e2e::{Server, binary, postgres_url, read_pids, tempdir, wait_until_dead};
use serde_json::{Value, json};

/// `$SHARED` is a directory the servers share: either may run a task's next attempt.
const TOOLS: &str = r#"
[server]
poll_interval_ms = 100
lease_ms = 1000

[[tools]]
name = "echo"
description = "Print the text"
command = ["sh", "-c", 'echo "$0"', "{text}"]
task_support = "optional"
input_schema = { type = "object", properties = { text = { type = "string" } }, required = ["text"] }

[[tools]]
name = "ask_then_flaky"
description = "The first run asks a question, then fails; the second completes"
command = ["sh", "-c", 'read args; if [ -e "$0" ]; then echo "second run done"; else touch "$0"; echo "{\"message\":\"Go?\",\"requestedSchema\":{\"type\":\"object\",\"properties\":{}}}" >&3; read answer; echo "first run broke" >&2; exit 1; fi', "$SHARED/flaky.marker"]
task_support = "optional"
questions = true
max_attempts = 2
retry_backoff_ms = 100

[[tools]]
name = "hang_first"
description = "The first run records its PID and hangs; a later run answers at once"
command = ["sh", "-c", 'if [ -e "$0.started" ]; then echo "done on a later run"; else touch "$0.started"; echo $$ > "$0"; exec sleep 300; fi', "$SHARED/hang.pid"]
task_support = "optional"
grace_secs = 0.5
"#;

/// The output of `mcp-tasks admin --store STORE ARGS…`: exit code, stdout, stderr.
fn admin(store: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(["admin", "--store", store, "--as", "ops"])
        .args(args)
        .output()
        .expect("run mcp-tasks admin");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `admin` that must succeed, its stdout parsed as JSON.
fn admin_json(store: &str, args: &[&str]) -> Value {
    let (code, out, err) = admin(store, args);
    assert_eq!(code, 0, "admin {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("admin {args:?}: {e}: {out}"))
}

fn ids(listing: &Value) -> Vec<String> {
    listing["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

fn server(store: &str, owner: &str, shared: &std::path::Path) -> Server {
    let tools = TOOLS.replace("$SHARED", &shared.display().to_string());
    let mut s = Server::start(&tools, &["--owner", owner, "--store", store]);
    s.request(
        "initialize",
        json!({ "protocolVersion": "2025-11-25", "capabilities": { "elicitation": {} },
                "clientInfo": { "name": "e2e", "version": "1" } }),
    )
    .expect("initialize");
    s.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    s
}

fn operate(store: &str) {
    let shared = tempdir::Dir::new();
    let mut alice = server(store, "alice", shared.path());
    let mut bob = server(store, "bob", shared.path());

    // A task that asks, fails its first attempt, is retried by the router and completes.
    let flaky = alice.create_task("ask_then_flaky", json!({}));
    // Over stdio a question follows the tasks/get that shows it.
    alice.poll_task(&flaky, "input_required", |t| {
        t["status"] == "input_required"
    });
    let asked = alice.server_request("elicitation/create", "ElicitRequest");
    alice.respond(&asked["id"], json!({ "action": "accept", "content": {} }));
    alice.poll_task(&flaky, "completed", |t| t["status"] == "completed");
    let shown = admin_json(store, &["tasks", "show", &flaky, "--json"]);
    let steps: Vec<(&str, &str)> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("created", "working"),
            ("attempt-started", "working"),
            ("asked", "input_required"),
            ("status", "input_required"),
            ("answered", "working"),
            ("status", "working"),
            ("attempt-ended", "working"),
            ("attempt-started", "working"),
            ("attempt-ended", "completed"),
            ("status", "completed"),
        ],
        "{shown:#}"
    );
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history[0]["by"], "alice");
    assert_eq!(history[0]["detail"], "stdio");
    assert!(
        history[6]["detail"]
            .as_str()
            .unwrap()
            .contains("first run broke")
    );
    assert_eq!(history[7]["attempt"], 2);
    for e in history {
        assert!(!e["host"].as_str().unwrap().is_empty(), "{e}");
    }
    assert_eq!(shown["result"]["content"][0]["text"], "second run done\n");
    assert_eq!(shown["tool"], "ask_then_flaky");
    // Its text view tells the same.
    let (code, text, _) = admin(store, &["tasks", "show", &flaky]);
    assert_eq!(code, 0);
    assert!(
        text.contains("attempt-ended") && text.contains("by alice"),
        "{text}"
    );

    // Filters: status, owner, tool, text, times, paging.
    let echoes: Vec<String> = (0..3)
        .map(|i| bob.create_task("echo", json!({ "text": format!("hi {i}") })))
        .collect();
    for id in &echoes {
        bob.poll_task(id, "completed", |t| t["status"] == "completed");
    }
    let hang = alice.create_task("hang_first", json!({}));
    let pid = read_pids(&shared.path().join("hang.pid"), 1);

    let bobs = admin_json(store, &["tasks", "list", "--owner", "bob", "--json"]);
    assert_eq!(ids(&bobs), echoes);
    let working = admin_json(store, &["tasks", "list", "--status", "working", "--json"]);
    assert_eq!(ids(&working), [hang.as_str()]);
    let by_tool = admin_json(
        store,
        &["tasks", "list", "--tool", "ask_then_flaky", "--json"],
    );
    assert_eq!(ids(&by_tool), [flaky.as_str()]);
    let none = admin_json(
        store,
        &[
            "tasks",
            "list",
            "--created-after",
            "1h",
            "--created-before",
            "59m",
            "--json",
        ],
    );
    assert_eq!(ids(&none), Vec::<String>::new());
    let recent = admin_json(
        store,
        &[
            "tasks",
            "list",
            "--created-after",
            "1h",
            "--status",
            "completed",
            "--json",
        ],
    );
    assert_eq!(ids(&recent).len(), 4);
    let first = admin_json(
        store,
        &["tasks", "list", "--owner", "bob", "--limit", "2", "--json"],
    );
    assert_eq!(ids(&first), echoes[..2]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let rest = admin_json(
        store,
        &[
            "tasks", "list", "--owner", "bob", "--cursor", cursor, "--json",
        ],
    );
    assert_eq!(ids(&rest), echoes[2..]);
    assert_eq!(rest["nextCursor"], Value::Null);

    // Queues: the hanging task runs on alice's server.
    let queues = admin_json(store, &["queues", "--json"]);
    let hanging = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["tool"] == "hang_first")
        .unwrap_or_else(|| panic!("{queues}"));
    assert_eq!(
        (hanging["running"].as_u64(), hanging["waiting"].as_u64()),
        (Some(1), Some(0))
    );

    // Cancel: the tool in alice's server stops; the message, the text filter and the history
    // say who did it.
    let (code, out, err) = admin(store, &["tasks", "cancel", &hang]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("cancelled {hang}"));
    wait_until_dead(&pid, "the cancelled tool");
    let cancelled = alice.poll_task(&hang, "cancelled", |t| t["status"] == "cancelled");
    assert_eq!(
        cancelled["statusMessage"],
        "The task was cancelled by admin:ops."
    );
    let texts = admin_json(
        store,
        &["tasks", "list", "--text", "CANCELLED BY admin", "--json"],
    );
    assert_eq!(ids(&texts), [hang.as_str()]);
    let (code, _, err) = admin(store, &["tasks", "cancel", &hang]);
    assert_eq!(code, 2);
    assert!(err.contains("already cancelled"), "{err}");

    // Retry: a new linked task, run by a server; the old one stays as it was.
    let before = admin_json(store, &["tasks", "show", &hang, "--json"]);
    let (code, out, err) = admin(store, &["tasks", "retry", &hang]);
    assert_eq!(code, 0, "{err}");
    let retried = out.trim().to_string();
    let done = alice.poll_task(&retried, "completed", |t| t["status"] == "completed");
    assert_eq!(done["_meta"]["mcp-tasks/retry-of"], hang.as_str());
    let old = alice
        .request("tasks/get", json!({ "taskId": hang }))
        .unwrap();
    assert_eq!(old["status"], "cancelled");
    assert_eq!(old["_meta"]["mcp-tasks/retried-as"], retried.as_str());
    let after = admin_json(store, &["tasks", "show", &hang, "--json"]);
    for field in [
        "status",
        "statusMessage",
        "lastUpdatedAt",
        "result",
        "error",
        "owner",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(
        after["history"].as_array().unwrap().last().unwrap()["event"],
        "retried"
    );
    let new = admin_json(store, &["tasks", "show", &retried, "--json"]);
    assert_eq!(
        (new["owner"].as_str(), new["retryOf"].as_str()),
        (Some("alice"), Some(hang.as_str()))
    );
    assert_eq!(new["history"][0]["by"], "admin:ops");
    let (code, _, err) = admin(store, &["tasks", "retry", &echoes[0]]);
    assert_eq!(code, 2);
    assert!(
        err.contains("only failed or cancelled tasks are retried"),
        "{err}"
    );

    // Purge: exactly the finished tasks of the statuses asked for, older than asked.
    let (code, out, _) = admin(
        store,
        &[
            "tasks",
            "purge",
            "--status",
            "cancelled",
            "--older-than",
            "0s",
            "--dry-run",
        ],
    );
    assert_eq!(
        (code, out.trim()),
        (0, format!("would purge {hang}").as_str())
    );
    let (code, _, err) = admin(
        store,
        &[
            "tasks",
            "purge",
            "--status",
            "completed",
            "--older-than",
            "1h",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        ids(&admin_json(store, &["tasks", "list", "--json"])).len(),
        6
    );
    let (code, out, err) = admin(
        store,
        &[
            "tasks",
            "purge",
            "--status",
            "cancelled",
            "--older-than",
            "0s",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("purged {hang}"));
    let left = ids(&admin_json(store, &["tasks", "list", "--json"]));
    assert_eq!(left.len(), 5);
    assert!(!left.contains(&hang));
    let (code, _, err) = admin(
        store,
        &[
            "tasks",
            "purge",
            "--status",
            "working",
            "--older-than",
            "0s",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("cancel them first"), "{err}");

    // Bad input: one clear line, exit code 2.
    for (args, says) in [
        (
            vec!["tasks", "show", "no-such-task"],
            "no task no-such-task",
        ),
        (
            vec!["tasks", "list", "--status", "done"],
            "unknown status 'done'",
        ),
        (
            vec!["tasks", "list", "--created-after", "yesterday"],
            "cannot read the time 'yesterday'",
        ),
    ] {
        let (code, out, err) = admin(store, &args);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn an_operator_sees_and_steers_tasks_on_a_sqlite_file() {
    let dir = tempdir::Dir::new();
    operate(&format!("file:{}", dir.path().join("tasks.db").display()));
}

#[test]
fn an_operator_sees_and_steers_tasks_on_postgres() {
    operate(&postgres_url());
}

#[test]
fn a_bad_store_is_one_line_and_exit_code_2() {
    for (store, says) in [
        ("nosuch:x", "unknown store 'nosuch:x'"),
        (
            "memory",
            "a memory store lives in the process that serves it",
        ),
        (
            "postgres://nobody@127.0.0.1:1/none",
            "cannot open the task store",
        ),
    ] {
        let (code, out, err) = admin(store, &["tasks", "list"]);
        assert_eq!((code, out.as_str()), (2, ""), "{store}: {err}");
        assert_eq!(err.lines().count(), 1, "{store}: {err}");
        assert!(err.contains(says), "{store}: {err}");
    }
}
