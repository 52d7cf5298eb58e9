//! The real binary over stdio with a real tools file: every method, every error code.

use std::time::{Duration, Instant};

use mcp_tasks_e2e::{PATIENCE, Schema, Server, alive, binary, read_pids, wait_until_dead};
use serde_json::{Value, json};

/// Tools for these tests. `$DIR` is the test's own temporary directory.
const TOOLS: &str = concat!(
    r#"
[server]
poll_interval_ms = 100
page_size = 2
"#,
    mcp_tasks_e2e::echo_tool!(),
    mcp_tasks_e2e::long_tool!(),
    r#"
[[tools]]
name = "wait_for_file"
description = "Wait until the file exists, then print OK (lets a test decide when the tool ends)"
immediate_response = "Waiting for the file; the result follows."
command = ["sh", "-c", "echo waiting >&2; while [ ! -e \"$0\" ]; do sleep 0.02; done; echo OK", "{path}"]
task_support = "required"
input_schema = { type = "object", properties = { path = { type = "string" } }, required = ["path"] }

[[tools]]
name = "fail"
command = ["sh", "-c", "echo 'disk is full' >&2; exit 3"]
task_support = "optional"

[[tools]]
name = "structured"
description = "Print a CallToolResult as JSON"
command = ["sh", "-c", "cat >/dev/null; printf '{\"content\":[{\"type\":\"text\",\"text\":\"from json\"}],\"structuredContent\":{\"n\":7}}'"]
task_support = "optional"

[[tools]]
name = "stdin"
description = "Print the arguments it reads on stdin"
command = ["head", "-n", "1"]
task_support = "forbidden"

[[tools]]
name = "slow"
command = ["sleep", "30"]
task_support = "optional"
timeout_secs = 0.3
"#
);

fn start() -> Server {
    Server::start(TOOLS, &["--owner", "tester"])
}

fn initialize(server: &mut Server) -> Value {
    let result = server
        .request(
            "initialize",
            json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "e2e", "version": "1" } }),
        )
        .expect("initialize");
    server.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    result
}

/// Call a tool as a task; its ID.
fn create(server: &mut Server, tool: &str, arguments: Value) -> String {
    let created = server
        .request(
            "tools/call",
            json!({ "name": tool, "arguments": arguments, "task": { "ttl": 60000 } }),
        )
        .expect("task created");
    assert_eq!(created["task"]["status"], "working");
    created["task"]["taskId"].as_str().unwrap().to_string()
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

fn code(response: Result<Value, Value>) -> i64 {
    response.expect_err("an error response")["code"]
        .as_i64()
        .unwrap()
}

#[test]
fn initialize_declares_tasks_and_lists_tools_with_task_support() {
    let mut s = start();
    let init = initialize(&mut s);
    assert_eq!(init["protocolVersion"], "2025-11-25");
    assert_eq!(
        init["capabilities"]["tasks"],
        json!({ "list": {}, "cancel": {}, "requests": { "tools": { "call": {} } } })
    );
    assert_eq!(s.request("ping", json!({})).unwrap(), json!({}));
    let tools = s.request("tools/list", json!({})).unwrap();
    let support = |name: &str| {
        tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["execution"]["taskSupport"]
            .clone()
    };
    assert_eq!(support("echo"), "optional");
    assert_eq!(support("long"), "required");
    assert_eq!(support("stdin"), "forbidden");
}

#[test]
fn a_task_runs_while_tasks_result_waits_and_other_requests_are_answered() {
    let mut s = start();
    initialize(&mut s);
    let gate = s.dir.path().join("gate");
    let id = create(&mut s, "wait_for_file", json!({ "path": gate }));

    // tasks/result blocks until the task is terminal...
    let waiting = s.send("tasks/result", json!({ "taskId": id }));
    // ...while everything else is still answered.
    assert_eq!(s.request("ping", json!({})).unwrap(), json!({}));
    let task = s.poll_task(&id, "showing the tool's stderr", |t| {
        t["statusMessage"] == "waiting"
    });
    assert_eq!(task["status"], "working");
    assert_eq!(task["pollInterval"], 100);
    assert_eq!(task["ttl"], 60000);
    let listed = s.request("tasks/list", json!({})).unwrap();
    assert_eq!(listed["tasks"][0]["taskId"], id.as_str());
    assert!(
        s.drain()
            .iter()
            .all(|m| m.get("id") != Some(&json!(waiting))),
        "tasks/result answered early"
    );

    std::fs::write(&gate, "").unwrap();
    let result = s.response(waiting).expect("the tool's result");
    assert_eq!(text(&result), "OK\n");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/related-task"],
        json!({ "taskId": id })
    );
    let note = s.status_notification(&id, "completed");
    assert_eq!(note["taskId"], id.as_str());
    let done = s.request("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(done["status"], "completed");
    assert!(done["lastUpdatedAt"].as_str() >= done["createdAt"].as_str());
    // tasks/result after the fact answers at once, the same.
    assert_eq!(
        s.request("tasks/result", json!({ "taskId": id })).unwrap(),
        result
    );
}

#[test]
fn cancel_kills_the_tools_process_group_and_the_task_stays_cancelled() {
    let mut s = start();
    initialize(&mut s);
    let pidfile = s.dir.path().join("pids");
    let id = create(&mut s, "long", json!({ "pidfile": pidfile }));
    s.poll_task(&id, "running", |t| {
        t["statusMessage"] == "running the long job"
    });
    let pids = read_pids(&pidfile, 2);
    assert_eq!(pids.len(), 2, "the shell and its sleeping child");
    assert!(pids.iter().all(|&p| alive(p)));
    let waiting = s.send("tasks/result", json!({ "taskId": id }));

    let cancelled = s.request("tasks/cancel", json!({ "taskId": id })).unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["statusMessage"],
        "The task was cancelled by request."
    );
    s.status_notification(&id, "cancelled");
    // The waiting tasks/result is answered: the request was cancelled, there is no result.
    assert_eq!(code(s.response(waiting)), -32800);

    wait_until_dead(&pids, "the tool's processes after the cancel");
    assert_eq!(
        s.request("tasks/get", json!({ "taskId": id })).unwrap()["status"],
        "cancelled"
    );
    let again = s
        .request("tasks/cancel", json!({ "taskId": id }))
        .unwrap_err();
    assert_eq!(again["code"], -32602);
    assert_eq!(
        again["message"],
        "Cannot cancel task: already in terminal status 'cancelled'"
    );
}

#[test]
fn a_non_zero_exit_fails_the_task_with_the_tail_of_stderr() {
    let mut s = start();
    initialize(&mut s);
    let id = create(&mut s, "fail", json!({}));
    let result = s.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["isError"], true);
    assert_eq!(text(&result), "'sh' exited with status 3: disk is full");
    let task = s.request("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(task["status"], "failed");
    assert_eq!(
        task["statusMessage"],
        "'sh' exited with status 3: disk is full"
    );
    let cancel = s
        .request("tasks/cancel", json!({ "taskId": id }))
        .unwrap_err();
    assert_eq!(
        cancel["message"],
        "Cannot cancel task: already in terminal status 'failed'"
    );
}

#[test]
fn a_timeout_kills_the_tool_and_fails_the_task() {
    let mut s = start();
    initialize(&mut s);
    let id = create(&mut s, "slow", json!({}));
    let result = s.request("tasks/result", json!({ "taskId": id })).unwrap();
    assert_eq!(result["isError"], true);
    assert!(
        text(&result).starts_with("timed out after 0.3 s"),
        "{result}"
    );
    assert_eq!(
        s.request("tasks/get", json!({ "taskId": id })).unwrap()["status"],
        "failed"
    );
}

#[test]
fn plain_calls_answer_directly() {
    let mut s = start();
    initialize(&mut s);
    let echo = s
        .request(
            "tools/call",
            json!({ "name": "echo", "arguments": { "msg": "a b; $(rm -rf /)" } }),
        )
        .unwrap();
    assert_eq!(
        text(&echo),
        "a b; $(rm -rf /)\n",
        "an argument is one argv element, never shell"
    );
    let stdin = s
        .request(
            "tools/call",
            json!({ "name": "stdin", "arguments": { "k": [1, "two"] } }),
        )
        .unwrap();
    let line: Value = serde_json::from_str(text(&stdin)).unwrap();
    assert_eq!(
        line,
        json!({ "k": [1, "two"] }),
        "the arguments arrive as one JSON line on stdin"
    );
    let structured = s
        .request("tools/call", json!({ "name": "structured" }))
        .unwrap();
    assert_eq!(structured["structuredContent"], json!({ "n": 7 }));
    assert_eq!(text(&structured), "from json");
    let failed = s.request("tools/call", json!({ "name": "fail" })).unwrap();
    assert_eq!(failed["isError"], true);
    assert!(
        s.request("tasks/list", json!({})).unwrap()["tasks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn every_error_code() {
    let mut s = start();
    initialize(&mut s);
    // Task support: required without a task, forbidden with one.
    assert_eq!(
        code(s.request(
            "tools/call",
            json!({ "name": "long", "arguments": { "pidfile": "x" } })
        )),
        -32601
    );
    assert_eq!(
        code(s.request("tools/call", json!({ "name": "stdin", "task": {} }))),
        -32601
    );
    // Unknown tool, missing required argument, bad ttl.
    assert_eq!(
        code(s.request("tools/call", json!({ "name": "nope" }))),
        -32602
    );
    assert_eq!(
        code(s.request("tools/call", json!({ "name": "echo" }))),
        -32602
    );
    assert_eq!(
        code(s.request(
            "tools/call",
            json!({ "name": "echo", "arguments": { "msg": "x" }, "task": { "ttl": "soon" } })
        )),
        -32602
    );
    // Unknown and invalid task IDs, and cursors.
    for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
        assert_eq!(
            code(s.request(
                method,
                json!({ "taskId": "00000000-0000-4000-8000-000000000000" })
            )),
            -32602
        );
        assert_eq!(code(s.request(method, json!({}))), -32602);
    }
    assert_eq!(
        code(s.request("tasks/list", json!({ "cursor": "not-a-cursor" }))),
        -32602
    );
    assert_eq!(code(s.request("resources/list", json!({}))), -32601);

    // Malformed input: parse error and invalid requests, answered with id null where unknown.
    s.send_line("{this is not json");
    s.send_line(r#"[{"jsonrpc":"2.0","id":90,"method":"ping"}]"#);
    s.send_line(r#"{"jsonrpc":"1.0","id":91,"method":"ping"}"#);
    s.send_line(&String::from_utf8_lossy(b"\xff\xfe"));
    let mut codes = Vec::new();
    for _ in 0..4 {
        let m = s.next_matching("an error", |m| m.get("error").is_some());
        Schema::get().check("JSONRPCErrorResponse", &m).unwrap();
        codes.push((m["id"].clone(), m["error"]["code"].as_i64().unwrap()));
    }
    codes.sort_by_key(|(id, code)| (id.to_string(), *code));
    let mut expected = vec![
        (json!(91), -32600),
        (Value::Null, -32600),
        (Value::Null, -32700),
        (Value::Null, -32700),
    ];
    expected.sort_by_key(|(id, code)| (id.to_string(), *code));
    assert_eq!(codes, expected);
    // Nothing was lost: the server still answers.
    assert_eq!(s.request("ping", json!({})).unwrap(), json!({}));
}

#[test]
fn tasks_list_pages_in_creation_order() {
    let mut s = start();
    initialize(&mut s);
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(create(&mut s, "echo", json!({ "msg": format!("m{i}") })));
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = cursor.map_or(json!({}), |c| json!({ "cursor": c }));
        let page = s.request("tasks/list", params).unwrap();
        pages += 1;
        seen.extend(
            page["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["taskId"].as_str().unwrap().to_string()),
        );
        match page.get("nextCursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3, "5 tasks at 2 a page");
    assert_eq!(seen, created);
}

#[test]
fn expired_tasks_read_as_not_found() {
    let mut s = start();
    initialize(&mut s);
    let created = s
        .request(
            "tools/call",
            json!({ "name": "echo", "arguments": { "msg": "x" }, "task": { "ttl": 200 } }),
        )
        .unwrap();
    let id = created["task"]["taskId"].as_str().unwrap().to_string();
    assert_eq!(created["task"]["ttl"], 200);
    let deadline = Instant::now() + PATIENCE;
    loop {
        match s.request("tasks/get", json!({ "taskId": id })) {
            Ok(_) => assert!(Instant::now() < deadline, "the task never expired"),
            Err(e) => {
                assert_eq!(e["code"], -32602);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        s.request("tasks/list", json!({})).unwrap()["tasks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// An MCP client gives the server pipes, which it reads and writes without blocking threads;
/// anything else (here regular files, as with `mcp-tasks serve < requests > responses`) goes
/// through tokio's blocking stdio and is served alike.
#[test]
fn input_and_output_that_are_files_not_pipes_are_served() {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let tools = dir.path().join("tools.toml");
    std::fs::write(
        &tools,
        TOOLS.replace("$DIR", &dir.path().display().to_string()),
    )
    .unwrap();
    let requests = dir.path().join("requests.jsonl");
    let mut lines = vec![
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "files", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ];
    lines.extend((2..=200).map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "ping"})));
    lines.push(json!({"jsonrpc": "2.0", "id": 201, "method": "tools/list"}));
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&requests, text).unwrap();
    let responses = dir.path().join("responses.jsonl");
    let status = std::process::Command::new(binary())
        .args(["serve", "--tools"])
        .arg(&tools)
        .stdin(std::fs::File::open(&requests).unwrap())
        .stdout(std::fs::File::create(&responses).unwrap())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let answered: Vec<Value> = std::fs::read_to_string(&responses)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<i64> = answered.iter().filter_map(|m| m["id"].as_i64()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=201).collect::<Vec<_>>());
    let tools = answered.iter().find(|m| m["id"] == 201).unwrap();
    assert_eq!(tools["result"]["tools"][0]["name"], "echo", "{tools}");
}

/// The server reads and writes its stdio pipes without blocking, and gives the pipes back as it
/// found them: the flag belongs to the pipe, which the client (or a shell's next command) uses
/// after the server has gone.
#[test]
fn stdio_pipes_are_non_blocking_while_served_and_blocking_after() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // Close-on-exec: the server must not inherit the test's ends too.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }
    let non_blocking =
        |fd: &OwnedFd| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) } & libc::O_NONBLOCK != 0;
    let (stdin_read, stdin_write) = pipe();
    let (stdout_read, stdout_write) = pipe();
    // The server's ends, shared with this test (the same open pipe, flags and all).
    let (server_in, server_out) = (
        stdin_read.try_clone().unwrap(),
        stdout_write.try_clone().unwrap(),
    );
    let mut child = std::process::Command::new(binary())
        .arg("serve")
        .stdin(std::process::Stdio::from(stdin_read))
        .stdout(std::process::Stdio::from(stdout_write))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut input = std::fs::File::from(stdin_write);
    let mut output = BufReader::new(std::fs::File::from(stdout_read));
    input
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .unwrap();
    let mut line = String::new();
    output.read_line(&mut line).unwrap();
    assert!(line.contains(r#""id":1"#), "{line}");
    assert!(non_blocking(&server_in) && non_blocking(&server_out));
    drop(input);
    assert!(child.wait().unwrap().success());
    assert!(!non_blocking(&server_in), "stdin left non-blocking");
    assert!(!non_blocking(&server_out), "stdout left non-blocking");
}

#[test]
fn end_of_input_stops_running_tools_and_exits_cleanly() {
    let mut s = start();
    initialize(&mut s);
    let pidfile = s.dir.path().join("pids");
    let id = create(&mut s, "long", json!({ "pidfile": pidfile }));
    s.poll_task(&id, "running", |t| {
        t["statusMessage"] == "running the long job"
    });
    let pids = read_pids(&pidfile, 2);
    let (status, stderr) = s.close();
    assert!(status.success(), "exit status {status}; stderr:\n{stderr}");
    assert!(
        pids.iter().all(|&p| !alive(p)),
        "tools outlived the server: {pids:?}"
    );
}

#[test]
fn wit_and_component_subcommands() {
    let wit = std::process::Command::new(binary())
        .arg("wit")
        .output()
        .unwrap();
    assert!(wit.status.success());
    let wit = String::from_utf8(wit.stdout).unwrap();
    assert!(wit.contains("package mcp:tasks@0.9.0;"));
    assert!(wit.contains("interface store"));

    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    // A directory that does not exist yet is created, as in a fresh checkout's `build/`.
    let out = dir.path().join("build").join("tasks.wasm");
    let status = std::process::Command::new(binary())
        .args(["component", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&out).unwrap();
    // A component: the wasm magic, then the component-model layer.
    assert_eq!(&bytes[..4], b"\0asm");
    assert_eq!(&bytes[4..8], &[0x0d, 0x00, 0x01, 0x00]);

    // The written component runs when loaded from the file.
    let mut s = Server::start(TOOLS, &["--component", out.to_str().unwrap()]);
    assert_eq!(s.request("ping", json!({})).unwrap(), json!({}));
    let echo = s
        .request(
            "tools/call",
            json!({ "name": "echo", "arguments": { "msg": "from file" } }),
        )
        .unwrap();
    assert_eq!(text(&echo), "from file\n");
}

#[test]
fn bad_configuration_is_one_line_and_exit_code_2() {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let bad_tools = dir.path().join("bad.toml");
    std::fs::write(&bad_tools, "[[tools]]\nname = 'x'\ncommand = []\n").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["serve", "--store", "carrier-pigeon://coop"],
            "unknown store 'carrier-pigeon://coop'",
        ),
        (
            &["serve", "--tools", "/no/such/tools.toml"],
            "cannot read tools file /no/such/tools.toml",
        ),
        (
            &["serve", "--tools", bad_tools.to_str().unwrap()],
            "command must name a program",
        ),
        (
            &["serve", "--component", "/no/such.wasm"],
            "component file /no/such.wasm not found",
        ),
    ];
    for (args, expected) in cases {
        let out = std::process::Command::new(binary())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("mcp-tasks: error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_server_killed_with_sigkill_takes_its_tools_with_it() {
    let mut server = start();
    initialize(&mut server);
    let pidfile = server.dir.path().join("killed.pid");
    create(&mut server, "long", json!({ "pidfile": pidfile }));
    // The tool's shell and the child it started in the background.
    let pids = read_pids(&pidfile, 2);
    assert!(pids.iter().all(|&p| alive(p)), "{pids:?}");
    server.kill_hard();
    let took = wait_until_dead(&pids, "the tools of a server killed with SIGKILL");
    eprintln!("the tools died {took:?} after their server");
}

/// The guard a command tool starts under sleeps on a pidfd of its program and one of its server
/// (it wakes when either ends, not at the next look of a timer): both are in its descriptors.
#[cfg(target_os = "linux")]
#[test]
fn a_tools_guard_waits_on_pidfds_of_the_tool_and_of_the_server() {
    let mut server = start();
    initialize(&mut server);
    let pidfile = server.dir.path().join("guarded.pid");
    create(&mut server, "long", json!({ "pidfile": pidfile }));
    let pids = read_pids(&pidfile, 2);
    let shell = pids[0];
    let guard = parent_of(shell);
    assert_ne!(guard, server.pid() as i32, "the tool runs under a guard");
    assert_eq!(parent_of(guard), server.pid() as i32);
    // The guard opens them right after the fork: give it a moment.
    let deadline = Instant::now() + PATIENCE;
    let mut held = pidfds_of(guard);
    while held.len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        held = pidfds_of(guard);
    }
    held.sort_unstable();
    let mut expected = vec![shell, server.pid() as i32];
    expected.sort_unstable();
    assert_eq!(held, expected, "the guard {guard} holds pidfds of {held:?}");
}

/// The parent of a running process.
#[cfg(target_os = "linux")]
fn parent_of(pid: i32) -> i32 {
    // The fields after the command name (in parentheses, may hold spaces): state, then parent.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process runs");
    let (_, rest) = stat.rsplit_once(')').expect("a stat line");
    rest.split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("a parent in the stat line")
}

/// The processes whose pidfds `pid` holds open.
#[cfg(target_os = "linux")]
fn pidfds_of(pid: i32) -> Vec<i32> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.filter_map(|fd| {
        let fd = fd.ok()?;
        let target = std::fs::read_link(fd.path()).ok()?;
        if !target.to_string_lossy().contains("pidfd") {
            return None;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .ok()?;
        info.lines()
            .find_map(|line| line.strip_prefix("Pid:"))
            .and_then(|p| p.trim().parse().ok())
    })
    .collect()
}

#[test]
fn a_task_carries_its_tools_immediate_response_for_the_model() {
    let mut server = start();
    initialize(&mut server);
    let path = server.dir.path().join("go");
    let created = server
        .request(
            "tools/call",
            json!({ "name": "wait_for_file", "arguments": { "path": path }, "task": {} }),
        )
        .expect("a task");
    assert_eq!(
        created["_meta"]["io.modelcontextprotocol/model-immediate-response"],
        "Waiting for the file; the result follows."
    );
    // A tool without one: no _meta.
    let pidfile = server.dir.path().join("long.pid");
    let other = server
        .request(
            "tools/call",
            json!({ "name": "long", "arguments": { "pidfile": pidfile }, "task": {} }),
        )
        .expect("a task");
    assert!(other.get("_meta").is_none(), "{other}");
}

/// Lines a client pipelines are read together and cross into the component in batches while
/// they only read; one that writes (a cancel, a new task) goes on its own. However they are
/// grouped, every request is answered once, each as it would be alone.
#[test]
fn pipelined_reads_and_writes_are_each_answered_once() {
    let mut server = start();
    initialize(&mut server);
    let path = server.dir.path().join("never");
    let task = create(&mut server, "wait_for_file", json!({ "path": path }));
    let first_id = 1000u64;
    let mut lines = Vec::new();
    let get = |id: u64, task: &str| {
        json!({ "jsonrpc": "2.0", "id": id, "method": "tasks/get", "params": { "taskId": task } })
            .to_string()
    };
    for i in 0..100 {
        lines.push(get(first_id + i, &task));
    }
    let cancel_id = first_id + 100;
    lines.push(
        json!({ "jsonrpc": "2.0", "id": cancel_id, "method": "tasks/cancel", "params": { "taskId": task } })
            .to_string(),
    );
    for i in 101..200 {
        lines.push(get(first_id + i, "no-such-task"));
    }
    let call_id = first_id + 200;
    lines.push(
        json!({ "jsonrpc": "2.0", "id": call_id, "method": "tools/call", "params": { "name": "fail", "arguments": {}, "task": { "ttl": 60000 } } })
            .to_string(),
    );
    for i in 201..300 {
        lines.push(get(first_id + i, &task));
    }
    // One write: the server finds them all waiting.
    server.send_line(&lines.join("\n"));

    for i in 0..300 {
        let id = first_id + i;
        let response = server.response(id);
        match i {
            100 => assert_eq!(response.unwrap()["status"], "cancelled"),
            200 => assert_eq!(response.unwrap()["task"]["status"], "working"),
            101..200 => assert_eq!(code(response), -32602, "request {id}"),
            _ => {
                let status = response.unwrap()["status"].clone();
                assert!(
                    status == "working" || status == "cancelled",
                    "request {id}: {status}"
                );
            }
        }
    }
    // Each was answered once: nothing more comes for any of them.
    std::thread::sleep(Duration::from_millis(200));
    let rest = server.drain();
    assert!(
        rest.iter().all(|m| m
            .get("id")
            .and_then(Value::as_u64)
            .is_none_or(|id| id < first_id)),
        "{rest:?}"
    );
}
