//! A host that shuts down: it stops claiming, hands its tasks' runs back without spending an
//! attempt (or fails them when no host will see them again), and answers its plain calls.

use super::*;

#[test]
fn a_draining_host_claims_nothing_but_keeps_its_runs_leases() {
    let h = Harness::new();
    let id = h.queued_echo();
    assert!(h.sweep_draining(&[]).is_empty(), "a draining host claims");
    assert_eq!(h.stored(&id).attempt, 0);

    // A run it has: its lease is renewed as on any sweep.
    let run = run_of(&h.sweep(&[]));
    let leased = h.stored(&id).lease_until.unwrap();
    h.now.set(leased - 1);
    h.sweep_draining(&[&run.token]);
    assert!(h.stored(&id).lease_until.unwrap() > leased);
}

#[test]
fn a_task_handed_back_runs_the_same_attempt_on_the_next_host() {
    let h = Harness::new();
    h.initialize(json!({ "elicitation": {} }));
    let (id, token) = h.create_flaky();
    // The run asked a question before the host stopped.
    h.ask(&token, question());
    assert_eq!(h.status(&id).0, "input_required");

    let changed = h.released(&token, true);
    let handed = h.stored(&id);
    assert_eq!(handed.status, Status::Working);
    assert_eq!(
        (handed.executor.as_deref(), handed.attempt),
        (None, 0),
        "{handed:?}"
    );
    assert_eq!(handed.lease_until, Some(h.now.get()));
    assert!(handed.input_requests.is_empty());
    assert_eq!(
        handed.status_message.as_deref(),
        Some(
            "The server running attempt 1 (host-a) stopped before it finished; the attempt \
             starts again on the next server to claim the task."
        )
    );
    // The client sees the task working again.
    assert!(
        sent(&changed)
            .iter()
            .any(|m| m["method"] == "notifications/tasks/status"
                && m["params"]["status"] == "working")
    );

    // The next host claims it at once, and it is attempt 1 still.
    *h.executor.borrow_mut() = "host-b".into();
    let again = run_of(&h.sweep(&[]));
    assert_eq!(again.task_id.as_deref(), Some(id.as_str()));
    let claimed = h.stored(&id);
    assert_eq!(
        (claimed.attempt, claimed.executor.as_deref()),
        (1, Some("host-b"))
    );
    assert_eq!(
        claimed.status_message.as_deref(),
        Some("Attempt 1 of 3 started.")
    );
    h.finish(&again.token, ok_result("done"), None);
    assert_eq!(h.status(&id).0, "completed");
}

#[test]
fn a_task_no_host_will_see_again_fails_saying_the_server_stopped() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    let changed = h.released(&token, false);
    let failed = h.stored(&id);
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(
        failed.status_message.as_deref(),
        Some("The server running this task (host-a) stopped before its tool finished.")
    );
    assert!(
        sent(&changed)
            .iter()
            .any(|m| m["params"]["status"] == "failed")
    );

    // A modern task fails with the JSON-RPC error that says so.
    let (modern_id, modern_token) = h.create_modern();
    h.released(&modern_token, false);
    match h.stored(&modern_id).outcome {
        Some(Outcome::Error(e)) => assert_eq!(e.code, code::SERVER_STOPPING),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_task_that_ended_or_moved_to_another_host_is_left_as_it_is() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    h.call("tasks/cancel", json!({ "taskId": id })).unwrap();
    let cancelled = h.stored(&id);
    assert!(h.released(&token, true).is_empty());
    assert_eq!(h.stored(&id), cancelled);

    let (id, token) = h.create(None);
    h.store.tasks.borrow_mut().get_mut(&id).unwrap().executor = Some("host-b".into());
    let taken = h.stored(&id);
    assert!(h.released(&token, true).is_empty());
    assert!(h.released(&token, false).is_empty());
    assert_eq!(h.stored(&id), taken);
}

#[test]
fn a_plain_call_stopped_at_shutdown_is_answered_with_the_stopping_error() {
    let h = Harness::new();
    let legacy = run_of(&h.request("tools/call", json!({ "name": "echo" })));
    let error = response(&h.released(&legacy.token, true)).unwrap_err();
    assert_eq!(error["code"], code::SERVER_STOPPING);
    assert_eq!(
        error["message"],
        "The server is stopping: the tool was stopped before it finished"
    );
    let modern = run_of(&h.modern("tools/call", json!({ "name": "echo" }), json!({})));
    let error = response(&h.released(&modern.token, false)).unwrap_err();
    assert_eq!(error["code"], code::SERVER_STOPPING);
}

#[test]
fn a_request_still_waiting_at_the_stop_gets_where_its_task_stands() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    let waiting =
        json!({ "jsonrpc": "2.0", "id": 7, "method": "tasks/result", "params": { "taskId": id } });
    let ctx = h.ctx();
    let stopped =
        |h: &Harness| Router::new(&h.store, &h.server, &ctx).request_stopped(&waiting.to_string());
    // The task goes on elsewhere: the stopping error, with the task as tasks/get shows it.
    h.released(&token, true);
    let error = response(&stopped(&h)).unwrap_err();
    assert_eq!(error["code"], code::SERVER_STOPPING);
    assert_eq!(error["data"]["task"]["taskId"], id);
    assert_eq!(error["data"]["task"]["status"], "working");
    assert!(
        error["data"]["task"]["statusMessage"]
            .as_str()
            .unwrap()
            .contains("stopped before it finished")
    );
    // The task ended meanwhile: its end.
    *h.executor.borrow_mut() = "host-b".into();
    let run = run_of(&h.sweep(&[]));
    h.finish(&run.token, ok_result("done"), None);
    let result = response(&stopped(&h)).unwrap();
    assert_eq!(result["content"][0]["text"], "done");
    // Anything else that waits gets the plain stopping error.
    let other = json!({ "jsonrpc": "2.0", "id": 8, "method": "tasks/result", "params": { "taskId": "nope" } });
    let error =
        response(&Router::new(&h.store, &h.server, &ctx).request_stopped(&other.to_string()))
            .unwrap_err();
    assert_eq!(
        (error["code"].clone(), error.get("data")),
        (json!(code::SERVER_STOPPING), None)
    );
}
