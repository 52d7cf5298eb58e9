//! Workflows: steps in order, each given the output before.

use super::*;

impl Harness {
    /// A legacy task of the workflow `name`, with a progress token: its ID and first run.
    pub(super) fn create_workflow(
        &self,
        name: &str,
        arguments: Value,
    ) -> (String, crate::model::Run) {
        let actions = self.request(
            "tools/call",
            json!({ "name": name, "arguments": arguments, "task": {}, "_meta": { "progressToken": "p" } }),
        );
        let id = response(&actions).unwrap()["task"]["taskId"]
            .as_str()
            .unwrap()
            .to_string();
        (id, run_of(&actions))
    }

    /// What `tasks/get` shows of a workflow in `_meta`.
    pub(super) fn workflow_view(&self, id: &str) -> Value {
        self.call("tasks/get", json!({ "taskId": id })).unwrap()["_meta"]["mcp-tasks/workflow"]
            .clone()
    }
}

pub(super) fn structured_result(value: Value) -> Outcome {
    Outcome::Result(
        json!({ "content": [{ "type": "text", "text": value.to_string() }], "structuredContent": value })
            .to_string(),
    )
}

#[test]
fn a_workflow_runs_its_steps_in_order_each_given_the_output_before() {
    let h = Harness::new();
    let (id, first) = h.create_workflow("pipeline", json!({ "url": "u" }));
    assert_eq!(
        (first.tool.as_str(), first.arguments.as_str()),
        ("echo", r#"{"url":"u"}"#)
    );
    assert_eq!(
        h.status(&id),
        ("working".into(), Some("Step 1 of 3 (echo) started.".into()))
    );
    assert_eq!(
        h.workflow_view(&id),
        json!({ "step": 1, "of": 3, "steps": [
            { "tool": "echo", "status": "working" },
            { "tool": "flaky", "status": "pending" },
            { "tool": "needs_rows", "status": "pending" },
        ] })
    );
    // A step's report speaks for the workflow: its message prefixed, its progress a share.
    let reported = h.report(
        &first.token,
        Report {
            progress: Some(1.0),
            total: Some(2.0),
            message: Some("fetching".into()),
        },
    );
    let progress = reported
        .iter()
        .find_map(|a| match a {
            Action::Send(m) => Some(serde_json::from_str::<Value>(&m.message).unwrap()),
            _ => None,
        })
        .unwrap();
    assert_eq!(progress["params"]["progress"], 0.5);
    assert_eq!(progress["params"]["total"], 3);
    assert_eq!(
        h.status(&id).1.as_deref(),
        Some("Step 1 of 3 (echo): fetching")
    );

    // Step 1's text goes on as {"text": ...}; the same run token, attempt 1 of the next step.
    let actions = h.finish(&first.token, ok_result("page"), None);
    let second = run_of(&actions);
    assert_eq!(second.token, first.token);
    assert_eq!(
        (second.tool.as_str(), second.arguments.as_str()),
        ("flaky", r#"{"text":"page"}"#)
    );
    let sent: Vec<Value> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(m) => serde_json::from_str(&m.message).ok(),
            _ => None,
        })
        .collect();
    assert!(
        sent.iter().any(|m| m["method"] == "notifications/progress"
            && m["params"]["progress"] == 1
            && m["params"]["total"] == 3),
        "{sent:?}"
    );
    assert_eq!(
        h.status(&id),
        (
            "working".into(),
            Some("Step 2 of 3 (flaky) started.".into())
        )
    );

    // Step 2 fails once and is retried by its own tool's attempts, saying which step.
    h.finish(&second.token, failed_result("timeout"), Some("timeout"));
    let waiting = h.stored(&id);
    assert!(
        waiting.status_message.as_deref().unwrap().starts_with(
            "Step 2 of 3 (flaky): Attempt 1 of 3 failed: timeout. Attempt 2 starts at "
        ),
        "{waiting:?}"
    );
    h.now.set(h.now.get() + 1_000);
    let again = run_of(&h.sweep(&[]));
    assert_eq!(
        (again.tool.as_str(), again.arguments.as_str()),
        ("flaky", r#"{"text":"page"}"#)
    );
    assert_eq!(h.stored(&id).attempt, 2);

    // Its structured content becomes the last step's arguments.
    let third = run_of(&h.finish(&again.token, structured_result(json!({ "rows": 3 })), None));
    assert_eq!(
        (third.tool.as_str(), third.arguments.as_str()),
        ("needs_rows", r#"{"rows":3}"#)
    );
    assert_eq!(h.stored(&id).attempt, 1);
    h.finish(&third.token, ok_result("3 rows analysed"), None);
    assert_eq!(h.status(&id).0, "completed");
    assert_eq!(
        h.workflow_view(&id),
        json!({ "step": 3, "of": 3, "steps": [
            { "tool": "echo", "status": "completed", "output": { "text": "page" } },
            { "tool": "flaky", "status": "completed", "output": { "rows": 3 } },
            { "tool": "needs_rows", "status": "completed", "output": { "text": "3 rows analysed" } },
        ] })
    );
    // The workflow's result is its last step's.
    let result = h.call("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["content"][0]["text"], "3 rows analysed");
}

#[test]
fn a_failed_step_fails_the_workflow_and_a_cancel_stops_it() {
    let h = Harness::new();
    // A step whose input lacks what it requires fails the workflow before it runs.
    let (id, first) = h.create_workflow("pipeline", json!({}));
    let second = run_of(&h.finish(&first.token, ok_result("x"), None));
    let actions = h.finish(&second.token, ok_result("no rows here"), None);
    assert!(actions.iter().all(|a| !matches!(a, Action::RunTool(_))));
    let (status, message) = h.status(&id);
    assert_eq!(status, "failed");
    assert_eq!(
        message.as_deref(),
        Some(
            "Step 3 of 3 (needs_rows) cannot start: Invalid arguments for tool 'needs_rows': \
             missing required argument(s): rows"
        )
    );
    assert_eq!(h.workflow_view(&id)["steps"][2]["status"], "failed");

    // A step's final failure is the workflow's, saying which step; later steps never run.
    let (id, first) = h.create_workflow("pipeline", json!({}));
    h.finish(&first.token, failed_result("404"), Some("not found"));
    assert_eq!(
        h.status(&id),
        (
            "failed".into(),
            Some("Step 1 of 3 (echo): not found".into())
        )
    );
    let result = h.call("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["content"][0]["text"], "404");
    assert_eq!(h.workflow_view(&id)["steps"][1]["status"], "pending");

    // A step that is not a tool here fails the workflow when its turn comes.
    let (id, first) = h.create_workflow("broken", json!({}));
    h.finish(&first.token, ok_result("x"), None);
    assert_eq!(
        h.status(&id),
        (
            "failed".into(),
            Some("Step 2 of 2 (missing) cannot start: no tool of that name here".into())
        )
    );

    // A cancel stops the running step and nothing follows it.
    let (id, first) = h.create_workflow("pipeline", json!({}));
    let second = run_of(&h.finish(&first.token, ok_result("x"), None));
    let cancel = h.request("tasks/cancel", json!({ "taskId": id }));
    assert!(cancel.contains(&Action::StopTool(second.token.clone())));
    let late = h.finish(&second.token, ok_result("late"), None);
    assert!(late.iter().all(|a| !matches!(a, Action::RunTool(_))));
    assert_eq!(h.status(&id).0, "cancelled");
    assert_eq!(h.workflow_view(&id)["steps"][1]["status"], "cancelled");
}

#[test]
fn a_workflow_runs_only_as_a_task_and_a_queued_one_starts_at_its_first_step() {
    let h = Harness::new();
    h.initialize(json!({}));
    // Listed as task-only whatever its own setting; a plain call is refused.
    let tools = h.call("tools/list", json!({})).unwrap();
    let pipeline = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pipeline")
        .cloned()
        .unwrap();
    assert_eq!(pipeline["execution"]["taskSupport"], "required");
    let plain = h.call("tools/call", json!({ "name": "pipeline", "arguments": {} }));
    assert_eq!(plain.unwrap_err()["code"], -32601);

    h.server.queue.set(true);
    let actions = h.request("tools/call", json!({ "name": "pipeline", "task": {} }));
    assert!(actions.iter().all(|a| !matches!(a, Action::RunTool(_))));
    let id = response(&actions).unwrap()["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(h.workflow_view(&id)["steps"][0]["status"], "pending");
    h.server.queue.set(false);
    let run = run_of(&h.sweep(&[]));
    assert_eq!((run.tool.as_str(), run.arguments.as_str()), ("echo", "{}"));
    assert_eq!(
        h.status(&id).1.as_deref(),
        Some("Step 1 of 3 (echo): Attempt 1 of 1 started.")
    );
}
