//! Progress through the real binary: a command tool's `{"progress": ...}` stderr lines become
//! `notifications/progress` with the client's token, for plain calls of both eras and for
//! 2025-11-25 tasks over their whole life; never without a token, never for a 2026-07-28 task
//! (the extension has none), and at most one per `progress_interval_ms`. Every notification is
//! checked against the schema of its era.

use std::time::Instant;

use mcp_tasks_e2e::http::HttpServer;
use mcp_tasks_e2e::{Schema, Server};
use serde_json::{Value, json};

/// Ten steps a tenth of a second apart, each a progress line with a message.
const STEPS: &str = r#"'i=1; while [ $i -le 10 ]; do echo "{\"progress\":$i,\"total\":10,\"message\":\"step $i of 10\"}" >&2; sleep 0.1; i=$((i+1)); done; echo done'"#;

fn tools(progress_interval: Option<u64>) -> String {
    let interval = progress_interval
        .map(|ms| format!("progress_interval_ms = {ms}"))
        .unwrap_or_default();
    format!(
        r#"
[server]
poll_interval_ms = 100
{interval}

[[tools]]
name = "steps"
description = "Report ten steps of progress"
command = ["sh", "-c", {STEPS}]
task_support = "optional"

[[tools]]
name = "steps_plain"
description = "The same, never as a task"
command = ["sh", "-c", {STEPS}]
task_support = "forbidden"

[[tools]]
name = "chatty"
description = "Report 10,000 times in about a second: batches of 1,000, a tenth of a second apart"
command = ["sh", "-c", 'i=1; while [ $i -le 10000 ]; do echo "{{\"progress\":$i,\"total\":10000}}" >&2; if [ $((i % 1000)) -eq 0 ]; then sleep 0.1; fi; i=$((i+1)); done; echo done']
task_support = "forbidden"
"#
    )
}

/// The `notifications/progress` among these messages, each checked against `schema`.
fn progress_of(messages: &[Value], schema: &Schema) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| {
            schema
                .check("ProgressNotification", m)
                .unwrap_or_else(|e| panic!("{e}\n{m}"));
            m["params"].clone()
        })
        .collect()
}

/// The ten steps, with this token.
fn ten_steps(token: Value) -> Vec<Value> {
    (1..=10)
        .map(|i| {
            json!({
                "progressToken": token,
                "progress": i,
                "total": 10,
                "message": format!("step {i} of 10"),
            })
        })
        .collect()
}

/// Messages until the response to request `id` (included).
fn until_response(server: &mut Server, id: u64) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let m = server.next_matching("a message", |_| true);
        let done = m["id"] == id && m.get("method").is_none();
        seen.push(m);
        if done {
            return seen;
        }
    }
}

#[test]
fn ten_steps_give_ten_increasing_notifications_as_a_plain_call_and_as_a_task() {
    let mut server = Server::start(&tools(Some(20)), &["--owner", "tester"]);
    server.initialize();

    // A plain call: every step before the result.
    let id = server.send(
        "tools/call",
        json!({ "name": "steps", "arguments": {}, "_meta": { "progressToken": "plain-1" } }),
    );
    let seen = until_response(&mut server, id);
    assert_eq!(
        seen.last().unwrap()["result"]["content"][0]["text"],
        "done\n"
    );
    assert_eq!(
        progress_of(&seen, Schema::get()),
        ten_steps(json!("plain-1"))
    );

    // A task: the same token goes on after the CreateTaskResult, for the task's whole life, and
    // the last comes before the task's completion.
    let created = server
        .request(
            "tools/call",
            json!({ "name": "steps", "arguments": {}, "task": { "ttl": 60000 }, "_meta": { "progressToken": 42 } }),
        )
        .expect("task created");
    let task_id = created["task"]["taskId"].as_str().unwrap().to_string();
    let mut seen = Vec::new();
    loop {
        let m = server.next_matching("a message", |_| true);
        let completed = m["method"] == "notifications/tasks/status"
            && m["params"]["taskId"] == task_id
            && m["params"]["status"] == "completed";
        seen.push(m);
        if completed {
            break;
        }
    }
    assert_eq!(progress_of(&seen, Schema::get()), ten_steps(json!(42)));
    // The last step's message stays the task's status message only while it works: the
    // completed task says nothing more here.
    let task = server
        .request("tasks/get", json!({ "taskId": task_id }))
        .unwrap();
    assert_eq!(task["status"], "completed");
    assert!(progress_of(&server.drain(), Schema::get()).is_empty());
}

#[test]
fn without_a_token_nothing_is_sent_and_the_message_is_the_status_message() {
    let mut server = Server::start(&tools(Some(20)), &["--owner", "tester"]);
    server.initialize();
    let id = server.send("tools/call", json!({ "name": "steps", "arguments": {} }));
    let seen = until_response(&mut server, id);
    assert!(progress_of(&seen, Schema::get()).is_empty(), "{seen:?}");

    let created = server
        .request(
            "tools/call",
            json!({ "name": "steps", "arguments": {}, "task": { "ttl": 60000 } }),
        )
        .expect("task created");
    let task_id = created["task"]["taskId"].as_str().unwrap().to_string();
    // A report's message is the working task's status message.
    let working = server.poll_task(&task_id, "showing a step", |t| {
        t["statusMessage"]
            .as_str()
            .is_some_and(|m| m.starts_with("step "))
    });
    assert_eq!(working["status"], "working");
    server.status_notification(&task_id, "completed");
    assert!(progress_of(&server.drain(), Schema::get()).is_empty());
}

#[test]
fn a_2026_plain_call_gets_progress_and_a_2026_task_none() {
    let mut server = Server::start(&tools(Some(20)), &["--owner", "tester"]);
    // A plain call (the client does not declare the tasks extension).
    let id = server.send_modern(
        "tools/call",
        json!({ "name": "steps", "arguments": {}, "_meta": { "progressToken": "m-1" } }),
        json!({}),
    );
    let seen = until_response(&mut server, id);
    assert_eq!(seen.last().unwrap()["result"]["resultType"], "complete");
    assert_eq!(
        progress_of(&seen, Schema::modern()),
        ten_steps(json!("m-1"))
    );

    // A task: the extension has no progress for tasks, so none is sent.
    let caps = json!({ "extensions": { "io.modelcontextprotocol/tasks": {} } });
    let created = server
        .modern(
            "tools/call",
            json!({ "name": "steps", "arguments": {}, "_meta": { "progressToken": "m-2" } }),
            caps.clone(),
        )
        .expect("task created");
    assert_eq!(created["resultType"], "task");
    let task_id = created["taskId"].as_str().unwrap().to_string();
    loop {
        let task = server
            .modern("tasks/get", json!({ "taskId": task_id }), caps.clone())
            .unwrap();
        if task["status"] == "completed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(progress_of(&server.drain(), Schema::modern()).is_empty());
}

#[test]
fn a_tool_reporting_ten_thousand_times_a_second_reaches_the_client_at_the_documented_rate() {
    // The default interval: 100 ms.
    let mut server = Server::start(&tools(None), &["--owner", "tester"]);
    server.initialize();
    let started = Instant::now();
    let id = server.send(
        "tools/call",
        json!({ "name": "chatty", "arguments": {}, "_meta": { "progressToken": "fast" } }),
    );
    let seen = until_response(&mut server, id);
    let elapsed_ms = started.elapsed().as_millis() as f64;
    let progress: Vec<f64> = progress_of(&seen, Schema::get())
        .iter()
        .map(|p| p["progress"].as_f64().unwrap())
        .collect();
    // At most one per 100 ms of the call's life, the first and the one that reaches the total
    // besides; the last is the total; each above the one before.
    let most = (elapsed_ms / 100.0).floor() as usize + 2;
    assert!(
        progress.len() >= 2 && progress.len() <= most,
        "{} notifications in {elapsed_ms} ms (at most {most}): {progress:?}",
        progress.len()
    );
    eprintln!(
        "10,000 reports in {elapsed_ms} ms became {} notifications",
        progress.len()
    );
    assert_eq!(progress.last(), Some(&10000.0));
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
}

#[test]
fn over_http_a_plain_call_streams_its_progress_before_its_answer() {
    let server = HttpServer::start(&tools(Some(20)), &["--owner", "web"]);
    let reply = server.modern(
        None,
        1,
        "tools/call",
        json!({ "name": "steps_plain", "arguments": {}, "_meta": { "progressToken": "h-1" } }),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply
            .header("content-type")
            .map(|c| c.starts_with("text/event-stream")),
        Some(true),
        "{reply:?}"
    );
    assert_eq!(reply.result()["content"][0]["text"], "done\n");
    assert_eq!(
        progress_of(&reply.messages, Schema::modern()),
        ten_steps(json!("h-1"))
    );
    let last = reply.messages.last().unwrap();
    assert_eq!(last["id"], 1, "the answer comes last: {reply:?}");
}
