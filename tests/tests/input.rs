//! `input_required` through the real binary: a command tool asks the client a question on fd 3,
//! the server asks the client with `elicitation/create`, and the answer resumes the tool.

use mcp_tasks_e2e::{Server, read_pids, wait_until_dead};
use serde_json::{Value, json};

/// `$0` of each script is the question (the params of `elicitation/create`, as JSON text).
const TOOLS: &str = r#"
[server]
poll_interval_ms = 100

[[tools]]
name = "ask"
description = "Ask the client the given question, then print its answer"
command = ["sh", "-c", "read args; echo 'thinking' >&2; echo \"$0\" >&3; read answer; echo \"answer: $answer\"", "{question}"]
task_support = "optional"
questions = true
input_schema = { type = "object", properties = { question = { type = "string" } }, required = ["question"] }

[[tools]]
name = "ask_when_file"
description = "Wait until the file exists, then ask"
command = ["sh", "-c", "read args; while [ ! -e \"$1\" ]; do sleep 0.02; done; echo \"$0\" >&3; read answer; echo \"answer: $answer\"", "{question}", "{path}"]
task_support = "required"
questions = true
input_schema = { type = "object", properties = { question = { type = "string" }, path = { type = "string" } }, required = ["question", "path"] }

[[tools]]
name = "ask_and_hang"
description = "Record the PID, ask, and never finish"
command = ["sh", "-c", "echo $$ > \"$1\"; echo \"$0\" >&3; exec sleep 300", "{question}", "{pidfile}"]
task_support = "required"
questions = true
grace_secs = 0.5
input_schema = { type = "object", properties = { question = { type = "string" }, pidfile = { type = "string" } }, required = ["question", "pidfile"] }
"#;

fn question() -> String {
    json!({
        "message": "Deploy to production?",
        "requestedSchema": {
            "type": "object",
            "properties": { "confirm": { "type": "boolean", "title": "Confirm" } },
            "required": ["confirm"]
        }
    })
    .to_string()
}

/// A server whose client declared these capabilities.
fn start(capabilities: Value) -> Server {
    let mut s = Server::start(TOOLS, &["--owner", "tester"]);
    s.request(
        "initialize",
        json!({ "protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": { "name": "e2e", "version": "1" } }),
    )
    .expect("initialize");
    s.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    s
}

fn create(s: &mut Server, tool: &str, arguments: Value) -> String {
    let created = s
        .request(
            "tools/call",
            json!({ "name": tool, "arguments": arguments, "task": { "ttl": 60000 } }),
        )
        .expect("task created");
    created["task"]["taskId"].as_str().unwrap().to_string()
}

fn related_task(message: &Value) -> &Value {
    &message["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"]
}

#[test]
fn a_task_asks_then_the_client_answers_through_tasks_result() {
    let mut s = start(json!({ "elicitation": {} }));
    let id = create(&mut s, "ask", json!({ "question": question() }));

    // The client polls, sees input_required and what is awaited, then calls tasks/result.
    let task = s.poll_task(&id, "input_required", |t| t["status"] == "input_required");
    assert_eq!(
        task["statusMessage"],
        "Waiting for input: Deploy to production?"
    );
    s.status_notification(&id, "input_required");
    let waiting = s.send("tasks/result", json!({ "taskId": id }));
    let asked = s.server_request("elicitation/create", "ElicitRequest");
    assert_eq!(related_task(&asked), id.as_str());
    assert_eq!(asked["params"]["message"], "Deploy to production?");
    assert_eq!(
        asked["params"]["requestedSchema"]["required"],
        json!(["confirm"])
    );

    s.respond(
        &asked["id"],
        json!({ "action": "accept", "content": { "confirm": true } }),
    );
    s.status_notification(&id, "working");
    s.status_notification(&id, "completed");
    let result = s.response(waiting).expect("the task's result");
    assert_eq!(
        result["content"][0]["text"],
        "answer: {\"action\":\"accept\",\"content\":{\"confirm\":true}}\n"
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        id.as_str()
    );
    // The question was asked once only.
    assert!(
        !s.drain()
            .iter()
            .any(|m| m["method"] == "elicitation/create"),
        "asked twice"
    );
}

#[test]
fn a_question_reaches_a_tasks_result_that_already_waits() {
    let mut s = start(json!({ "elicitation": { "form": {} } }));
    let go = s.dir.path().join("go");
    let id = create(
        &mut s,
        "ask_when_file",
        json!({ "question": question(), "path": go }),
    );
    let waiting = s.send("tasks/result", json!({ "taskId": id }));
    // Other requests are answered meanwhile.
    s.request("ping", json!({})).expect("ping");
    std::fs::write(&go, "").unwrap();

    let asked = s.server_request("elicitation/create", "ElicitRequest");
    assert_eq!(related_task(&asked), id.as_str());
    s.respond(&asked["id"], json!({ "action": "decline" }));
    let result = s.response(waiting).expect("the task's result");
    assert_eq!(
        result["content"][0]["text"],
        "answer: {\"action\":\"decline\"}\n"
    );
    let task = s.request("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(task["status"], "completed");
}

#[test]
fn cancel_while_input_is_required_kills_the_tool_and_drops_the_late_answer() {
    let mut s = start(json!({ "elicitation": {} }));
    let pidfile = s.dir.path().join("pid");
    let id = create(
        &mut s,
        "ask_and_hang",
        json!({ "question": question(), "pidfile": pidfile }),
    );
    s.poll_task(&id, "input_required", |t| t["status"] == "input_required");
    let pid = read_pids(&pidfile, 1)[0];
    let waiting = s.send("tasks/result", json!({ "taskId": id }));
    let asked = s.server_request("elicitation/create", "ElicitRequest");

    let cancelled = s.request("tasks/cancel", json!({ "taskId": id })).unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(s.response(waiting).unwrap_err()["code"], -32800);
    wait_until_dead(&[pid], "the tool after the cancel");

    // The answer comes too late: logged and dropped, and the task stays cancelled.
    s.respond(
        &asked["id"],
        json!({ "action": "accept", "content": { "confirm": true } }),
    );
    s.request("ping", json!({})).expect("the server goes on");
    let task = s.request("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(task["status"], "cancelled");
    let (status, stderr) = s.close();
    assert!(status.success());
    assert!(stderr.contains("no longer waits"), "{stderr}");
}

#[test]
fn a_client_without_elicitation_gets_a_failed_task_that_says_why() {
    let mut s = start(json!({}));
    let pidfile = s.dir.path().join("pid");
    let id = create(
        &mut s,
        "ask_and_hang",
        json!({ "question": question(), "pidfile": pidfile }),
    );
    let failed = s.status_notification(&id, "failed");
    assert!(
        failed["statusMessage"]
            .as_str()
            .unwrap()
            .contains("did not declare the elicitation capability"),
        "{failed}"
    );
    let result = s.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["isError"], true);
    let pid = read_pids(&pidfile, 1)[0];
    wait_until_dead(&[pid], "the tool of the failed task");
    assert!(
        !s.drain()
            .iter()
            .any(|m| m["method"] == "elicitation/create"),
        "a client without the capability was asked"
    );
}

#[test]
fn a_plain_call_asks_at_once_and_responses_nobody_awaits_are_dropped() {
    let mut s = start(json!({ "elicitation": {} }));
    let call = s.send(
        "tools/call",
        json!({ "name": "ask", "arguments": { "question": question() } }),
    );
    let asked = s.server_request("elicitation/create", "ElicitRequest");
    assert!(asked["params"].get("_meta").is_none(), "{asked}");
    // Unknown ids, in a response or an error, are logged and dropped, never fatal.
    s.send_line(r#"{"jsonrpc":"2.0","id":"nobody-asked","result":{"action":"accept"}}"#);
    s.send_line(r#"{"jsonrpc":"2.0","id":4242,"error":{"code":-1,"message":"x"}}"#);
    s.respond(&asked["id"], json!({ "action": "cancel" }));
    let result = s.response(call).expect("the call's result");
    assert_eq!(
        result["content"][0]["text"],
        "answer: {\"action\":\"cancel\"}\n"
    );
    let (status, stderr) = s.close();
    assert!(status.success());
    assert!(
        stderr.contains("dropped a response to \"nobody-asked\""),
        "{stderr}"
    );
    assert!(stderr.contains("dropped a response to 4242"), "{stderr}");
}
