//! Shutdown answers every request: at the end of stdin, a plain call whose tool finishes within
//! the drain gets its result; one whose tool does not, and a `tasks/result` still waiting, get a
//! JSON-RPC error saying the server is stopping; the output ends on a whole line.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TOOLS: &str = r#"
[[tools]]
name = "quick"
command = ["sh", "-c", "sleep 0.3; echo done"]
task_support = "optional"

[[tools]]
name = "slow"
command = ["sleep", "30"]
task_support = "optional"
"#;

#[test]
fn the_end_of_input_answers_every_request_in_flight() {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let tools = dir.path().join("tools.toml");
    std::fs::write(&tools, TOOLS).unwrap();
    let mut child = Command::new(mcp_tasks_e2e::binary())
        .args(["serve", "--drain-timeout", "1", "--tools"])
        .arg(&tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = |message: Value| {
        stdin.write_all(format!("{message}\n").as_bytes()).unwrap();
    };
    let init = json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}));
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "slow", "arguments": {}, "task": {}}}),
    );
    // The task's ID, to wait on it.
    let task_id = loop {
        let message: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        if message["id"] == 2 {
            break message["result"]["task"]["taskId"]
                .as_str()
                .unwrap()
                .to_string();
        }
    };
    send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/result", "params": {"taskId": task_id}}),
    );
    send(
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "quick", "arguments": {}}}),
    );
    send(
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "slow", "arguments": {}}}),
    );
    // Let the calls start, then end the input.
    std::thread::sleep(Duration::from_millis(100));
    let closed = Instant::now();
    drop(stdin);

    let mut answers = std::collections::HashMap::new();
    for line in lines {
        let line = line.unwrap();
        let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(id) = message.get("id").and_then(Value::as_i64) {
            answers.insert(id, message);
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    // The quick tool finished within the drain: its result.
    assert_eq!(
        answers[&4]["result"]["content"][0]["text"], "done\n",
        "{answers:?}"
    );
    // The slow plain call and the waiting tasks/result: an error that says the server stops.
    for id in [3, 5] {
        let error = &answers[&id]["error"];
        assert_eq!(error["code"], -32000, "{id}: {answers:?}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("The server is stopping"),
            "{id}: {error}"
        );
    }
    // Within the drain (1 s) and the tools' stop, not the slow tool's 30 s.
    assert!(
        closed.elapsed() < Duration::from_secs(15),
        "{:?}",
        closed.elapsed()
    );
}
