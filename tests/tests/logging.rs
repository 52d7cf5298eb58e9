//! Logging in 2025-11-25 through the binary over stdio: a command tool's log lines on stderr
//! reach a client that set a level with `logging/setLevel` as `notifications/message`, at or
//! above that level, before the call's answer; a task's are related to it; a client that set no
//! level gets none. (The official suite's `logging-set-level` and `tools-call-with-logging` run
//! over HTTP in `conformance.rs`.)

use mcp_tasks_e2e::{Schema, Server};
use serde_json::{Value, json};

const TOOLS: &str = r#"
[[tools]]
name = "chatty"
description = "Log at three levels, then answer"
command = ["sh", "-c", '''
echo '{"level": "debug", "data": "detail"}' >&2
echo '{"level": "info", "logger": "chatty", "data": "started"}' >&2
echo 'a plain stderr line' >&2
echo '{"level": "error", "data": {"disk": "full"}}' >&2
echo done
''']
task_support = "optional"
"#;

/// Every `notifications/message` the server sent before the message `until` accepts.
fn logs_before(server: &mut Server, until: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut logs = Vec::new();
    loop {
        let message = server.next_matching("a log line or the end", |m| {
            m["method"] == "notifications/message" || until(m)
        });
        if message["method"] != "notifications/message" {
            return logs;
        }
        Schema::get()
            .check("LoggingMessageNotification", &message)
            .unwrap_or_else(|e| panic!("{e}\n{message}"));
        logs.push(message["params"].clone());
    }
}

#[test]
fn a_tools_log_lines_reach_a_client_that_set_a_level() {
    let mut server = Server::start(TOOLS, &[]);
    server.initialize();
    // No level set: the call is answered with no log line.
    let id = server.send("tools/call", json!({ "name": "chatty", "arguments": {} }));
    assert_eq!(
        logs_before(&mut server, |m| m["id"] == id),
        Vec::<Value>::new()
    );

    assert_eq!(
        server.request("logging/setLevel", json!({ "level": "info" })),
        Ok(json!({}))
    );
    let id = server.send("tools/call", json!({ "name": "chatty", "arguments": {} }));
    let logs = logs_before(&mut server, |m| m["id"] == id);
    assert_eq!(
        logs,
        [
            json!({ "level": "info", "logger": "chatty", "data": "started" }),
            json!({ "level": "error", "data": { "disk": "full" } }),
        ]
    );

    // A task's lines name it.
    let task_id = server.create_task("chatty", json!({}));
    let logs = logs_before(&mut server, |m| {
        m["method"] == "notifications/tasks/status" && m["params"]["status"] == "completed"
    });
    assert_eq!(logs.len(), 2, "{logs:?}");
    for log in &logs {
        assert_eq!(
            log["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
            task_id
        );
    }
}
