//! The bounds of a stdio server, and a trap in the component, through the binary: each refusal a
//! JSON-RPC error that names the limit, and the server serving on after it with nothing lost.

use std::time::Duration;

use mcp_tasks_e2e::Server;
use serde_json::json;

const TOOLS: &str = concat!(
    mcp_tasks_e2e::wait_tool!(),
    r#"
[[tools]]
name = "shout"
description = "A status line of 3 MiB with no newline, then one that says something"
command = ["sh", "-c", "head -c 3145728 /dev/zero | tr '\\0' x >&2; echo >&2; echo 'the real reason' >&2; exit 3"]
task_support = "optional"

[[tools]]
name = "flood"
description = "Write this many bytes of output, then exit well"
command = ["sh", "-c", "head -c \"$0\" /dev/zero | tr '\\0' y", "{bytes}"]
task_support = "optional"
input_schema = { type = "object", properties = { bytes = { type = "integer" } }, required = ["bytes"] }

[[tools]]
name = "ask_at_length"
description = "Ask a question 2 MiB long, then print the answer it gets"
command = ["sh", "-c", "read args; head -c 2097152 /dev/zero | tr '\\0' x >&3; echo >&3; read answer; echo \"answer: $answer\""]
task_support = "optional"
questions = true
"#
);

fn path(server: &Server, name: &str) -> String {
    server.dir.path().join(name).display().to_string()
}

#[test]
fn a_line_longer_than_the_limit_is_refused_and_the_server_serves_on() {
    // Set in the tools file this time; the other tests set their bound by flag.
    let mut s = Server::start(&format!("[server]\nmax_body = 1000\n{TOOLS}"), &[]);
    s.initialize();
    let flag = path(&s, "go");
    let task = s.create_task("wait", json!({ "path": flag }));
    let long = json!({
        "jsonrpc": "2.0", "id": 99, "method": "ping", "params": { "pad": "x".repeat(5000) }
    });
    let long = long.to_string();
    s.send_line(&long);
    let refusal = s.next_matching("the refusal", |m| m.get("error").is_some());
    assert_eq!(refusal["error"]["code"], -32600, "{refusal}");
    let message = refusal["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("is {} bytes", long.len()))
            && message.contains("(1000, set by --max-body or max_body)"),
        "{message}"
    );
    // The next request, and the task created before, are as they were.
    assert_eq!(s.request("ping", json!({})), Ok(json!({})));
    std::fs::write(&flag, "").unwrap();
    let done = s.poll_task(&task, "completed", |t| t["status"] == "completed");
    assert_eq!(done["status"], "completed");
}

#[test]
fn tools_beyond_the_callers_limit_are_refused_until_one_ends() {
    // The flag overrides the tools file.
    let mut s = Server::start(
        &format!("[server]\nmax_tasks_per_owner = 5\n{TOOLS}"),
        &["--max-tasks-per-owner", "1"],
    );
    s.initialize();
    let flag = path(&s, "go");
    let first = s.create_task("wait", json!({ "path": flag }));
    let refused = s
        .request(
            "tools/call",
            json!({ "name": "wait", "arguments": { "path": flag }, "task": {} }),
        )
        .expect_err("a second tool is refused");
    assert_eq!(refused["code"], -32000, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("already has 1 tools running"),
        "{refused}"
    );
    // Other requests go on meanwhile.
    assert_eq!(
        s.request("tasks/get", json!({ "taskId": first })).unwrap()["status"],
        "working"
    );
    std::fs::write(&flag, "").unwrap();
    s.poll_task(&first, "completed", |t| t["status"] == "completed");
    // The run is counted until it has ended here; then there is room again.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let second = loop {
        match s.request(
            "tools/call",
            json!({ "name": "wait", "arguments": { "path": flag }, "task": {} }),
        ) {
            Ok(created) => break created["task"]["taskId"].as_str().unwrap().to_string(),
            Err(e) if std::time::Instant::now() < deadline => {
                assert_eq!(e["code"], -32000, "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("still refused: {e}"),
        }
    };
    s.poll_task(&second, "completed", |t| t["status"] == "completed");
}

#[test]
fn waiting_requests_beyond_the_limit_are_refused_and_the_reader_is_never_held_by_them() {
    let mut s = Server::start(TOOLS, &["--max-requests-per-owner", "2"]);
    s.initialize();
    let flag = path(&s, "go");
    let tasks: Vec<String> = (0..3)
        .map(|_| s.create_task("wait", json!({ "path": flag })))
        .collect();
    // Two tasks/result wait; they do not hold the reader, so the third is read and refused.
    let waiting: Vec<u64> = tasks[..2]
        .iter()
        .map(|t| s.send("tasks/result", json!({ "taskId": t })))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let refused = s
        .request("tasks/result", json!({ "taskId": tasks[2] }))
        .expect_err("a third wait is refused");
    assert_eq!(refused["code"], -32000, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("2 requests of this connection are already waiting"),
        "{refused}"
    );
    // Requests that do not wait are answered while two wait.
    for _ in 0..10 {
        assert_eq!(s.request("ping", json!({})), Ok(json!({})));
    }
    std::fs::write(&flag, "").unwrap();
    for id in waiting {
        let result = s.response(id).expect("the result");
        assert_eq!(result["content"][0]["text"], "done\n", "{result}");
    }
    // The refused one lost nothing: its task completed, and its result can be asked for again.
    let result = s.request("tasks/result", json!({ "taskId": tasks[2] }));
    assert_eq!(result.unwrap()["content"][0]["text"], "done\n");
}

#[test]
fn a_tools_endless_stderr_line_is_dropped_and_said_so() {
    let mut s = Server::start(TOOLS, &[]);
    s.initialize();
    let task = s.create_task("shout", json!({}));
    let failed = s.poll_task(&task, "failed", |t| t["status"] == "failed");
    let message: &str = failed["statusMessage"].as_str().unwrap();
    assert!(
        message.contains("a line of 3145728 bytes on stderr, longer than 1048576, was dropped")
            && message.contains("the real reason")
            && message.len() < 2000,
        "{message}"
    );
}

#[test]
fn a_tools_output_beyond_the_limit_fails_its_run_and_is_not_held() {
    let mut s = Server::start(
        &format!("[server]\nmax_tool_output_bytes = 100000\n{TOOLS}"),
        &[],
    );
    s.initialize();
    // Within the bound: the output is the result.
    let within = s.create_task("flood", json!({ "bytes": 100000 }));
    s.poll_task(&within, "completed", |t| t["status"] == "completed");
    let result = s.request("tasks/result", json!({ "taskId": within }));
    assert_eq!(
        result.unwrap()["content"][0]["text"].as_str().map(str::len),
        Some(100000)
    );
    // 50 MB beyond it: read to the end (the program is not stopped by a full pipe), then the
    // run fails saying how much it wrote.
    let beyond = s.create_task("flood", json!({ "bytes": 50_000_000 }));
    let failed = s.poll_task(&beyond, "failed", |t| t["status"] == "failed");
    let message = failed["statusMessage"].as_str().unwrap();
    assert!(
        message
            .contains("'sh' wrote 50000000 bytes on stdout, more than a result may hold (100000"),
        "{message}"
    );
    assert_eq!(s.request("ping", json!({})), Ok(json!({})));
}

#[test]
fn a_trap_in_the_component_costs_that_request_alone() {
    // A 40 MB message is within this --max-body, but parsed it needs more than an instance of the
    // component may hold (256 MiB): the call traps.
    let mut s = Server::start(TOOLS, &["--max-body", "100000000"]);
    s.initialize();
    let flag = path(&s, "go");
    let task = s.create_task("wait", json!({ "path": flag }));
    let zeros = vec!["0"; 20_000_000].join(",");
    let id = 4242;
    s.send_line(&format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"wait","arguments":{{"path":"{flag}","pad":[{zeros}]}},"task":{{}}}}}}"#
    ));
    let trapped = s.next_matching("the trap's answer", |m| m["id"] == id);
    assert_eq!(trapped["error"]["code"], -32603, "{trapped}");
    let message = trapped["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the tasks component trapped") && message.contains("growing memory"),
        "{message}"
    );
    // Later requests are served, and the store holds only the task created before.
    assert_eq!(s.request("ping", json!({})), Ok(json!({})));
    let listed = s.request("tasks/list", json!({})).unwrap();
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["tasks"][0]["taskId"], task.as_str());
    std::fs::write(&flag, "").unwrap();
    s.poll_task(&task, "completed", |t| t["status"] == "completed");
}

#[test]
fn a_question_longer_than_the_limit_is_answered_to_the_tool_with_an_error() {
    let mut s = Server::start(TOOLS, &[]);
    s.initialize();
    let task = s.create_task("ask_at_length", json!({}));
    let done = s.poll_task(&task, "completed", |t| t["status"] == "completed");
    assert_eq!(done["status"], "completed");
    let result = s
        .request("tasks/result", json!({ "taskId": task }))
        .unwrap();
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("-32600")
            && text.contains("the question is 2097152 bytes, more than 1048576"),
        "{text}"
    );
}

#[test]
fn a_client_that_does_not_read_loses_notifications_never_responses() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let tools = dir.path().join("tools.toml");
    // A tool that reports progress as fast as it can, each report passed on, until told to stop.
    std::fs::write(
        &tools,
        r#"
[server]
progress_interval_ms = 0

[[tools]]
name = "chatty"
command = ["sh", "-c", "i=1; while [ ! -e \"$0\" ]; do echo \"{\\\"progress\\\": $i}\" >&2; i=$((i+1)); done; echo done", "{stop}"]
task_support = "forbidden"
input_schema = { type = "object", properties = { stop = { type = "string" } }, required = ["stop"] }
"#,
    )
    .unwrap();
    let stop = dir.path().join("stop");
    let mut child = Command::new(mcp_tasks_e2e::binary())
        .args(["serve", "--max-queued-bytes", "20000", "--tools"])
        .arg(&tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = mcp_tasks_e2e::collect_stderr(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "chatty",
            "arguments": { "stop": stop.display().to_string() },
            "_meta": { "progressToken": "p" },
        },
    });
    stdin.write_all(format!("{call}\n").as_bytes()).unwrap();
    // The client reads nothing until notifications are dropped; then the tool is told to stop.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !stderr.lock().unwrap().contains("notifications dropped") {
        assert!(std::time::Instant::now() < deadline, "nothing dropped");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(&stop, "").unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let response = loop {
        let line = lines.next().expect("more output").unwrap();
        let message: serde_json::Value = serde_json::from_str(&line).unwrap();
        if message.get("id").is_some() {
            break message;
        }
        assert_eq!(message["method"], "notifications/progress", "{message}");
    };
    // The response is there, whole.
    assert_eq!(
        response["result"]["content"][0]["text"], "done\n",
        "{response}"
    );
    drop(stdin);
    let _ = child.wait();
}
