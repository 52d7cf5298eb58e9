//! The modern era: 2026-07-28 with the tasks extension.

use super::*;

impl Harness {
    pub(super) fn modern_get(&self, id: &str) -> Value {
        response(&self.with_tasks("tasks/get", json!({ "taskId": id }))).expect("tasks/get")
    }

    /// A modern task on `echo`: its ID and run token.
    pub(super) fn create_modern(&self) -> (String, String) {
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

/// Each outgoing message says what it is, which request it answers and the HTTP status its
/// answer goes with, so a host routes it without reading it.
#[test]
fn outgoing_messages_say_their_kind_request_and_http_status() {
    use crate::model::{MessageKind, Outgoing};
    let h = Harness::new();
    let outgoing = |actions: Vec<Action>| -> Vec<Outgoing> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Send(o) => Some(o),
                _ => None,
            })
            .collect()
    };
    // A modern method the extension lacks: -32601, 404.
    let sent = outgoing(h.with_tasks("tasks/list", json!({})));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (
            sent[0].kind,
            sent[0].answers.as_deref(),
            sent[0].http_status
        ),
        (MessageKind::Response, Some("1"), 404)
    );
    // What a host's metrics count it under.
    assert_eq!(
        (sent[0].method.as_deref(), sent[0].era, sent[0].is_error),
        (Some("tasks/list"), Some(Era::Modern), true)
    );
    // A modern request without its capabilities in _meta: 400, answering its string id.
    let sent = outgoing(h.handle(json!({
        "jsonrpc": "2.0", "id": "x", "method": "tasks/get",
        "params": { "taskId": "t", "_meta": { protocol::META_PROTOCOL_VERSION: "2026-07-28" } }
    })));
    assert_eq!(
        (
            sent[0].kind,
            sent[0].answers.as_deref(),
            sent[0].http_status
        ),
        (MessageKind::Response, Some(r#""x""#), 400)
    );
    // A result: 200. A notification answers nothing.
    let (id, _token) = h.create_modern();
    let sent = outgoing(h.with_tasks("tasks/get", json!({ "taskId": id })));
    assert_eq!(
        (sent[0].kind, sent[0].http_status),
        (MessageKind::Response, 200)
    );
    assert_eq!(
        (sent[0].method.as_deref(), sent[0].is_error),
        (Some("tasks/get"), false)
    );
    h.initialize(json!({}));
    let (legacy, _) = h.create(None);
    let sent = outgoing(h.request("tasks/cancel", json!({ "taskId": legacy })));
    let notification = sent
        .iter()
        .find(|o| o.kind == MessageKind::Notification)
        .expect("a status notification");
    assert_eq!(notification.answers, None);
    assert!(notification.message.contains("notifications/tasks/status"));
}
