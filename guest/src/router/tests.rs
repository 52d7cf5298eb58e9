//! Native tests of the router against a small in-memory store.

mod properties;

use std::cell::RefCell;

use serde_json::{Value, json};

use super::testing::*;
use super::*;
use crate::model::Wait;

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
    let swept = Router::new(&h.store, &h.server, &ctx).sweep(&[]);
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

fn reply_of(actions: &[Action]) -> Option<(String, Value)> {
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

// ---- The modern era: 2026-07-28 with the tasks extension ----

impl Harness {
    fn modern_get(&self, id: &str) -> Value {
        response(&self.with_tasks("tasks/get", json!({ "taskId": id }))).expect("tasks/get")
    }

    /// A modern task on `echo`: its ID and run token.
    fn create_modern(&self) -> (String, String) {
        let actions = self.with_tasks("tools/call", json!({ "name": "echo", "arguments": {} }));
        let created = response(&actions).expect("created");
        assert_eq!(created["resultType"], "task");
        let id = created["taskId"].as_str().unwrap().to_string();
        let Some(Action::RunTool(run)) = actions.get(1) else {
            panic!("{actions:?}")
        };
        (id, run.token.clone())
    }
}

#[test]
fn discover_declares_the_extension_and_the_versions() {
    let h = Harness::new();
    let found = response(&h.modern("server/discover", json!({}), json!({}))).unwrap();
    assert_eq!(found["resultType"], "complete");
    assert_eq!(
        found["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({})
    );
    assert!(found["capabilities"].get("tasks").is_none(), "{found}");
    assert_eq!(found["supportedVersions"][0], "2026-07-28");
    assert_eq!(
        found["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "test"
    );
    // An unknown version: -32022 with what was asked and what is served.
    let mut params = json!({});
    params["_meta"] = json!({ "io.modelcontextprotocol/protocolVersion": "1900-01-01" });
    let err = response(&h.request("tools/list", params)).unwrap_err();
    assert_eq!(err["code"], -32022);
    assert_eq!(err["data"]["requested"], "1900-01-01");
    assert!(
        err["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28"))
    );
}

#[test]
fn the_server_decides_which_calls_become_tasks() {
    let h = Harness::new();
    // Declared: an optional tool becomes a task, a flat CreateTaskResult; `params.task` is
    // ignored in this era.
    let (id, _) = h.create_modern();
    let created = h.modern_get(&id);
    assert_eq!(created["status"], "working");
    assert_eq!(created["ttlMs"], 60_000);
    assert_eq!(created["pollIntervalMs"], 500);
    assert!(created.get("ttl").is_none(), "{created}");
    // Not declared: the optional tool runs as a plain call.
    let plain = h.modern("tools/call", json!({ "name": "echo" }), json!({}));
    assert!(
        matches!(plain.as_slice(), [Action::RunTool(r)] if r.task_id.is_none() && r.token.starts_with("call:")),
        "{plain:?}"
    );
    // A task-only tool without the extension: -32021 naming it.
    let err = response(&h.modern(
        "tools/call",
        json!({ "name": "sleep", "arguments": { "secs": 1 } }),
        json!({}),
    ))
    .unwrap_err();
    assert_eq!(err["code"], -32021);
    assert_eq!(
        err["data"]["requiredCapabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({})
    );
    // A forbidden tool never becomes a task.
    let quick = h.with_tasks("tools/call", json!({ "name": "quick", "task": {} }));
    assert!(
        matches!(quick.as_slice(), [Action::RunTool(r)] if r.task_id.is_none()),
        "{quick:?}"
    );
}

#[test]
fn modern_tasks_methods_need_the_extension_before_any_lookup() {
    let h = Harness::new();
    let (id, _) = h.create_modern();
    for method in ["tasks/get", "tasks/update", "tasks/cancel"] {
        for task_id in [id.as_str(), "no-such-task"] {
            let err = response(&h.modern(
                method,
                json!({ "taskId": task_id, "inputResponses": {} }),
                json!({ "elicitation": {} }),
            ))
            .unwrap_err();
            assert_eq!(err["code"], -32021, "{method} {task_id}");
        }
    }
    for method in ["tasks/result", "tasks/list"] {
        let err = response(&h.with_tasks(method, json!({ "taskId": id }))).unwrap_err();
        assert_eq!(err["code"], -32601, "{method}");
    }
    let err =
        response(&h.with_tasks("tasks/get", json!({ "taskId": "no-such-task" }))).unwrap_err();
    assert_eq!(err["code"], -32602);
}

#[test]
fn modern_results_are_inlined_and_is_error_completes() {
    let h = Harness::new();
    let (ok, ok_token) = h.create_modern();
    h.finish(&ok_token, ok_result("done"), None);
    let got = h.modern_get(&ok);
    assert_eq!(got["resultType"], "complete");
    assert_eq!(got["status"], "completed");
    assert_eq!(got["result"]["content"][0]["text"], "done");
    assert_eq!(got["result"]["resultType"], "complete");
    assert!(got["result"].get("_meta").is_none(), "{got}");

    let (tool_error, token) = h.create_modern();
    let is_error = json!({ "content": [{ "type": "text", "text": "bad input" }], "isError": true });
    h.finish(&token, Outcome::Result(is_error.to_string()), None);
    let got = h.modern_get(&tool_error);
    assert_eq!(got["status"], "completed");
    assert_eq!(got["result"]["isError"], true);

    let (rpc_error, token) = h.create_modern();
    h.finish(
        &token,
        Outcome::Error(RpcError::new(-32603, "API rate limit exceeded")),
        None,
    );
    let got = h.modern_get(&rpc_error);
    assert_eq!(got["status"], "failed");
    assert_eq!(got["error"]["code"], -32603);
    assert_eq!(got["statusMessage"], "API rate limit exceeded");
    // No status notification goes to a modern client unasked.
    let (_, token) = h.create_modern();
    let finished = h.finish(&token, ok_result("x"), None);
    assert!(sent(&finished).is_empty(), "{finished:?}");
}

#[test]
fn keyed_questions_are_answered_by_tasks_update_in_parts() {
    let h = Harness::new();
    let (id, token) = h.create_modern();
    let sampling = json!({ "messages": [], "maxTokens": 10 });
    h.ask_keyed(
        &token,
        &[
            ("confirm", "elicitation/create", question()),
            ("summary", "sampling/createMessage", sampling.clone()),
        ],
    );
    let got = h.modern_get(&id);
    assert_eq!(got["status"], "input_required");
    let requests = got["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests["summary"]["method"], "sampling/createMessage");
    assert_eq!(
        requests["confirm"]["params"]["message"],
        "Deploy to production?"
    );

    // One answer, and an unknown key: acknowledged; the task still waits for the other.
    let first = h.with_tasks(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": {
            "confirm": { "action": "accept", "content": { "confirm": true } },
            "never-asked": { "action": "accept" },
        } }),
    );
    assert_eq!(
        response(&first).unwrap(),
        json!({ "resultType": "complete" })
    );
    let replies: Vec<_> = first
        .iter()
        .filter_map(|a| match a {
            Action::ReplyTool(r) => Some((r.key.clone(), r.token.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(replies, [("confirm".to_string(), token.clone())]);
    let got = h.modern_get(&id);
    assert_eq!(got["status"], "input_required");
    assert_eq!(
        got["inputRequests"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["summary"]
    );
    // The same key again is ignored.
    let again = h.with_tasks(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": { "confirm": { "action": "decline" } } }),
    );
    assert!(reply_of(&again).is_none(), "{again:?}");

    let last = h.with_tasks(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": { "summary": { "role": "assistant", "content": { "type": "text", "text": "ok" }, "model": "m" } } }),
    );
    assert_eq!(reply_of(&last).unwrap().1["model"], "m");
    assert_eq!(h.modern_get(&id)["status"], "working");
    // A key is never used twice within a task.
    let (_, refused) =
        reply_of(&h.ask_keyed(&token, &[("confirm", "elicitation/create", question())])).unwrap();
    assert_eq!(refused["error"]["code"], -32602);
    // Updates of a working task are acknowledged and ignored.
    let idle = h.with_tasks(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": {} }),
    );
    assert_eq!(response(&idle).unwrap()["resultType"], "complete");
}

#[test]
fn modern_cancel_acknowledges_also_terminal_tasks() {
    let h = Harness::new();
    let (id, token) = h.create_modern();
    let cancelled = h.with_tasks("tasks/cancel", json!({ "taskId": id }));
    assert_eq!(
        response(&cancelled).unwrap(),
        json!({ "resultType": "complete" })
    );
    assert!(cancelled.contains(&Action::StopTool(token)));
    assert_eq!(h.modern_get(&id)["status"], "cancelled");
    let again = h.with_tasks("tasks/cancel", json!({ "taskId": id }));
    assert_eq!(
        response(&again).unwrap(),
        json!({ "resultType": "complete" })
    );
    let unknown = h.with_tasks("tasks/cancel", json!({ "taskId": "nope" }));
    assert_eq!(response(&unknown).unwrap_err()["code"], -32602);
}

#[test]
fn a_question_for_an_undeclared_capability_ends_a_modern_task_with_a_tool_error() {
    let h = Harness::new();
    let (id, token) = h.create_modern();
    let actions = h.ask_keyed(&token, &[("where", "roots/list", json!({}))]);
    assert!(actions.contains(&Action::StopTool(token)), "{actions:?}");
    let got = h.modern_get(&id);
    assert_eq!(got["status"], "completed");
    assert_eq!(got["result"]["isError"], true);
    assert!(got["statusMessage"].as_str().unwrap().contains("roots"));
}

#[test]
fn on_a_pushing_host_a_legacy_question_follows_the_next_tasks_get_once() {
    let h = Harness::new();
    h.push.set(true);
    h.initialize(json!({ "elicitation": {} }));
    let (id, token) = h.create(None);
    let asked = h.ask(&token, question());
    assert!(
        sent(&asked).iter().all(|m| m.get("id").is_none()),
        "not at once: {asked:?}"
    );
    // The next tasks/get answers, then sends the question.
    let polled = h.request("tasks/get", json!({ "taskId": id }));
    let messages = sent(&polled);
    assert_eq!(messages.len(), 2, "{polled:?}");
    assert_eq!(messages[0]["result"]["status"], "input_required");
    let request = &messages[1];
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(
        request["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        id.as_str()
    );
    // Never twice: not with another tasks/get, nor with tasks/result, which waits.
    assert_eq!(
        sent(&h.request("tasks/get", json!({ "taskId": id }))).len(),
        1
    );
    let waiting = h.request("tasks/result", json!({ "taskId": id }));
    assert!(sent(&waiting).is_empty(), "{waiting:?}");
    let answered = h.handle(json!({ "jsonrpc": "2.0", "id": request["id"], "result": { "action": "accept", "content": {} } }));
    assert_eq!(reply_of(&answered).unwrap().0, token);
    assert_eq!(h.status(&id).0, "working");
    // A host that cannot push leaves the question to tasks/result.
    h.push.set(false);
    h.ask(&token, question());
    assert_eq!(
        sent(&h.request("tasks/get", json!({ "taskId": id }))).len(),
        1
    );
}

#[test]
fn an_answer_taken_by_another_host_reaches_the_tool_through_its_hosts_sweep() {
    let h = Harness::new();
    let (id, token) = h.create_modern();
    h.ask_keyed(&token, &[("ok", "elicitation/create", question())]);
    // Host B takes the answer: it stores it, but its tool runs on host A.
    *h.executor.borrow_mut() = "host-b".into();
    let at_b = h.with_tasks(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": { "ok": { "action": "accept", "content": { "confirm": true } } } }),
    );
    assert!(reply_of(&at_b).is_none(), "{at_b:?}");
    assert_eq!(h.modern_get(&id)["status"], "working");
    // Host B's sweep has no run for it: nothing.
    assert!(reply_of(&h.sweep(&[])).is_none());
    // Host A's sweep hands it over, once.
    *h.executor.borrow_mut() = "host-a".into();
    let swept = h.sweep(&[&token]);
    let (to, answer) = reply_of(&swept).expect("handed over");
    assert_eq!(to, token);
    assert_eq!(answer["content"]["confirm"], true);
    assert!(reply_of(&h.sweep(&[&token])).is_none());
    let stored = h.stored(&id);
    assert!(stored.input_requests.iter().all(|q| q.response.is_none()));
}

#[test]
fn a_modern_plain_call_asks_with_input_required_and_resumes_on_the_retry() {
    let h = Harness::new();
    let caps = json!({ "elicitation": {} });
    let actions = h.modern("tools/call", json!({ "name": "echo" }), caps.clone());
    let Some(Action::RunTool(run)) = actions.first() else {
        panic!("{actions:?}")
    };
    let asked = h.ask_keyed(
        &run.token,
        &[
            ("a", "elicitation/create", question()),
            ("b", "elicitation/create", question()),
        ],
    );
    let irr = response(&asked).unwrap();
    assert_eq!(irr["resultType"], "input_required");
    assert_eq!(irr["inputRequests"]["a"]["method"], "elicitation/create");
    let state = irr["requestState"].as_str().unwrap().to_string();

    // The retry answers one: the run is renamed to the retry, gets the answer, and the rest is
    // asked again.
    let retry = h.modern(
        "tools/call",
        json!({ "name": "echo", "requestState": state, "inputResponses": { "a": { "action": "decline" } } }),
        caps.clone(),
    );
    let Some(Action::RenameRun { from, to, .. }) = retry.first() else {
        panic!("{retry:?}")
    };
    assert_eq!(from, &run.token);
    assert_eq!(
        reply_of(&retry).unwrap(),
        (to.clone(), json!({ "action": "decline" }))
    );
    let again = response(&retry).unwrap();
    assert_eq!(again["resultType"], "input_required");
    assert_eq!(
        again["inputRequests"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["b"]
    );
    // The tool's result answers the retry, with resultType.
    let done = h.finish(to, ok_result("fine"), None);
    assert_eq!(response(&done).unwrap()["resultType"], "complete");

    // A forged or foreign state is refused.
    let forged = h.modern(
        "tools/call",
        json!({ "name": "echo", "requestState": format!("{state}x"), "inputResponses": {} }),
        caps.clone(),
    );
    assert_eq!(response(&forged).unwrap_err()["code"], -32602);
}

#[test]
fn subscriptions_follow_the_callers_tasks() {
    let h = Harness::new();
    let (id, token) = h.create_modern();
    let listen = h.with_tasks(
        "subscriptions/listen",
        json!({ "notifications": { "taskIds": [id, "someone-elses"] } }),
    );
    let messages = sent(&listen);
    assert_eq!(
        messages[0]["method"],
        "notifications/subscriptions/acknowledged"
    );
    assert_eq!(
        messages[0]["params"]["notifications"]["taskIds"],
        json!([id])
    );
    let subscription =
        messages[0]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"].clone();
    assert_eq!(messages.len(), 1, "the states follow through task-changed");
    assert!(listen.iter().any(
        |a| matches!(a, Action::Listen { task_ids, .. } if task_ids == std::slice::from_ref(&id))
    ));
    h.finish(&token, ok_result("done"), None);
    let ctx = h.ctx();
    let changed =
        Router::new(&h.store, &h.server, &ctx).task_changed(&subscription.to_string(), &id);
    let note = &sent(&changed)[0];
    assert_eq!(note["params"]["status"], "completed");
    assert_eq!(note["params"]["result"]["content"][0]["text"], "done");
    assert_eq!(
        note["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        subscription
    );
    // Without the extension: -32021.
    let err = response(&h.modern(
        "subscriptions/listen",
        json!({ "notifications": { "taskIds": [id] } }),
        json!({}),
    ))
    .unwrap_err();
    assert_eq!(err["code"], -32021);
}

#[test]
fn each_era_reads_and_acts_on_the_others_tasks() {
    let h = Harness::new();
    h.initialize(json!({ "elicitation": {} }));
    // A legacy task that failed on isError reads, in the modern era, as failed with the result
    // as the error's data.
    let (legacy, token) = h.create(None);
    let is_error = json!({ "content": [{ "type": "text", "text": "no" }], "isError": true });
    h.finish(&token, Outcome::Result(is_error.to_string()), Some("no"));
    let got = h.modern_get(&legacy);
    assert_eq!(got["status"], "failed");
    assert_eq!(got["error"]["data"]["isError"], true);
    // A modern task's question goes to a legacy client with tasks/result, and its answer counts.
    let (modern, token) = h.create_modern();
    h.ask_keyed(&token, &[("k", "elicitation/create", question())]);
    let waiting = h.request("tasks/result", json!({ "taskId": modern }));
    let request = sent(&waiting)[0].clone();
    let answered = h.handle(json!({ "jsonrpc": "2.0", "id": request["id"], "result": { "action": "accept", "content": {} } }));
    assert_eq!(reply_of(&answered).unwrap().0, token);
    assert_eq!(h.modern_get(&modern)["status"], "working");
}

#[test]
fn the_modern_era_has_no_ping_and_needs_client_capabilities() {
    let h = Harness::new();
    for removed in ["ping", "initialize", "logging/setLevel"] {
        let error = response(&h.modern(removed, json!({}), json!({}))).unwrap_err();
        assert_eq!(error["code"], -32601, "{removed}: {error}");
    }
    // The legacy era keeps ping.
    assert_eq!(response(&h.request("ping", json!({}))).unwrap(), json!({}));
    let no_capabilities = json!({ "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28"
    }});
    let error = response(&h.request("tools/list", no_capabilities)).unwrap_err();
    assert_eq!(error["code"], -32602, "{error}");
}

#[test]
fn plain_calls_of_two_clients_with_one_request_id_are_two_runs() {
    let h = Harness::new();
    let mut tokens = Vec::new();
    for client in ["session:a", "session:b"] {
        *h.client.borrow_mut() = client.to_string();
        let actions = h.handle(json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                       "params": { "name": "echo" } }));
        let [Action::RunTool(run)] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        tokens.push(run.token.clone());
    }
    assert_ne!(tokens[0], tokens[1]);
    // A client's notifications/cancelled stops its own run only.
    let stops = h.handle(
        json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
                                 "params": { "requestId": 1 } }),
    );
    let stopped: Vec<&String> = stops
        .iter()
        .filter_map(|a| match a {
            Action::StopTool(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(stopped.contains(&&tokens[1]), "{stops:?}");
    assert!(!stopped.contains(&&tokens[0]), "{stops:?}");
}

#[test]
fn a_deferred_call_becomes_a_task_when_its_tool_says_so() {
    let h = Harness::new();
    // The client declares the extension, but the tool gathers input first: a plain run.
    let actions = h.with_tasks("tools/call", json!({ "name": "gather", "arguments": {} }));
    let [Action::RunTool(run)] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert!(
        run.task_id.is_none() && run.token.starts_with("call:"),
        "{run:?}"
    );
    let request_id = json!(h.next_id.get() - 1);
    let ctx = h.ctx();
    let detached = Router::new(&h.store, &h.server, &ctx).tool_detached(&run.token, &run.state);
    let created = response(&detached).expect("a CreateTaskResult");
    assert_eq!(created["resultType"], "task");
    assert_eq!(created["status"], "working");
    assert_eq!(sent(&detached)[0]["id"], request_id);
    let task_id = created["taskId"].as_str().unwrap().to_string();
    let Some(Action::RenameRun { from, to, .. }) = detached.get(1) else {
        panic!("{detached:?}");
    };
    assert_eq!(from, &run.token);
    assert_eq!(RunRef::parse(to), Some(RunRef::Task(task_id.clone())));
    // From then on the run reports as the task's.
    h.finish(to, Outcome::Result(r#"{"content":[]}"#.into()), None);
    assert_eq!(h.modern_get(&task_id)["status"], "completed");
    // A run that defers nothing stays as it is.
    let plain = h.modern("tools/call", json!({ "name": "echo" }), json!({}));
    let [Action::RunTool(plain)] = plain.as_slice() else {
        panic!("{plain:?}");
    };
    let ctx = h.ctx();
    assert!(
        Router::new(&h.store, &h.server, &ctx)
            .tool_detached(&plain.token, &plain.state)
            .is_empty()
    );
    // A 2025-11-25 task-augmented call of the same tool is a task at once.
    let legacy = h.call(
        "tools/call",
        json!({ "name": "gather", "arguments": {}, "task": {} }),
    );
    assert_eq!(legacy.unwrap()["task"]["status"], "working");
}

// ---- Progress ----

fn progress(n: f64, total: Option<f64>, message: Option<&str>) -> Report {
    Report {
        progress: Some(n),
        total,
        message: message.map(Into::into),
    }
}

/// The `notifications/progress` params among these actions.
fn progress_sent(actions: &[Action]) -> Vec<Value> {
    sent(actions)
        .into_iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| m["params"].clone())
        .collect()
}

/// The run a request started, from its actions.
fn run_of(actions: &[Action]) -> crate::model::Run {
    actions
        .iter()
        .find_map(|a| match a {
            Action::RunTool(run) => Some(run.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no run: {actions:?}"))
}

#[test]
fn a_plain_call_with_a_token_gets_increasing_rate_limited_progress() {
    let h = Harness::new();
    let call = json!({ "name": "echo", "_meta": { "progressToken": "p-1" } });
    let run = run_of(&h.request("tools/call", call));
    let mut got = Vec::new();
    for step in 1..=10 {
        h.now.set(h.now.get() + 150);
        let message = format!("{} to go", 10 - step);
        let actions = h.report(
            &run.token,
            progress(f64::from(step), Some(10.0), Some(&message)),
        );
        got.extend(progress_sent(&actions));
    }
    assert_eq!(got.len(), 10, "{got:?}");
    assert_eq!(
        got[2],
        json!({ "progressToken": "p-1", "progress": 3, "total": 10, "message": "7 to go" })
    );
    // Within the interval of the last one sent: dropped, unless it reaches the total.
    let run = run_of(&h.request(
        "tools/call",
        json!({ "name": "echo", "_meta": { "progressToken": 9 } }),
    ));
    let burst: Vec<Value> = (1..=1000)
        .flat_map(|n| {
            progress_sent(&h.report(&run.token, progress(f64::from(n), Some(1000.0), None)))
        })
        .collect();
    let values: Vec<f64> = burst
        .iter()
        .map(|p| p["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [1.0, 1000.0]);
    assert_eq!(burst[0]["progressToken"], 9);
    // Not increasing: dropped.
    h.now.set(h.now.get() + 1_000);
    assert!(progress_sent(&h.report(&run.token, progress(5.0, None, None))).is_empty());
}

#[test]
fn no_progress_without_a_token_and_a_status_line_is_no_progress() {
    let h = Harness::new();
    let run = run_of(&h.request("tools/call", json!({ "name": "echo" })));
    assert!(
        h.report(&run.token, progress(1.0, None, Some("one")))
            .is_empty()
    );
    let (_, token) = h.create(None);
    assert!(
        h.report(&token, progress(1.0, None, Some("one")))
            .is_empty()
    );
    // A token that is neither a string nor an integer is none.
    let run = run_of(&h.request(
        "tools/call",
        json!({ "name": "echo", "_meta": { "progressToken": 1.5 } }),
    ));
    assert!(h.report(&run.token, progress(1.0, None, None)).is_empty());
    // A status line alone is not progress.
    let run = run_of(&h.request(
        "tools/call",
        json!({ "name": "echo", "_meta": { "progressToken": "t" } }),
    ));
    assert!(h.say(&run.token, "working on it").is_empty());
}

#[test]
fn a_legacy_task_reports_progress_to_its_token_until_it_ends() {
    let h = Harness::new();
    let actions = h.request(
        "tools/call",
        json!({ "name": "echo", "task": {}, "_meta": { "progressToken": "task-1" } }),
    );
    let id = response(&actions).unwrap()["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let run = run_of(&actions);
    let sent = progress_sent(&h.report(&run.token, progress(1.0, Some(2.0), Some("half"))));
    assert_eq!(
        sent,
        [json!({ "progressToken": "task-1", "progress": 1, "total": 2, "message": "half" })]
    );
    assert_eq!(h.status(&id), ("working".into(), Some("half".into())));
    h.finish(&run.token, ok_result("ok"), None);
    h.now.set(h.now.get() + 1_000);
    assert!(
        h.report(&run.token, progress(2.0, Some(2.0), None))
            .is_empty()
    );
}

#[test]
fn a_modern_task_sends_no_progress_and_a_plain_call_stops_at_its_input_required() {
    let h = Harness::new();
    let created = h.modern(
        "tools/call",
        json!({ "name": "echo", "_meta": { "progressToken": "m-1" } }),
        tasks_caps(),
    );
    assert_eq!(response(&created).unwrap()["resultType"], "task");
    let run = run_of(&created);
    assert!(progress_sent(&h.report(&run.token, progress(1.0, None, Some("one")))).is_empty());

    // A plain call: progress with its token until it is answered with input_required; the
    // retry's token from then on.
    let caps = json!({ "elicitation": {} });
    let call = json!({ "name": "echo", "_meta": { "progressToken": "first" } });
    let run = run_of(&h.modern("tools/call", call, caps.clone()));
    assert_eq!(
        progress_sent(&h.report(&run.token, progress(1.0, None, None)))[0]["progressToken"],
        "first"
    );
    let asked = h.ask_keyed(&run.token, &[("a", "elicitation/create", question())]);
    let state = response(&asked).unwrap()["requestState"].clone();
    h.now.set(h.now.get() + 1_000);
    assert!(progress_sent(&h.report(&run.token, progress(2.0, None, None))).is_empty());
    let retry = h.modern(
        "tools/call",
        json!({
            "name": "echo",
            "requestState": state,
            "inputResponses": { "a": { "action": "accept", "content": {} } },
            "_meta": { "progressToken": "second" },
        }),
        caps,
    );
    let Some(Action::RenameRun { to, .. }) = retry.first() else {
        panic!("{retry:?}")
    };
    let sent = progress_sent(&h.report(to, progress(1.0, None, None)));
    assert_eq!(sent, [json!({ "progressToken": "second", "progress": 1 })]);
}

#[test]
fn a_legacy_task_carries_the_tools_immediate_response_and_a_modern_one_does_not() {
    let h = Harness::new();
    let created = response(&h.request(
        "tools/call",
        json!({ "name": "sleep", "task": {}, "arguments": { "secs": 1 } }),
    ))
    .unwrap();
    assert_eq!(
        created["_meta"],
        json!({ "io.modelcontextprotocol/model-immediate-response": "Sleeping; the result follows." })
    );
    let echo = response(&h.request("tools/call", json!({ "name": "echo", "task": {} }))).unwrap();
    assert!(echo.get("_meta").is_none(), "{echo}");
    let modern = response(&h.with_tasks(
        "tools/call",
        json!({ "name": "sleep", "arguments": { "secs": 1 } }),
    ))
    .unwrap();
    assert_eq!(modern["resultType"], "task");
    assert!(modern.get("_meta").is_none(), "{modern}");
}

// ---- Retries ----

fn failed_result(text: &str) -> Outcome {
    Outcome::Result(
        json!({ "content": [{ "type": "text", "text": text }], "isError": true }).to_string(),
    )
}

impl Harness {
    /// A legacy task on `flaky` (three attempts, a second's backoff, doubling): its ID and run.
    fn create_flaky(&self) -> (String, String) {
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

// ---- Queues and workers ----

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
    h.server.queue.set(true);
    let queued = h.request("tools/call", json!({ "name": "echo", "task": {} }));
    let id = response(&queued).unwrap()["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    // As if another host, with another tools file, had queued it.
    h.store.tasks.borrow_mut().get_mut(&id).unwrap().request =
        json!({ "method": "tools/call", "params": { "name": "elsewhere" } }).to_string();
    h.server.queue.set(false);
    assert!(!h.sweep(&[]).iter().any(|a| matches!(a, Action::RunTool(_))));
    assert_eq!(
        h.status(&id),
        (
            "failed".into(),
            Some("The task was queued, but no server here can run its tool.".into())
        )
    );
}

// ---- Workflows ----

impl Harness {
    /// A legacy task of the workflow `name`, with a progress token: its ID and first run.
    fn create_workflow(&self, name: &str, arguments: Value) -> (String, crate::model::Run) {
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
    fn workflow_view(&self, id: &str) -> Value {
        self.call("tasks/get", json!({ "taskId": id })).unwrap()["_meta"]["mcp-tasks/workflow"]
            .clone()
    }
}

fn structured_result(value: Value) -> Outcome {
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
            Action::Send(m) => Some(serde_json::from_str::<Value>(m).unwrap()),
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
            Action::Send(m) => serde_json::from_str(m).ok(),
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
