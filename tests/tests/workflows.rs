//! Workflows through the real binaries: a tool made of steps runs them in order as one task, each
//! step given the output of the one before; `tasks/get` shows the steps and their outputs in
//! `_meta`; a failing middle step fails the workflow and the steps after it never run; a cancel
//! stops the running step; a queued workflow runs on a worker sharing the store.

use mcp_tasks_e2e::{Server, Worker, postgres_url, read_pids, tempdir, wait_until_dead};
use serde_json::{Value, json};

/// `$DIR` is the server's directory: each step logs its runs there.
const TOOLS: &str = r#"
[server]
poll_interval_ms = 100

[[tools]]
name = "fetch"
description = "Fetch n rows"
command = ["sh", "-c", 'echo fetch >> "$0"; echo "{\"rows\": $1, \"source\": \"db\"}"', "$DIR/steps.log", "{n}"]
input_schema = { type = "object", properties = { n = { type = "integer" } }, required = ["n"] }
output_schema = { type = "object", properties = { rows = { type = "integer" } } }

[[tools]]
name = "double"
description = "Double the rows"
command = ["sh", "-c", 'echo double >> "$0"; echo "{\"rows\": $(( $1 * 2 ))}"', "$DIR/steps.log", "{rows}"]
input_schema = { type = "object", properties = { rows = { type = "integer" } }, required = ["rows"] }
output_schema = { type = "object", properties = { rows = { type = "integer" } } }

[[tools]]
name = "check"
description = "Refuse more than 100 rows"
command = ["sh", "-c", 'echo check >> "$0"; if [ "$1" -gt 100 ]; then echo "too many rows: $1" >&2; exit 3; fi; echo "{\"rows\": $1}"', "$DIR/steps.log", "{rows}"]
input_schema = { type = "object", properties = { rows = { type = "integer" } }, required = ["rows"] }
output_schema = { type = "object", properties = { rows = { type = "integer" } } }

[[tools]]
name = "report"
description = "Say how many rows"
command = ["sh", "-c", 'echo report >> "$0"; echo "total rows: $1"', "$DIR/steps.log", "{rows}"]
input_schema = { type = "object", properties = { rows = { type = "integer" } }, required = ["rows"] }

[[tools]]
name = "hang"
description = "Record its PIDs and sleep"
command = ["sh", "-c", 'sleep 300 & echo $$ $! > "$0"; wait', "$DIR/hang.pid"]

[[tools]]
name = "pipeline"
steps = ["fetch", "double", "report"]

[[tools]]
name = "strict"
steps = ["fetch", "check", "report"]

[[tools]]
name = "stuck"
steps = ["fetch", "hang"]
"#;

fn start(args: &[&str]) -> Server {
    let mut s = Server::start(TOOLS, args);
    s.initialize();
    s
}

fn steps_run(s: &Server) -> Vec<String> {
    std::fs::read_to_string(s.dir.path().join("steps.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn terminal(task: &Value) -> bool {
    ["completed", "failed", "cancelled"].contains(&task["status"].as_str().unwrap_or(""))
}

/// A three-step workflow completes with each output passed on, and a failing middle step fails
/// another; on the store `args` name.
fn a_workflow_completes_and_a_failing_step_fails_one(args: &[&str]) {
    let mut s = start(args);
    let tools = s.request("tools/list", json!({})).unwrap();
    let pipeline = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pipeline")
        .unwrap()
        .clone();
    // Task-only, with its first step's arguments.
    assert_eq!(pipeline["execution"]["taskSupport"], "required");
    assert_eq!(pipeline["inputSchema"]["required"], json!(["n"]));

    let id = s.create_task("pipeline", json!({ "n": 21 }));
    let done = s.poll_task(&id, "terminal", terminal);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["_meta"]["mcp-tasks/workflow"],
        json!({ "step": 3, "of": 3, "steps": [
            { "tool": "fetch", "status": "completed", "output": { "rows": 21, "source": "db" } },
            { "tool": "double", "status": "completed", "output": { "rows": 42 } },
            { "tool": "report", "status": "completed", "output": { "text": "total rows: 42" } },
        ] })
    );
    let result = s.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["content"][0]["text"], "total rows: 42\n");
    assert_eq!(steps_run(&s), ["fetch", "double", "report"]);

    // 21 rows pass the check; 210 do not, and the report never runs.
    let id = s.create_task("strict", json!({ "n": 210 }));
    let failed = s.poll_task(&id, "terminal", terminal);
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(
        failed["statusMessage"],
        "Step 2 of 3 (check): 'sh' exited with status 3: too many rows: 210"
    );
    let steps = &failed["_meta"]["mcp-tasks/workflow"]["steps"];
    assert_eq!(
        (
            &steps[0]["status"],
            &steps[1]["status"],
            &steps[2]["status"]
        ),
        (&json!("completed"), &json!("failed"), &json!("pending"))
    );
    let result = s.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["isError"], true);
    assert_eq!(steps_run(&s)[3..], ["fetch", "check"]);
}

#[test]
fn a_workflow_passes_each_output_on_and_a_failing_step_fails_it_on_a_file_store() {
    let dir = tempdir::Dir::new();
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    a_workflow_completes_and_a_failing_step_fails_one(&["--store", &store]);
}

#[test]
fn a_workflow_passes_each_output_on_and_a_failing_step_fails_it_on_postgres() {
    a_workflow_completes_and_a_failing_step_fails_one(&["--store", &postgres_url()]);
}

#[test]
fn a_cancel_stops_the_running_step_and_nothing_follows() {
    let mut s = start(&[]);
    let id = s.create_task("stuck", json!({ "n": 1 }));
    let pids = read_pids(&s.dir.path().join("hang.pid"), 2);
    let working = s.request("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(working["statusMessage"], "Step 2 of 2 (hang) started.");
    s.request("tasks/cancel", json!({ "taskId": id })).unwrap();
    wait_until_dead(&pids, "the cancelled step's processes");
    let cancelled = s.request("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["_meta"]["mcp-tasks/workflow"]["steps"][1]["status"],
        "cancelled"
    );
}

#[test]
fn a_queued_workflow_runs_on_a_worker_sharing_the_store() {
    let store = postgres_url();
    let mut s = start(&["--store", &store, "--run", "queue"]);
    let id = s.create_task("pipeline", json!({ "n": 5 }));
    let queued = s.request("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(
        queued["_meta"]["mcp-tasks/workflow"]["steps"][0]["status"],
        "pending"
    );
    let _worker = Worker::start(&s.dir.path().join("tools.toml"), &store);
    let done = s.poll_task(&id, "terminal", terminal);
    assert_eq!(done["status"], "completed", "{done}");
    let result = s.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["content"][0]["text"], "total rows: 10\n");
}

#[test]
fn the_documented_workflow_runs_as_written() {
    let doc = std::fs::read_to_string(mcp_tasks_e2e::root().join("docs/tools.md")).unwrap();
    let section = &doc[doc.find("## Workflows").expect("a Workflows section")..];
    let start = section.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let mut s = Server::start(example, &[]);
    s.initialize();
    let id = s.create_task("pipeline", json!({ "n": 21 }));
    let done = s.poll_task(&id, "terminal", terminal);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["_meta"]["mcp-tasks/workflow"]["steps"][0]["output"],
        json!({ "rows": 21 })
    );
    let result = s.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["content"][0]["text"], "total rows: 21\n");
}
