//! Queues and workers: a queueing host starts nothing; a worker claims within its limit.

use super::*;

impl Harness {
    /// A task of `echo` queued for a host to claim (with the server's `queue` set meanwhile); its
    /// ID.
    pub(super) fn queued_echo(&self) -> String {
        let queueing = self.server.queue.replace(true);
        let queued = self.request("tools/call", json!({ "name": "echo", "task": {} }));
        self.server.queue.set(queueing);
        response(&queued).unwrap()["task"]["taskId"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

#[test]
fn a_queueing_host_starts_nothing_and_a_worker_claims_within_its_limit() {
    let h = Harness::new();
    h.server.queue.set(true);
    h.server.claim_limit.set(0);
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let actions = h.request("tools/call", json!({ "name": "echo", "task": {} }));
            assert!(!actions.iter().any(|a| matches!(a, Action::RunTool(_))));
            response(&actions).unwrap()["task"]["taskId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let queued = h.stored(&ids[0]);
    assert_eq!(
        (queued.status, queued.executor.as_deref(), queued.attempt),
        (Status::Working, None, 0)
    );
    assert_eq!(h.status(&ids[0]).0, "working");
    // The queueing host's own sweep leaves them.
    assert!(h.sweep(&[]).is_empty());

    // A worker with room for one run claims one, then none while it runs.
    h.server.queue.set(false);
    h.server.claim_limit.set(1);
    *h.executor.borrow_mut() = "worker-1".into();
    let first = run_of(&h.sweep(&[]));
    let claimed = h.stored(first.task_id.as_deref().unwrap());
    assert_eq!(
        (claimed.executor.as_deref(), claimed.attempt),
        (Some("worker-1"), 1)
    );
    assert!(
        !h.sweep(&[&first.token])
            .iter()
            .any(|a| matches!(a, Action::RunTool(_)))
    );
    h.finish(&first.token, ok_result("one"), None);
    let second = run_of(&h.sweep(&[]));
    assert_ne!(second.task_id, first.task_id);
    h.finish(&second.token, ok_result("two"), None);
    for id in &ids {
        assert_eq!(h.status(id).0, "completed");
    }
}

#[test]
fn a_queued_tool_is_queued_even_on_a_local_host() {
    let h = Harness::new();
    let actions = h.request("tools/call", json!({ "name": "queued", "task": {} }));
    assert!(!actions.iter().any(|a| matches!(a, Action::RunTool(_))));
    let id = response(&actions).unwrap()["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(h.stored(&id).attempt, 0);
    // A local host claims what waits, like a worker.
    let run = run_of(&h.sweep(&[]));
    assert_eq!(run.task_id.as_deref(), Some(id.as_str()));
}

#[test]
fn a_waiting_task_whose_tool_this_host_lacks_fails_saying_why() {
    let h = Harness::new();
    let id = h.queued_echo();
    // As if another host, with another tools file, had queued it.
    h.store.tasks.borrow_mut().get_mut(&id).unwrap().request =
        json!({ "method": "tools/call", "params": { "name": "elsewhere" } }).to_string();
    assert!(!h.sweep(&[]).iter().any(|a| matches!(a, Action::RunTool(_))));
    assert_eq!(
        h.status(&id),
        (
            "failed".into(),
            Some("The task was queued, but no server here can run its tool.".into())
        )
    );
}

#[test]
fn a_run_carries_the_trace_context_of_the_call_it_serves_to_whichever_host_claims_it() {
    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let h = Harness::new();
    let traced = |extra: Value| {
        let mut params = json!({
            "name": "echo",
            "_meta": { "traceparent": PARENT, "tracestate": "vendor=1", "progressToken": 7 },
        });
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        params
    };
    let expected = vec![
        ("traceparent".to_string(), PARENT.to_string()),
        ("tracestate".to_string(), "vendor=1".to_string()),
    ];
    // A plain call's run, and a task's started at once: the request's own keys, no others.
    let plain = run_of(&h.request("tools/call", traced(json!({}))));
    assert_eq!(plain.trace_context, expected);
    let local = run_of(&h.request("tools/call", traced(json!({ "task": {} }))));
    assert_eq!(local.trace_context, expected);
    // A queued task's, claimed by a worker's sweep: read back from the stored request.
    h.server.queue.set(true);
    let queued = h.request("tools/call", traced(json!({ "task": {} })));
    h.server.queue.set(false);
    assert!(!queued.iter().any(|a| matches!(a, Action::RunTool(_))));
    *h.executor.borrow_mut() = "worker-1".into();
    let claimed = run_of(&h.sweep(&[&plain.token, &local.token]));
    assert_eq!(claimed.trace_context, expected);
    // No context, or one that is not text: none.
    let bare = run_of(&h.request(
        "tools/call",
        json!({ "name": "echo", "_meta": { "traceparent": 7 } }),
    ));
    assert!(bare.trace_context.is_empty());
}
