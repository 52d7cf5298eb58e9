//! The legacy era (2025-11-25): lifecycle, cancel, lists, expiry, questions, leases.

use super::*;

#[test]
fn initialize_declares_tasks_and_negotiates_the_version() {
    let h = Harness::new();
    let actions = h.request(
        "initialize",
        json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } }),
    );
    assert!(matches!(actions[0], Action::SetSession(_)));
    let result = response(&actions).unwrap();
    assert_eq!(result["protocolVersion"], "2025-11-25");
    assert_eq!(
        result["capabilities"]["tasks"],
        json!({ "list": {}, "cancel": {}, "requests": { "tools": { "call": {} } } })
    );
    let older = h
        .call("initialize", json!({ "protocolVersion": "2025-06-18" }))
        .unwrap();
    assert_eq!(older["protocolVersion"], "2025-06-18");
    let unknown = h
        .call("initialize", json!({ "protocolVersion": "1999-01-01" }))
        .unwrap();
    assert_eq!(unknown["protocolVersion"], "2025-11-25");
}

#[test]
fn tools_list_shows_task_support() {
    let h = Harness::new();
    let tools = h.call("tools/list", json!({})).unwrap()["tools"].clone();
    let support: Vec<_> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["execution"]["taskSupport"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        support,
        [
            ("sleep", "required"),
            ("echo", "optional"),
            ("quick", "forbidden"),
            // A workflow (its own setting: optional) runs only as a task.
            ("pipeline", "required"),
        ]
    );
}

#[test]
fn tool_call_errors() {
    let h = Harness::new();
    let code = |r: Result<Value, Value>| r.unwrap_err()["code"].as_i64().unwrap();
    assert_eq!(
        code(h.call("tools/call", json!({ "name": "nope" }))),
        -32602
    );
    assert_eq!(
        code(h.call("tools/call", json!({ "name": "quick", "task": {} }))),
        -32601
    );
    assert_eq!(
        code(h.call(
            "tools/call",
            json!({ "name": "sleep", "arguments": { "secs": 1 } })
        )),
        -32601
    );
    assert_eq!(
        code(h.call("tools/call", json!({ "name": "sleep", "task": {} }))),
        -32602
    );
    assert_eq!(
        code(h.call("tools/call", json!({ "name": "echo", "arguments": [1] }))),
        -32602
    );
    assert_eq!(
        code(h.call(
            "tools/call",
            json!({ "name": "echo", "task": { "ttl": -5 } })
        )),
        -32602
    );
    assert_eq!(code(h.call("tools/call", json!({}))), -32602);
    assert_eq!(code(h.call("no/such/method", json!({}))), -32601);
    assert!(
        h.store.tasks.borrow().is_empty(),
        "no task is created by a refused call"
    );
}

#[test]
fn malformed_messages_get_jsonrpc_errors() {
    let h = Harness::new();
    let ctx = h.ctx();
    let router = Router::new(&h.store, &h.server, &ctx);
    let err = |line: &str| {
        response(&router.handle(line)).unwrap_err()["code"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(err("{oops"), -32700);
    assert_eq!(err("[]"), -32600);
    assert_eq!(err(r#"{"id":1,"method":"ping"}"#), -32600);
    assert_eq!(
        response(&router.handle(r#"{"jsonrpc":"2.0","id":"x","method":"ping"}"#)).unwrap(),
        json!({})
    );
    assert!(
        router
            .handle(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .is_empty()
    );
    // A response to nothing the server asked is logged and dropped; the client gets no answer.
    let dropped = router.handle(r#"{"jsonrpc":"2.0","id":9,"result":{}}"#);
    assert!(
        matches!(dropped.as_slice(), [Action::Log(m)] if m.contains("no request with that id")),
        "{dropped:?}"
    );
    assert_eq!(err(r#"{"jsonrpc":"2.0","id":9}"#), -32600);
}

#[test]
fn plain_call_runs_and_answers_the_request() {
    let h = Harness::new();
    let actions = h.request(
        "tools/call",
        json!({ "name": "echo", "arguments": { "x": 1 } }),
    );
    let [Action::RunTool(run)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(run.task_id, None);
    assert_eq!(
        serde_json::from_str::<Value>(&run.arguments).unwrap(),
        json!({ "x": 1 })
    );
    let done = h.finish(&run.token, ok_result("hi"), None);
    let msgs = sent(&done);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["id"], 1);
    assert_eq!(msgs[0]["result"]["content"][0]["text"], "hi");
    assert!(h.store.tasks.borrow().is_empty());
}

#[test]
fn task_lifecycle_completes_and_returns_the_result_with_related_task_meta() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    let got = h.call("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(got["status"], "working");
    assert_eq!(got["ttl"], 60_000);
    assert_eq!(got["pollInterval"], 500);
    assert_eq!(got["createdAt"], "2025-11-25T10:30:00.000Z");

    let waiting = h.request("tasks/result", json!({ "taskId": id }));
    assert_eq!(
        waiting,
        [Action::Wait(Wait {
            task_id: id.clone(),
            recheck_after: 500
        })]
    );

    h.now.set(h.now.get() + 1_500);
    let done = h.finish(&token, ok_result("done"), None);
    let note = &sent(&done)[0];
    assert_eq!(note["method"], "notifications/tasks/status");
    assert_eq!(note["params"]["status"], "completed");
    assert_eq!(note["params"]["lastUpdatedAt"], "2025-11-25T10:30:01.500Z");
    assert_eq!(done[1], Action::Changed(id.clone()));

    let result = h.call("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["content"][0]["text"], "done");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        id.as_str()
    );
}

#[test]
fn is_error_results_and_rpc_errors_fail_the_task() {
    let h = Harness::new();
    let (a, token_a) = h.create(None);
    let is_error = json!({ "content": [{ "type": "text", "text": "bad" }], "isError": true });
    h.finish(
        &token_a,
        Outcome::Result(is_error.to_string()),
        Some("exit status 3: disk full"),
    );
    let got = h.call("tasks/get", json!({ "taskId": a })).unwrap();
    assert_eq!(got["status"], "failed");
    assert_eq!(got["statusMessage"], "exit status 3: disk full");
    assert_eq!(
        h.call("tasks/result", json!({ "taskId": a })).unwrap()["isError"],
        true
    );

    let (b, token_b) = h.create(None);
    let error = RpcError::internal("runner crashed");
    h.finish(&token_b, Outcome::Error(error), None);
    let got = h.call("tasks/get", json!({ "taskId": b })).unwrap();
    assert_eq!(
        (got["status"].as_str(), got["statusMessage"].as_str()),
        (Some("failed"), Some("runner crashed"))
    );
    let err = h.call("tasks/result", json!({ "taskId": b })).unwrap_err();
    assert_eq!(err, json!({ "code": -32603, "message": "runner crashed" }));
}

#[test]
fn cancel_wins_and_stays_whatever_the_tool_does() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    let actions = h.request("tasks/cancel", json!({ "taskId": id }));
    assert_eq!(response(&actions).unwrap()["status"], "cancelled");
    assert_eq!(sent(&actions)[1]["params"]["status"], "cancelled");
    assert!(actions.contains(&Action::StopTool(token.clone())));
    assert!(actions.contains(&Action::Changed(id.clone())));

    assert!(h.finish(&token, ok_result("late"), None).is_empty());
    let got = h.call("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(got["status"], "cancelled");
    let again = h.call("tasks/cancel", json!({ "taskId": id })).unwrap_err();
    assert_eq!(again["code"], -32602);
    assert_eq!(
        again["message"],
        "Cannot cancel task: already in terminal status 'cancelled'"
    );
    let result = h.call("tasks/result", json!({ "taskId": id })).unwrap_err();
    assert_eq!(result["code"], -32800);
}

#[test]
fn cancel_of_a_completed_task_is_refused() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    h.finish(&token, ok_result("x"), None);
    let err = h.call("tasks/cancel", json!({ "taskId": id })).unwrap_err();
    assert_eq!(err["code"], -32602);
    assert_eq!(
        err["message"],
        "Cannot cancel task: already in terminal status 'completed'"
    );
}

#[test]
fn cancel_retries_on_version_conflict() {
    let h = Harness::new();
    let (id, _) = h.create(None);
    h.store.conflicts.set(3);
    assert_eq!(
        h.call("tasks/cancel", json!({ "taskId": id })).unwrap()["status"],
        "cancelled"
    );
    assert_eq!(h.store.tasks.borrow()[&id].version, 2);
}

#[test]
fn unknown_and_foreign_tasks_are_not_found() {
    let h = Harness::new();
    let (id, _) = h.create(None);
    for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
        let err = h
            .call(method, json!({ "taskId": "no-such-task" }))
            .unwrap_err();
        assert_eq!(err["code"], -32602, "{method}");
        assert_eq!(
            h.call(method, json!({})).unwrap_err()["code"],
            -32602,
            "{method}"
        );
    }
    let mallory = Harness {
        owner: RefCell::new("mallory".into()),
        ..Harness::new()
    };
    mallory
        .store
        .tasks
        .borrow_mut()
        .extend(h.store.tasks.borrow().clone());
    let err = mallory
        .call("tasks/get", json!({ "taskId": id }))
        .unwrap_err();
    assert_eq!(err["message"], "Failed to retrieve task: Task not found");
    assert!(
        mallory.call("tasks/list", json!({})).unwrap()["tasks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        mallory
            .call("tasks/cancel", json!({ "taskId": id }))
            .unwrap_err()["code"],
        -32602
    );
}

#[test]
fn ttl_is_clamped_defaulted_and_expiry_hides_then_sweeps() {
    let h = Harness::new();
    let (long, _) = h.create(Some(10_000_000));
    assert_eq!(
        h.call("tasks/get", json!({ "taskId": long })).unwrap()["ttl"],
        600_000
    );
    let (short, short_token) = h.create(Some(1_000));
    assert_eq!(
        h.call("tasks/get", json!({ "taskId": short })).unwrap()["ttl"],
        1_000
    );

    h.now.set(h.now.get() + 1_000);
    let err = h.call("tasks/get", json!({ "taskId": short })).unwrap_err();
    assert_eq!(
        (err["code"].as_i64(), err["message"].as_str()),
        (
            Some(-32602),
            Some("Failed to retrieve task: Task has expired")
        )
    );
    let listed = h.call("tasks/list", json!({})).unwrap()["tasks"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let ctx = h.ctx();
    let swept = Router::new(&h.store, &h.server, &ctx).sweep(&[], true);
    assert_eq!(
        swept,
        [
            Action::StopTool(short_token),
            Action::Changed(short.clone())
        ]
    );
    assert!(!h.store.tasks.borrow().contains_key(&short));
    assert!(h.store.tasks.borrow().contains_key(&long));
}

#[test]
fn grant_ttl_rules() {
    assert_eq!(grant_ttl(Some(5), Some(10), Some(100)), Some(5));
    assert_eq!(grant_ttl(Some(500), Some(10), Some(100)), Some(100));
    assert_eq!(grant_ttl(None, Some(10), Some(100)), Some(10));
    assert_eq!(grant_ttl(None, None, Some(100)), Some(100));
    assert_eq!(grant_ttl(None, None, None), None);
    assert_eq!(grant_ttl(Some(7), None, None), Some(7));
}

#[test]
fn list_pages_through_all_tasks_in_creation_order() {
    let h = Harness::with_page_size(2);
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(h.create(None).0);
        h.now.set(h.now.get() + 1);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = cursor
            .as_ref()
            .map_or(json!({}), |c| json!({ "cursor": c }));
        let page = h.call("tasks/list", params).unwrap();
        pages += 1;
        for t in page["tasks"].as_array().unwrap() {
            seen.push(t["taskId"].as_str().unwrap().to_string());
        }
        match page.get("nextCursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);
    let err = h
        .call("tasks/list", json!({ "cursor": "bogus" }))
        .unwrap_err();
    assert_eq!(err["code"], -32602);
}

#[test]
fn progress_sets_the_status_message_until_terminal() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    assert!(h.say(&token, "compiling 3/10").is_empty());
    let got = h.call("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(
        (got["status"].as_str(), got["statusMessage"].as_str()),
        (Some("working"), Some("compiling 3/10"))
    );
    h.finish(&token, ok_result("ok"), Some("built"));
    h.say(&token, "late line");
    let got = h.call("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(
        (got["status"].as_str(), got["statusMessage"].as_str()),
        (Some("completed"), Some("built"))
    );
}

#[test]
fn cancelled_notification_stops_a_plain_call() {
    let h = Harness::new();
    let actions = h.request("tools/call", json!({ "name": "echo" }));
    let [Action::RunTool(run)] = actions.as_slice() else {
        panic!()
    };
    let stop = h.handle(json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": 1 } }));
    assert!(
        stop.contains(&Action::StopTool(run.token.clone())),
        "{stop:?}"
    );
}

#[test]
fn run_tokens_round_trip() {
    for r in [
        RunRef::Task("abc".into()),
        RunRef::Request(String::new(), json!(5)),
        RunRef::Request("session-1".into(), json!("x:y")),
        RunRef::Call("peer:7".into(), json!("a:b")),
    ] {
        assert_eq!(RunRef::parse(&r.token()), Some(r));
    }
    assert_eq!(RunRef::parse("bogus"), None);
}

pub(super) fn reply_of(actions: &[Action]) -> Option<(String, Value)> {
    actions.iter().find_map(|a| match a {
        Action::ReplyTool(r) => Some((r.token.clone(), serde_json::from_str(&r.response).unwrap())),
        _ => None,
    })
}

#[test]
fn a_question_goes_out_with_tasks_result_once_and_its_answer_resumes_the_task() {
    let h = Harness::new();
    h.initialize(json!({ "elicitation": {} }));
    let (id, token) = h.create(None);

    let asked = h.ask(&token, question());
    assert_eq!(sent(&asked)[0]["params"]["status"], "input_required");
    assert!(asked.contains(&Action::Changed(id.clone())), "{asked:?}");
    assert_eq!(
        h.status(&id),
        (
            "input_required".into(),
            Some("Waiting for input: Deploy to production?".into())
        )
    );
    // Progress while waiting does not hide what is awaited.
    h.say(&token, "still here");
    assert_eq!(
        h.status(&id).1.as_deref(),
        Some("Waiting for input: Deploy to production?")
    );
    // tasks/result delivers the question, then waits.
    let waiting = h.request("tasks/result", json!({ "taskId": id }));
    let requests = sent(&waiting);
    assert_eq!(requests.len(), 1, "{waiting:?}");
    let request = &requests[0];
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["message"], "Deploy to production?");
    assert_eq!(
        request["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        id.as_str()
    );
    let request_id = request["id"].as_str().unwrap().to_string();
    assert!(matches!(waiting.last(), Some(Action::Wait(w)) if w.task_id == id));
    // A second tasks/result (or a re-check of the first) does not ask again.
    let again = h.request("tasks/result", json!({ "taskId": id }));
    assert!(sent(&again).is_empty(), "{again:?}");

    // The answer goes to the tool, and the task works again.
    let answer = json!({ "jsonrpc": "2.0", "id": request_id, "result": { "action": "accept", "content": { "confirm": true } } });
    let answered = h.handle(answer.clone());
    let (to, response) = reply_of(&answered).expect("a reply for the tool");
    assert_eq!(to, token);
    assert_eq!(
        response,
        json!({ "action": "accept", "content": { "confirm": true } })
    );
    assert_eq!(sent(&answered)[0]["params"]["status"], "working");
    assert_eq!(h.status(&id), ("working".into(), None));
    // The same answer again is dropped: that question is retired.
    assert!(matches!(h.handle(answer).as_slice(), [Action::Log(_)]));

    // A second question gets a new id; an error answer reaches the tool as `{"error": ...}`.
    h.ask(&token, question());
    let second = sent(&h.request("tasks/result", json!({ "taskId": id })))[0]["id"].clone();
    assert_ne!(second, request_id.as_str());
    let declined = h.handle(
        json!({ "jsonrpc": "2.0", "id": second, "error": { "code": -32600, "message": "no" } }),
    );
    assert_eq!(reply_of(&declined).unwrap().1["error"]["message"], "no");

    h.finish(&token, ok_result("deployed"), None);
    assert_eq!(h.status(&id).0, "completed");
}

#[test]
fn cancel_while_input_is_required_wins_and_drops_the_late_answer() {
    let h = Harness::new();
    h.initialize(json!({ "elicitation": { "form": {} } }));
    let (id, token) = h.create(None);
    h.ask(&token, question());
    let request_id = sent(&h.request("tasks/result", json!({ "taskId": id })))[0]["id"].clone();

    let cancelled = h.request("tasks/cancel", json!({ "taskId": id }));
    assert_eq!(response(&cancelled).unwrap()["status"], "cancelled");
    assert!(cancelled.contains(&Action::StopTool(token.clone())));
    let late = h.handle(json!({ "jsonrpc": "2.0", "id": request_id, "result": { "action": "accept", "content": {} } }));
    assert!(
        matches!(late.as_slice(), [Action::Log(m)] if m.contains("no longer waits")),
        "{late:?}"
    );
    assert_eq!(h.status(&id).0, "cancelled");
    // A question asked after the cancel only stops the tool.
    assert_eq!(h.ask(&token, question()), vec![Action::StopTool(token)]);
}

#[test]
fn a_client_without_elicitation_fails_the_task_with_a_clear_message() {
    let h = Harness::new();
    h.initialize(json!({}));
    let (id, token) = h.create(None);
    let actions = h.ask(&token, question());
    assert!(actions.contains(&Action::StopTool(token)), "{actions:?}");
    assert!(
        sent(&actions).iter().all(|m| m.get("id").is_none()),
        "no request is sent"
    );
    let (status, message) = h.status(&id);
    assert_eq!(status, "failed");
    assert!(message.unwrap().contains("elicitation capability"));
    let result = h.call("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["isError"], true);
}

#[test]
fn a_plain_call_asks_at_once_and_gets_the_answer() {
    let h = Harness::new();
    h.initialize(json!({ "elicitation": {} }));
    let actions = h.request("tools/call", json!({ "name": "echo" }));
    let Some(Action::RunTool(run)) = actions.first() else {
        panic!("{actions:?}")
    };
    let asked = h.ask(&run.token, question());
    let request = &sent(&asked)[0];
    assert_eq!(request["method"], "elicitation/create");
    assert!(
        request["params"].get("_meta").is_none(),
        "no task to relate to"
    );
    let answered = h.handle(
        json!({ "jsonrpc": "2.0", "id": request["id"], "result": { "action": "decline" } }),
    );
    assert_eq!(
        reply_of(&answered).unwrap(),
        (run.token.clone(), json!({ "action": "decline" }))
    );
}

#[test]
fn a_malformed_question_is_refused_to_the_tool() {
    let h = Harness::new();
    h.initialize(json!({ "elicitation": {} }));
    let (id, token) = h.create(None);
    let (_, refused) = reply_of(&h.ask(&token, json!({ "requestedSchema": {} }))).unwrap();
    assert_eq!(refused["error"]["code"], -32602);
    assert_eq!(h.status(&id).0, "working");
}

#[test]
fn a_new_task_is_leased_to_its_host_and_the_lease_is_renewed_at_half_time() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    let created = h.stored(&id);
    assert_eq!(created.executor.as_deref(), Some("host-a"));
    assert_eq!(created.lease_until, Some(h.now.get() + 10_000));

    // Before half the lease is used, a sweep writes nothing.
    h.now.set(h.now.get() + 4_000);
    assert!(h.sweep(&[&token]).is_empty());
    assert_eq!(h.stored(&id).version, created.version);
    // After, it renews.
    h.now.set(h.now.get() + 2_000);
    assert!(h.sweep(&[&token]).is_empty());
    assert_eq!(h.stored(&id).lease_until, Some(h.now.get() + 10_000));
    assert_eq!(h.stored(&id).version, created.version + 1);
}

#[test]
fn a_run_whose_task_was_cancelled_elsewhere_is_stopped() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    // Another host sharing the store cancels it.
    *h.executor.borrow_mut() = "host-b".into();
    h.request("tasks/cancel", json!({ "taskId": id })).remove(0);
    *h.executor.borrow_mut() = "host-a".into();
    let actions = h.sweep(&[&token]);
    assert!(
        actions.contains(&Action::StopTool(token.clone())),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::Changed(id.clone())));
    // And a run whose task is gone altogether.
    h.store.tasks.borrow_mut().remove(&id);
    assert!(h.sweep(&[&token]).contains(&Action::StopTool(token)));
}

#[test]
fn a_task_whose_host_died_fails_once_its_lease_lapses() {
    let h = Harness::new();
    let (id, _token) = h.create(None);
    let (kept, kept_token) = h.create(None);
    // host-a dies; host-b sweeps. Before the lease lapses nothing happens.
    *h.executor.borrow_mut() = "host-b".into();
    h.now.set(h.now.get() + 9_999);
    assert!(h.sweep(&[]).is_empty());
    // host-b took over `kept` meanwhile (its run renews the lease); `id` lapses.
    h.sweep(&[&kept_token]);
    h.now.set(h.now.get() + 1);
    let actions = h.sweep(&[&kept_token]);
    assert!(
        actions.contains(&Action::Changed(id.clone())),
        "{actions:?}"
    );
    assert_eq!(sent(&actions)[0]["params"]["status"], "failed");
    let (status, message) = h.status(&id);
    assert_eq!(status, "failed");
    let message = message.unwrap();
    assert!(
        message.contains("(host-a) stopped: its lease expired"),
        "{message}"
    );
    let result = h.call("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["isError"], true);
    assert_eq!(h.stored(&id).lease_until, None);
    assert_eq!(h.status(&kept).0, "working");
    // The failure is final, whatever the dead host's tool would have said.
    assert!(
        h.finish(&RunRef::Task(id.clone()).token(), ok_result("late"), None)
            .is_empty()
    );
    assert_eq!(h.status(&id).0, "failed");
}

#[test]
fn another_owners_abandoned_task_fails_without_telling_this_client() {
    let h = Harness::new();
    let (id, _) = h.create(None);
    h.stored(&id);
    let mut foreign = h.stored(&id);
    foreign.owner = "bob".into();
    h.store.tasks.borrow_mut().insert(id.clone(), foreign);
    h.now.set(h.now.get() + 10_000);
    let actions = h.sweep(&[]);
    assert_eq!(actions, vec![Action::Changed(id.clone())]);
    assert_eq!(h.stored(&id).status, Status::Failed);
}
