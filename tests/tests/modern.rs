//! The 2026-07-28 era through the real binary over stdio: the tasks extension
//! (`io.modelcontextprotocol/tasks`), every message checked against the 2026-07-28 schema and
//! the extension's own.

use mcp_tasks_e2e::{Server, postgres_url, read_pids, wait_until_dead};
use serde_json::{Value, json};

const TOOLS: &str = r#"
[server]
poll_interval_ms = 100

[[tools]]
name = "echo"
description = "Print the text"
command = ["sh", "-c", "read args; echo \"$0\"", "{text}"]
task_support = "optional"
input_schema = { type = "object", properties = { text = { type = "string" } }, required = ["text"] }

[[tools]]
name = "slow"
description = "Record the PID, then sleep"
command = ["sh", "-c", "echo $$ > \"$0\"; exec sleep 300", "{pidfile}"]
task_support = "required"
grace_secs = 0.5
input_schema = { type = "object", properties = { pidfile = { type = "string" } }, required = ["pidfile"] }

[[tools]]
name = "broken"
description = "Fail with exit status 3"
command = ["sh", "-c", "echo 'disk full' >&2; exit 3"]
task_support = "optional"

[[tools]]
name = "limited"
description = "End with a JSON-RPC error"
command = ["sh", "-c", "echo '{\"error\":{\"code\":-32603,\"message\":\"API rate limit exceeded\"}}'; exit 1"]
task_support = "optional"

[[tools]]
name = "interview"
description = "Ask two questions at once, then print both answers"
command = ["sh", "-c", '''
read args
echo '{"inputRequests":{"name":{"method":"elicitation/create","params":{"mode":"form","message":"Your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}},"poem":{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"A short poem"}}],"maxTokens":50}}}}' >&3
read first
read second
echo "$first $second"
''']
task_support = "required"
questions = true

[[tools]]
name = "confirm"
description = "Ask one question, then print the answer"
command = ["sh", "-c", '''
read args
echo '{"message":"Proceed?","requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}' >&3
read answer
echo "answer: $answer"
''']
task_support = "optional"
questions = true
"#;

/// What a client that speaks the extension declares.
fn with_tasks() -> Value {
    json!({
        "extensions": { "io.modelcontextprotocol/tasks": {} },
        "elicitation": { "form": {} },
        "sampling": {},
    })
}

fn start() -> Server {
    Server::start(TOOLS, &["--owner", "tester"])
}

/// Poll `tasks/get` (with the extension) until the task leaves `working`.
fn settle(s: &mut Server, task_id: &str, wanted: &str) -> Value {
    let deadline = std::time::Instant::now() + mcp_tasks_e2e::PATIENCE;
    loop {
        let task = s
            .modern("tasks/get", json!({ "taskId": task_id }), with_tasks())
            .expect("tasks/get");
        if task["status"] == wanted {
            return task;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {wanted}: {task}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn create(s: &mut Server, tool: &str, arguments: Value) -> String {
    let created = s
        .modern(
            "tools/call",
            json!({ "name": tool, "arguments": arguments }),
            with_tasks(),
        )
        .expect("a task");
    assert_eq!(created["resultType"], "task", "{created}");
    created["taskId"].as_str().unwrap().to_string()
}

#[test]
fn discover_tools_and_versions() {
    let mut s = start();
    let found = s
        .modern("server/discover", json!({}), json!({}))
        .expect("discover");
    assert_eq!(
        found["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({})
    );
    assert!(found["capabilities"].get("tasks").is_none());
    assert!(
        found["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28"))
    );
    let tools = s.modern("tools/list", json!({}), json!({})).expect("tools");
    assert_eq!(tools["tools"].as_array().unwrap().len(), 6);

    // An unknown version: -32022, checked against UnsupportedProtocolVersionError.
    let line = json!({ "jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": { "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2099-01-01",
        "io.modelcontextprotocol/clientCapabilities": {},
    } } });
    s.send_line(&line.to_string());
    let reply = s.next_matching("the -32022", |m| m["id"] == 99);
    assert_eq!(reply["error"]["code"], -32022);
    assert_eq!(reply["error"]["data"]["requested"], "2099-01-01");
    mcp_tasks_e2e::Schema::modern()
        .check("UnsupportedProtocolVersionError", &reply)
        .unwrap();
}

#[test]
fn a_task_completes_and_its_result_is_inlined() {
    let mut s = start();
    let id = create(&mut s, "echo", json!({ "text": "hello" }));
    let done = settle(&mut s, &id, "completed");
    assert_eq!(done["result"]["content"][0]["text"], "hello\n");
    assert!(done["result"].get("_meta").is_none(), "{done}");
    // The same request without the extension gets no task: the optional tool answers plainly.
    let plain = s
        .modern(
            "tools/call",
            json!({ "name": "echo", "arguments": { "text": "plain" } }),
            json!({}),
        )
        .expect("a plain result");
    assert_eq!(plain["resultType"], "complete");
    assert_eq!(plain["content"][0]["text"], "plain\n");
    // tasks/* without the extension: -32021, before any lookup.
    for task_id in [id.as_str(), "no-such-task"] {
        let err = s
            .modern("tasks/get", json!({ "taskId": task_id }), json!({}))
            .unwrap_err();
        assert_eq!(err["code"], -32021);
    }
    // No tasks/result and no tasks/list in this era.
    for method in ["tasks/result", "tasks/list"] {
        let err = s
            .modern(method, json!({ "taskId": id }), with_tasks())
            .unwrap_err();
        assert_eq!(err["code"], -32601, "{method}");
    }
    // A tool that runs only as a task, for a client without the extension: -32021.
    let err = s
        .modern(
            "tools/call",
            json!({ "name": "slow", "arguments": { "pidfile": "/dev/null" } }),
            json!({}),
        )
        .unwrap_err();
    assert_eq!(
        err["data"]["requiredCapabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({})
    );
}

#[test]
fn a_tool_error_completes_and_a_jsonrpc_error_fails() {
    let mut s = start();
    let broken = create(&mut s, "broken", json!({}));
    let done = settle(&mut s, &broken, "completed");
    assert_eq!(done["result"]["isError"], true);
    assert!(
        done["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("disk full")
    );
    let limited = create(&mut s, "limited", json!({}));
    let failed = settle(&mut s, &limited, "failed");
    assert_eq!(failed["error"]["code"], -32603);
    assert_eq!(failed["error"]["message"], "API rate limit exceeded");
    assert_eq!(failed["statusMessage"], "API rate limit exceeded");
    // The same tool as a plain call answers the JSON-RPC error itself.
    let err = s
        .modern("tools/call", json!({ "name": "limited" }), json!({}))
        .unwrap_err();
    assert_eq!(err["code"], -32603);
}

#[test]
fn two_keyed_questions_answered_in_two_updates() {
    let mut s = start();
    let id = create(&mut s, "interview", json!({}));
    let waiting = settle(&mut s, &id, "input_required");
    let requests = waiting["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 2, "{waiting}");
    assert_eq!(requests["poem"]["method"], "sampling/createMessage");
    // Nothing is pushed to a modern client: no requests, no legacy notifications.
    assert!(
        s.drain()
            .iter()
            .all(|m| m.get("method").is_none() || m["method"] == "notifications/tasks"),
    );

    let ack = s
        .modern(
            "tasks/update",
            json!({ "taskId": id, "inputResponses": {
                "name": { "action": "accept", "content": { "name": "Luca" } },
                "unknown-key": { "action": "decline" },
            } }),
            with_tasks(),
        )
        .expect("ack");
    assert_eq!(ack, json!({ "resultType": "complete" }));
    let still = settle(&mut s, &id, "input_required");
    assert_eq!(
        still["inputRequests"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["poem"]
    );
    s.modern(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": { "poem": {
            "role": "assistant", "content": { "type": "text", "text": "roses" }, "model": "m", "stopReason": "endTurn"
        } } }),
        with_tasks(),
    )
    .expect("ack");
    let done = settle(&mut s, &id, "completed");
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains(r#""key":"name""#) && text.contains("Luca"),
        "{text}"
    );
    assert!(
        text.contains(r#""key":"poem""#) && text.contains("roses"),
        "{text}"
    );
    // Updates of a terminal task are acknowledged and ignored.
    let late = s.modern(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": { "name": { "action": "cancel" } } }),
        with_tasks(),
    );
    assert_eq!(late.unwrap()["resultType"], "complete");
}

#[test]
fn cancel_acknowledges_stops_the_tool_and_ignores_terminal_tasks() {
    let mut s = start();
    let pidfile = s.dir.path().join("slow.pid");
    let id = create(&mut s, "slow", json!({ "pidfile": pidfile }));
    let pids = read_pids(&pidfile, 1);
    let ack = s
        .modern("tasks/cancel", json!({ "taskId": id }), with_tasks())
        .expect("ack");
    assert_eq!(ack, json!({ "resultType": "complete" }));
    wait_until_dead(&pids, "the cancelled tool");
    assert_eq!(settle(&mut s, &id, "cancelled")["status"], "cancelled");
    let again = s.modern("tasks/cancel", json!({ "taskId": id }), with_tasks());
    assert_eq!(again.unwrap(), json!({ "resultType": "complete" }));
    let unknown = s
        .modern("tasks/cancel", json!({ "taskId": "nope" }), with_tasks())
        .unwrap_err();
    assert_eq!(unknown["code"], -32602);
}

#[test]
fn a_plain_call_asks_with_input_required_and_the_retry_resumes_the_same_run() {
    let mut s = start();
    let caps = json!({ "elicitation": { "form": {} } });
    let first = s
        .modern("tools/call", json!({ "name": "confirm" }), caps.clone())
        .expect("input required");
    assert_eq!(first["resultType"], "input_required");
    let (key, request) = first["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(request["params"]["message"], "Proceed?");
    let state = first["requestState"].as_str().unwrap().to_string();

    // A forged state is refused, and changes nothing.
    let forged = s
        .modern(
            "tools/call",
            json!({ "name": "confirm", "requestState": format!("x{state}"), "inputResponses": {} }),
            caps.clone(),
        )
        .unwrap_err();
    assert_eq!(forged["code"], -32602);

    let done = s
        .modern(
            "tools/call",
            json!({ "name": "confirm", "requestState": state, "inputResponses": {
                key: { "action": "accept", "content": { "ok": true } }
            } }),
            caps,
        )
        .expect("the result");
    let text = done["content"][0]["text"].as_str().unwrap();
    assert!(text.contains(r#""ok":true"#), "{text}");
    // A client without elicitation is never asked: the call is refused with -32021, naming
    // the capability it needs (SEP-2575).
    let refused = s
        .modern("tools/call", json!({ "name": "confirm" }), json!({}))
        .expect_err("-32021");
    assert_eq!(refused["code"], -32021);
    assert_eq!(
        refused["data"]["requiredCapabilities"],
        json!({ "elicitation": {} })
    );
}

#[test]
fn a_subscription_pushes_the_task_as_it_changes_until_cancelled() {
    let mut s = start();
    let pidfile = s.dir.path().join("slow.pid");
    let id = create(&mut s, "slow", json!({ "pidfile": pidfile }));
    let listen = s.send_modern(
        "subscriptions/listen",
        json!({ "notifications": { "taskIds": [id, "not-mine"] } }),
        with_tasks(),
    );
    let ack = s.next_matching("the acknowledgement", |m| {
        m["method"] == "notifications/subscriptions/acknowledged"
    });
    mcp_tasks_e2e::Schema::modern()
        .check("SubscriptionsAcknowledgedNotification", &ack)
        .unwrap();
    assert_eq!(ack["params"]["notifications"]["taskIds"], json!([id]));
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        listen
    );
    let working = s.task_notification(&id, "working");
    assert_eq!(
        working["_meta"]["io.modelcontextprotocol/subscriptionId"],
        listen
    );
    read_pids(&pidfile, 1);
    s.modern("tasks/cancel", json!({ "taskId": id }), with_tasks())
        .expect("ack");
    s.task_notification(&id, "cancelled");
    // The client ends the subscription; nothing more arrives for it, and no response.
    s.send_line(
        &json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": listen } })
            .to_string(),
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(
        s.drain().iter().all(|m| m["id"] != listen),
        "no response to a cancelled subscription"
    );
}

#[test]
fn both_eras_on_one_connection_share_the_state_machine() {
    let mut s = start();
    s.request(
        "initialize",
        json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "e2e", "version": "1" } }),
    )
    .expect("initialize");
    let legacy = s
        .request(
            "tools/call",
            json!({ "name": "broken", "arguments": {}, "task": {} }),
        )
        .expect("a legacy task");
    let legacy_id = legacy["task"]["taskId"].as_str().unwrap().to_string();
    s.status_notification(&legacy_id, "failed");
    // The legacy task, failed on isError, seen from the modern era: failed, with the result as
    // the error's data.
    let seen = settle(&mut s, &legacy_id, "failed");
    assert_eq!(seen["error"]["data"]["isError"], true);
    // A modern task, seen from the legacy era.
    let modern_id = create(&mut s, "echo", json!({ "text": "both" }));
    settle(&mut s, &modern_id, "completed");
    let result = s
        .request("tasks/result", json!({ "taskId": modern_id }))
        .expect("its result");
    assert_eq!(result["content"][0]["text"], "both\n");
    let listed = s.request("tasks/list", json!({})).expect("list");
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 2);
}

/// The answer to a question reaches the tool whichever server takes it: asked by a tool on A,
/// answered through B, and the tool on A carries on.
fn answered_through_another_server(store: &str) {
    let mut a = Server::start(TOOLS, &["--owner", "tester", "--store", store]);
    let mut b = Server::start(TOOLS, &["--owner", "tester", "--store", store]);
    let id = create(&mut a, "interview", json!({}));
    let waiting = settle(&mut b, &id, "input_required");
    assert_eq!(waiting["inputRequests"].as_object().unwrap().len(), 2);
    b.modern(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": {
            "name": { "action": "accept", "content": { "name": "Ada" } },
            "poem": { "role": "assistant", "content": { "type": "text", "text": "lines" }, "model": "m" },
        } }),
        with_tasks(),
    )
    .expect("ack");
    let done = settle(&mut b, &id, "completed");
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("Ada") && text.contains("lines"), "{text}");
}

#[test]
fn an_answer_through_another_server_reaches_the_tool_on_a_file_store() {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    answered_through_another_server(&store);
}

#[test]
fn an_answer_through_another_server_reaches_the_tool_on_postgres() {
    answered_through_another_server(&postgres_url());
}
