//! Retries: a failed run runs again while its tool has attempts left.

use super::*;

pub(super) fn failed_result(text: &str) -> Outcome {
    Outcome::Result(
        json!({ "content": [{ "type": "text", "text": text }], "isError": true }).to_string(),
    )
}

impl Harness {
    /// A legacy task on `flaky` (three attempts, a second's backoff, doubling): its ID and run.
    pub(super) fn create_flaky(&self) -> (String, String) {
        let actions = self.request("tools/call", json!({ "name": "flaky", "task": {} }));
        let id = response(&actions).unwrap()["task"]["taskId"]
            .as_str()
            .unwrap()
            .to_string();
        (id, run_of(&actions).token)
    }
}

#[test]
fn a_failed_attempt_is_retried_after_its_backoff_and_only_the_last_failure_fails() {
    let h = Harness::new();
    let (id, token) = h.create_flaky();
    let start = h.now.get();
    h.finish(&token, failed_result("disk full"), Some("disk full"));
    let waiting = h.stored(&id);
    assert_eq!(waiting.status, Status::Working);
    assert_eq!(waiting.executor, None);
    assert_eq!(waiting.lease_until, Some(start + 1_000));
    assert!(
        waiting
            .status_message
            .as_deref()
            .unwrap()
            .starts_with("Attempt 1 of 3 failed: disk full. Attempt 2 starts at "),
        "{waiting:?}"
    );
    // Not before its time; then this host claims it and runs attempt 2.
    h.now.set(start + 999);
    assert!(
        h.sweep(&[])
            .iter()
            .all(|a| !matches!(a, Action::RunTool(_)))
    );
    h.now.set(start + 1_000);
    let again = run_of(&h.sweep(&[]));
    assert_eq!(again.token, token);
    assert_eq!(again.task_id.as_deref(), Some(id.as_str()));
    let running = h.stored(&id);
    assert_eq!(
        (running.attempt, running.executor.as_deref()),
        (2, Some("host-a"))
    );
    assert_eq!(
        running.status_message.as_deref(),
        Some("Attempt 2 of 3 started.")
    );
    // The second failure waits twice as long; the third is final.
    h.finish(&token, Outcome::Error(RpcError::internal("boom")), None);
    assert_eq!(h.stored(&id).lease_until, Some(start + 1_000 + 2_000));
    h.now.set(start + 3_000);
    run_of(&h.sweep(&[]));
    assert_eq!(h.stored(&id).attempt, 3);
    assert_eq!(h.status(&id).0, "working");
    h.finish(
        &token,
        failed_result("disk still full"),
        Some("disk still full"),
    );
    assert_eq!(
        h.status(&id),
        ("failed".into(), Some("disk still full".into()))
    );
}

#[test]
fn a_success_on_a_later_attempt_completes_and_a_cancel_in_the_backoff_ends_the_retries() {
    let h = Harness::new();
    let (id, token) = h.create_flaky();
    h.finish(&token, failed_result("try again"), None);
    h.now.set(h.now.get() + 1_000);
    run_of(&h.sweep(&[]));
    h.finish(&token, ok_result("done"), None);
    assert_eq!(h.status(&id).0, "completed");
    assert_eq!(h.stored(&id).attempt, 2);

    let (id, token) = h.create_flaky();
    h.finish(&token, failed_result("try again"), None);
    h.call("tasks/cancel", json!({ "taskId": id })).unwrap();
    h.now.set(h.now.get() + 5_000);
    assert!(
        h.sweep(&[])
            .iter()
            .all(|a| !matches!(a, Action::RunTool(_)))
    );
    assert_eq!(h.status(&id).0, "cancelled");
}

#[test]
fn a_task_whose_host_died_runs_again_on_another_while_attempts_remain() {
    let h = Harness::new();
    let (id, _) = h.create_flaky();
    // Host A stops renewing; host B sweeps after the lease.
    *h.executor.borrow_mut() = "host-b".into();
    h.now.set(h.now.get() + 10_000);
    let run = run_of(&h.sweep(&[]));
    assert_eq!(run.task_id.as_deref(), Some(id.as_str()));
    let task = h.stored(&id);
    assert_eq!(
        (task.attempt, task.executor.as_deref()),
        (2, Some("host-b"))
    );
    assert_eq!(
        task.status_message.as_deref(),
        Some("Attempt 1 of 3 was lost with the server running it (host-a); attempt 2 started.")
    );
    // A tool with one attempt fails instead (as before retries).
    let (id, _) = h.create(None);
    *h.executor.borrow_mut() = "host-c".into();
    h.now.set(h.now.get() + 10_000);
    let swept = h.sweep(&[]);
    assert!(
        !swept
            .iter()
            .any(|a| matches!(a, Action::RunTool(r) if r.task_id.as_deref() == Some(id.as_str()))),
        "{swept:?}"
    );
    assert_eq!(h.status(&id).0, "failed");
}

// ---- De-duplication ----

#[test]
fn an_equal_call_within_the_window_gets_the_same_task_and_no_run() {
    let h = Harness::new();
    let call = |args: Value| {
        h.request(
            "tools/call",
            json!({ "name": "unique", "arguments": args, "task": {} }),
        )
    };
    let first = call(json!({ "a": 1, "b": [true, null] }));
    let id = response(&first).unwrap()["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(first.iter().any(|a| matches!(a, Action::RunTool(_))));
    // The same arguments in another order: the same task, nothing started.
    h.now.set(h.now.get() + 4_999);
    let again: Value = serde_json::from_str(r#"{"b":[true,null],"a":1}"#).unwrap();
    let second = call(again);
    assert_eq!(response(&second).unwrap()["task"]["taskId"], id.as_str());
    assert!(!second.iter().any(|a| matches!(a, Action::RunTool(_))));
    // In the other era too: the same owner and arguments.
    let modern = h.with_tasks(
        "tools/call",
        json!({ "name": "unique", "arguments": { "a": 1, "b": [true, null] } }),
    );
    assert_eq!(response(&modern).unwrap()["taskId"], id.as_str());
    // Other arguments, or after the window: another task.
    let other = call(json!({ "a": 2, "b": [true, null] }));
    assert_ne!(response(&other).unwrap()["task"]["taskId"], id.as_str());
    h.now.set(h.now.get() + 1);
    let later = call(json!({ "a": 1, "b": [true, null] }));
    let later_id = response(&later).unwrap()["task"]["taskId"].clone();
    assert_ne!(later_id, id.as_str());
    assert!(later.iter().any(|a| matches!(a, Action::RunTool(_))));
    // Both stay readable; a call within the new window finds the newer one.
    assert_eq!(h.status(&id).0, "working");
    let third = call(json!({ "a": 1, "b": [true, null] }));
    assert_eq!(response(&third).unwrap()["task"]["taskId"], later_id);
}
