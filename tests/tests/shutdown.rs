//! Shutdown answers every request: at the end of stdin or on SIGTERM, a plain call whose tool
//! finishes within the drain gets its result; one whose tool does not gets a JSON-RPC error
//! saying the server is stopping; a `tasks/result` waiting on a task whose tool the drain stopped
//! gets the task's end (failed, on the memory store) or, on a file store where the task is
//! handed back, the stopping error with the task as it stands; the output ends on a whole line.
//! Over HTTP, SIGTERM answers the plain calls in flight the same way, and ends a subscription's
//! stream on the result that completes it. (Workers: `drain.rs`.)

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
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
    every_request_is_answered_when(End::Input);
}

#[test]
fn sigterm_over_stdio_answers_every_request_in_flight() {
    every_request_is_answered_when(End::Sigterm);
}

/// How the server is told to stop.
enum End {
    Input,
    Sigterm,
}

/// A `serve` over stdio (`TOOLS`, these arguments), initialized, with a task of `slow` running
/// and a `tasks/result` (id 3) waiting on it.
struct Waiting {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    task_id: String,
}

impl Waiting {
    fn start(dir: &Path, args: &[&str]) -> Waiting {
        let tools = dir.join("tools.toml");
        std::fs::write(&tools, TOOLS).unwrap();
        let mut child = Command::new(mcp_tasks_e2e::binary())
            .arg("serve")
            .args(args)
            .arg("--tools")
            .arg(&tools)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut server = Waiting {
            child,
            stdin,
            lines,
            task_id: String::new(),
        };
        let init = json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
        server.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}));
        server.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        server.send(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "slow", "arguments": {}, "task": {}}}),
        );
        server.task_id = server.created_task();
        let task_id = server.task_id.clone();
        server.send(
            json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/result", "params": {"taskId": task_id}}),
        );
        server
    }

    fn send(&mut self, message: Value) {
        self.stdin
            .write_all(format!("{message}\n").as_bytes())
            .unwrap();
    }

    /// The ID of the task the call (id 2) created.
    fn created_task(&mut self) -> String {
        loop {
            let line = self.lines.next().unwrap().unwrap();
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["id"] == 2 {
                return message["result"]["task"]["taskId"]
                    .as_str()
                    .unwrap()
                    .to_string();
            }
        }
    }
}

fn every_request_is_answered_when(end: End) {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let Waiting {
        mut child,
        mut stdin,
        lines,
        ..
    } = Waiting::start(dir.path(), &["--drain-timeout", "1"]);
    let mut send = |message: Value| {
        stdin.write_all(format!("{message}\n").as_bytes()).unwrap();
    };
    send(
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "quick", "arguments": {}}}),
    );
    send(
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "slow", "arguments": {}}}),
    );
    // Let the calls start, then end the input.
    std::thread::sleep(Duration::from_millis(100));
    let closed = Instant::now();
    let kept = match end {
        End::Input => {
            drop(stdin);
            None
        }
        End::Sigterm => {
            // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            Some(stdin)
        }
    };

    let mut answers = std::collections::HashMap::new();
    for line in lines {
        let line = line.unwrap();
        let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(id) = message.get("id").and_then(Value::as_i64) {
            answers.insert(id, message);
        }
    }
    let status = child.wait().unwrap();
    drop(kept);
    assert!(status.success(), "{status}");
    // The quick tool finished within the drain: its result.
    assert_eq!(
        answers[&4]["result"]["content"][0]["text"], "done\n",
        "{answers:?}"
    );
    // The slow plain call: an error that says the server stops.
    let error = &answers[&5]["error"];
    assert_eq!(error["code"], -32000, "{answers:?}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("The server is stopping"),
        "{error}"
    );
    // The waiting tasks/result: the drain stopped its task's tool, and on the memory store (which
    // ends with the process) the task failed, saying so: that end is its answer.
    let result = &answers[&3]["result"];
    assert_eq!(result["isError"], true, "{answers:?}");
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("stopped before its tool finished"),
        "{result}"
    );
    // Within the drain (1 s) and the tools' stop, not the slow tool's 30 s.
    assert!(
        closed.elapsed() < Duration::from_secs(15),
        "{:?}",
        closed.elapsed()
    );
}

#[test]
fn sigterm_over_http_answers_every_plain_call_in_flight() {
    let tools = r#"
[[tools]]
name = "quick"
command = ["sh", "-c", "touch $DIR/quick; sleep 0.5; echo done"]
task_support = "forbidden"

[[tools]]
name = "slow"
command = ["sh", "-c", "touch $DIR/slow; exec sleep 30"]
task_support = "forbidden"
"#;
    let mut server = mcp_tasks_e2e::http::HttpServer::start(tools, &["--drain-timeout", "1"]);
    // A subscription open across the shutdown: its stream ends on the result that completes it.
    let modern = mcp_tasks_e2e::http::MODERN;
    let listen = json!({ "jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen", "params": {
        "notifications": { "taskIds": [] },
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": modern,
            "io.modelcontextprotocol/clientCapabilities": {
                "extensions": { "io.modelcontextprotocol/tasks": {} }
            }
        }
    }});
    let mut subscription = server.post_stream(
        &[
            ("mcp-protocol-version", modern),
            ("mcp-method", "subscriptions/listen"),
        ],
        &listen,
    );
    let acknowledged = subscription.next().expect("the acknowledgement");
    assert_eq!(
        acknowledged["method"], "notifications/subscriptions/acknowledged",
        "{acknowledged}"
    );
    let (quick, slow) = std::thread::scope(|scope| {
        let call = |id: u64, name: &'static str| {
            let server = &server;
            scope.spawn(move || {
                server.modern(
                    None,
                    id,
                    "tools/call",
                    json!({ "name": name, "arguments": {} }),
                )
            })
        };
        let quick = call(1, "quick");
        let slow = call(2, "slow");
        // Both tools running: then the signal.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !["quick", "slow"]
            .iter()
            .all(|t| server.dir.path().join(t).exists())
        {
            assert!(Instant::now() < deadline, "the tools did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
        unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
        // While the drain lets the slow tool run on, the server takes no new request: its
        // listener is closed.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(server.addr()).is_ok() {
            assert!(
                Instant::now() < deadline,
                "the server still takes connections"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!slow.is_finished(), "the drain ended before the check");
        (quick.join().unwrap(), slow.join().unwrap())
    });
    assert_eq!(quick.result()["content"][0]["text"], "done\n", "{quick:?}");
    assert_eq!(slow.error_code(), -32000, "{slow:?}");
    assert!(
        slow.answer()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The server is stopping"),
        "{slow:?}"
    );
    let last = subscription.last().expect("the subscription's completion");
    assert_eq!(
        last,
        json!({ "jsonrpc": "2.0", "id": "sub-1", "result": {
            "resultType": "complete",
            "_meta": { "io.modelcontextprotocol/subscriptionId": "sub-1" }
        }})
    );
    mcp_tasks_e2e::Schema::modern()
        .check("SubscriptionsListenResultResponse", &last)
        .unwrap();
    let status = server.terminate();
    assert!(status.success(), "{status}\n{}", server.stderr());
}

#[test]
fn on_a_file_store_a_task_is_handed_back_and_its_waiting_result_request_told_where_it_stands() {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    let Waiting {
        mut child,
        lines,
        task_id,
        ..
    } = Waiting::start(dir.path(), &["--drain-timeout", "0.3", "--store", &store]);
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let answer = lines
        .map(|line| serde_json::from_str::<Value>(&line.unwrap()).unwrap())
        .find(|m| m["id"] == 3)
        .expect("the tasks/result answer");
    assert!(child.wait().unwrap().success());
    mcp_tasks_e2e::Schema::get()
        .check("JSONRPCErrorResponse", &answer)
        .unwrap_or_else(|e| panic!("{e}: {answer}"));
    let error = &answer["error"];
    assert_eq!(error["code"], -32000, "{answer}");
    let task = &error["data"]["task"];
    assert_eq!(task["taskId"], task_id.as_str());
    assert_eq!(task["status"], "working", "{answer}");
    assert!(
        task["statusMessage"]
            .as_str()
            .unwrap()
            .contains("stopped before it finished; the attempt starts again"),
        "{answer}"
    );
}
