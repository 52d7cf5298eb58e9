//! De-duplication through the real binary: a call of a tool with `dedup_window_ms` whose owner
//! and arguments equal an earlier call's within the window gets that call's task, through
//! whichever server sharing the store it reaches; the tool ran once.

use mcp_tasks_e2e::{Server, tempdir};
use serde_json::{Value, json};

const TOOLS: &str = r#"
[server]
poll_interval_ms = 100

[[tools]]
name = "report"
description = "Build a report (counts its runs)"
command = ["sh", "-c", 'echo run >> "$0"; echo "report for $1"', "$DIR/report.runs", "{month}"]
task_support = "optional"
dedup_window_ms = 60000
input_schema = { type = "object", properties = { month = { type = "string" }, format = { type = "string" } }, required = ["month"] }
"#;

fn start(store: &str, dir: &str) -> Server {
    // Both servers count the runs in the same file.
    let tools = TOOLS.replace("$DIR", dir);
    let mut s = Server::start(&tools, &["--owner", "alice", "--store", store]);
    s.initialize();
    s
}

fn call(s: &mut Server, arguments: Value) -> String {
    s.create_task("report", arguments)
}

#[test]
fn an_equal_call_within_the_window_gets_the_same_task_through_any_server() {
    let dir = tempdir::Dir::new();
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    let shared = dir.path().display().to_string();
    let mut a = start(&store, &shared);
    let mut b = start(&store, &shared);

    let first = call(&mut a, json!({ "month": "2026-10", "format": "pdf" }));
    // The same arguments, in another order, through the other server.
    let again: Value = serde_json::from_str(r#"{"format":"pdf","month":"2026-10"}"#).unwrap();
    assert_eq!(call(&mut b, again), first);
    // Other arguments: another task.
    let other = call(&mut b, json!({ "month": "2026-11", "format": "pdf" }));
    assert_ne!(other, first);

    for (server, id) in [(&mut a, &first), (&mut b, &other)] {
        let done = server.poll_task(id, "completed", |t| t["status"] == "completed");
        assert_eq!(done["status"], "completed");
    }
    // Two tasks, two runs: the duplicate started nothing.
    let runs = std::fs::read_to_string(dir.path().join("report.runs")).unwrap();
    assert_eq!(runs.lines().count(), 2);
    // After completion, still within the window, an equal call still gets the first task.
    assert_eq!(
        call(&mut a, json!({ "month": "2026-10", "format": "pdf" })),
        first
    );
}
