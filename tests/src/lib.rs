//! Drives the real `mcp-tasks` binary over stdio, and checks every message it sends against
//! the official JSON schemas of its era (`../shared/spec/`): MCP 2025-11-25, and for the modern
//! era MCP 2026-07-28 with the tasks extension's own schema (`ext-tasks/schema.json`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod http;
pub mod tools;

/// How long any single expected message may take before a test gives up. Generous: this bounds
/// a hang, it measures nothing.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// The `mcp-tasks` binary of the profile these tests were built with, built if need be.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("MCP_TASKS_BIN") {
            return PathBuf::from(bin);
        }
        // A test runs from <target>/<profile>/deps/, a binary of this crate (the chaos soak)
        // from <target>/<profile>/.
        let exe = std::env::current_exe().expect("current exe");
        let dir = exe.parent().expect("<target>/<profile>");
        let profile_dir = match dir.file_name() {
            Some(name) if name == "deps" => dir.parent().expect("<target>/<profile>"),
            _ => dir,
        };
        let profile = profile_dir
            .file_name()
            .and_then(|p| p.to_str())
            .expect("profile name");
        let profile = if profile == "debug" { "dev" } else { profile };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args([
                "build",
                "--profile",
                profile,
                "-p",
                "mcp-tasks",
                "--bin",
                "mcp-tasks",
            ])
            .status()
            .expect("run cargo build for the mcp-tasks binary");
        assert!(status.success(), "building the mcp-tasks binary failed");
        profile_dir.join("mcp-tasks")
    })
}

/// The official schema, with one compiled validator per definition used.
pub struct Schema {
    document: Value,
    validators: Mutex<std::collections::HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Schema {
    /// The 2025-11-25 schema from `../shared/spec/`.
    pub fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::load("mcp-2025-11-25.schema.json"))
    }

    /// The 2026-07-28 schema from `../shared/spec/`.
    pub fn modern() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::load("mcp-2026-07-28.schema.json"))
    }

    /// The tasks extension's schema (`io.modelcontextprotocol/tasks`) from `../shared/spec/`.
    pub fn tasks_extension() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::load("ext-tasks/schema.json"))
    }

    fn load(file: &str) -> Schema {
        let path = root().join("../shared/spec").join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the MCP schema is needed at {}: {e}", path.display()));
        Schema {
            document: serde_json::from_str(&text).expect("schema is JSON"),
            validators: Default::default(),
        }
    }

    /// Check `instance` against the schema's definition `def`; the errors, if any.
    pub fn check(&self, def: &str, instance: &Value) -> Result<(), String> {
        let validator = {
            let mut validators = self.validators.lock().unwrap();
            validators
                .entry(def.to_string())
                .or_insert_with(|| {
                    let mut schema = json!({ "$ref": format!("#/$defs/{def}") });
                    schema["$defs"] = self.document["$defs"].clone();
                    schema["$schema"] = self.document["$schema"].clone();
                    Arc::new(jsonschema::validator_for(&schema).expect("the schema compiles"))
                })
                .clone()
        };
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{def}: {}", errors.join("; ")))
        }
    }
}

/// The fenced block (```` ```lang ````) of the Markdown file `doc` (relative to the workspace
/// root) that holds `marker`, as written.
pub fn fenced_block(doc: &str, lang: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    text.split(&format!("```{lang}\n"))
        .skip(1)
        .map(|rest| &rest[..rest.find("```").expect("a closed block")])
        .find(|block| block.contains(marker))
        .unwrap_or_else(|| panic!("{doc} shows no {lang} block with {marker}"))
        .to_string()
}

/// A documented ```` ```sh ```` block as bash runs it: stopping at the first failure, with this
/// build's binary for `target/release/mcp-tasks`, and without its `cargo build --release` (this
/// build made the binary; cargo is busy running the tests).
pub fn documented_script(block: &str) -> String {
    let binary = binary().display().to_string();
    let script: Vec<String> = block
        .lines()
        .filter(|line| line.trim() != "cargo build --release")
        .map(|line| {
            line.replace("../../target/release/mcp-tasks", &binary)
                .replace("./target/release/mcp-tasks", &binary)
        })
        .collect();
    format!("set -e\n{}", script.join("\n"))
}

/// Add these members to `params._meta`, keeping those it has.
pub fn add_meta(params: &mut Value, members: Value) {
    let mut meta = params["_meta"]
        .take()
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Value::Object(members) = members {
        meta.extend(members);
    }
    params["_meta"] = Value::Object(meta);
}

/// The schema definition a result of `method` must match.
fn result_def(method: &str, params: &Value) -> Option<&'static str> {
    Some(match method {
        "initialize" => "InitializeResult",
        "ping" => "EmptyResult",
        "tools/list" => "ListToolsResult",
        "tools/call" if params.get("task").is_some() => "CreateTaskResult",
        "tools/call" => "CallToolResult",
        "tasks/get" => "GetTaskResult",
        "tasks/list" => "ListTasksResult",
        "tasks/cancel" => "CancelTaskResult",
        "tasks/result" => "GetTaskPayloadResult",
        _ => return None,
    })
}

/// The schema and definition a modern request must match, where one is defined.
fn modern_request_def(method: &str) -> Option<(&'static Schema, &'static str)> {
    Some(match method {
        "server/discover" => (Schema::modern(), "DiscoverRequest"),
        "tools/list" => (Schema::modern(), "ListToolsRequest"),
        "tools/call" => (Schema::modern(), "CallToolRequest"),
        "subscriptions/listen" => (Schema::modern(), "SubscriptionsListenRequest"),
        "tasks/get" => (Schema::tasks_extension(), "GetTaskRequest"),
        "tasks/update" => (Schema::tasks_extension(), "UpdateTaskRequest"),
        "tasks/cancel" => (Schema::tasks_extension(), "CancelTaskRequest"),
        _ => return None,
    })
}

/// The schema and definition a modern result must match.
fn modern_result_def(method: &str, result: &Value) -> (&'static Schema, &'static str) {
    match (method, result["resultType"].as_str()) {
        (_, Some("input_required")) => (Schema::modern(), "InputRequiredResult"),
        ("tools/call", Some("task")) => (Schema::tasks_extension(), "CreateTaskResult"),
        ("tools/call", _) => (Schema::modern(), "CallToolResult"),
        ("server/discover", _) => (Schema::modern(), "DiscoverResult"),
        ("tools/list", _) => (Schema::modern(), "ListToolsResult"),
        ("tasks/get", _) => (Schema::tasks_extension(), "GetTaskResult"),
        ("tasks/update", _) => (Schema::tasks_extension(), "UpdateTaskResult"),
        ("tasks/cancel", _) => (Schema::tasks_extension(), "CancelTaskResult"),
        _ => (Schema::modern(), "Result"),
    }
}

/// One running `mcp-tasks serve`, with a client on its stdio.
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Result<Value, String>>,
    /// Messages read but not yet asked for.
    pending: VecDeque<Value>,
    /// Methods and params of the requests sent, by id, to check their results' shape.
    sent: std::collections::HashMap<String, (String, Value)>,
    next_id: u64,
    stderr: Arc<Mutex<String>>,
    /// Keeps the tools file (and whatever the test put beside it) alive.
    pub dir: tempdir::Dir,
}

/// A response: `Ok(result)` or `Err(error object)`.
pub type Response = Result<Value, Value>;

impl Server {
    /// Start `mcp-tasks serve --tools <tools.toml>` with these extra arguments.
    pub fn start(tools_toml: &str, args: &[&str]) -> Server {
        Self::start_with_env(tools_toml, args, &[])
    }

    /// [`Server::start`], with these environment variables set for the server.
    pub fn start_with_env(tools_toml: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempdir::Dir::new();
        let tools = dir.path().join("tools.toml");
        std::fs::write(
            &tools,
            tools_toml.replace("$DIR", &dir.path().display().to_string()),
        )
        .unwrap();
        let mut child = Command::new(binary())
            .arg("serve")
            .arg("--tools")
            .arg(&tools)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mcp-tasks");
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // A bad line is reported to the test thread, which fails with it.
                let checked = serde_json::from_str::<Value>(&line)
                    .map_err(|e| format!("the server wrote a line that is not JSON ({e}): {line}"))
                    .and_then(
                        |value| match Schema::get().check("JSONRPCMessage", &value) {
                            Ok(()) => Ok(value),
                            Err(e) => Err(format!("not a JSON-RPC message: {e}\n{line}")),
                        },
                    );
                if tx.send(checked).is_err() {
                    break;
                }
            }
        });
        let stderr = collect_stderr(&mut child);
        let stdin = child.stdin.take();
        Server {
            child,
            stdin,
            incoming,
            pending: VecDeque::new(),
            sent: Default::default(),
            next_id: 1,
            stderr,
            dir,
        }
    }

    /// Write one raw line.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Send a request without waiting; its id.
    pub fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.sent
            .insert(id.to_string(), (method.to_string(), params.clone()));
        let msg = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_line(&msg.to_string());
        id
    }

    /// Open a 2025-11-25 session: `initialize` (no client capabilities), then
    /// `notifications/initialized`.
    pub fn initialize(&mut self) {
        self.request(
            "initialize",
            json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "e2e", "version": "1" } }),
        )
        .expect("initialize");
        self.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    }

    /// Call `tool` as a 2025-11-25 task (ttl ten minutes); its ID.
    pub fn create_task(&mut self, tool: &str, arguments: Value) -> String {
        self.request(
            "tools/call",
            json!({ "name": tool, "arguments": arguments, "task": { "ttl": 600000 } }),
        )
        .expect("a task")["task"]["taskId"]
            .as_str()
            .expect("a task ID")
            .to_string()
    }

    /// Send a request and wait for its response.
    pub fn request(&mut self, method: &str, params: Value) -> Response {
        let id = self.send(method, params);
        self.response(id)
    }

    /// The response to request `id`, checked against the schema for its method.
    pub fn response(&mut self, id: u64) -> Response {
        let msg = self.next_matching(&format!("the response to request {id}"), |m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
        });
        if let Some(result) = msg.get("result") {
            if let Some((method, params)) = self.sent.get(&id.to_string())
                && let Some(def) = result_def(method, params)
            {
                Schema::get()
                    .check(def, result)
                    .unwrap_or_else(|e| panic!("{method} result: {e}\n{msg}"));
            }
            Ok(result.clone())
        } else {
            Err(msg["error"].clone())
        }
    }

    /// The next message that `pred` accepts (others are kept for later), waiting up to
    /// [`PATIENCE`].
    pub fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.pending.iter().position(&pred) {
            return self.pending.remove(pos).unwrap();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(Err(bad)) => panic!("{bad}"),
                Ok(Ok(msg)) if pred(&msg) => return msg,
                Ok(Ok(msg)) => self.pending.push_back(msg),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "waited {PATIENCE:?} for {what}; got {:?}\nstderr:\n{}",
                        self.pending,
                        self.stderr()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the server closed its output before {what}; stderr:\n{}",
                        self.stderr()
                    )
                }
            }
        }
    }

    /// The next request the server sends with this method, checked against the schema's
    /// definition `def` (e.g. `ElicitRequest`).
    pub fn server_request(&mut self, method: &str, def: &str) -> Value {
        let msg = self.next_matching(&format!("a {method} request from the server"), |m| {
            m["method"] == method && m.get("id").is_some()
        });
        Schema::get()
            .check(def, &msg)
            .unwrap_or_else(|e| panic!("{e}\n{msg}"));
        msg
    }

    /// Answer a request of the server's with this result.
    pub fn respond(&mut self, id: &Value, result: Value) {
        self.send_line(&json!({ "jsonrpc": "2.0", "id": id, "result": result }).to_string());
    }

    /// Send a 2026-07-28 request: `_meta` carries the protocol version and these client
    /// capabilities. Its id.
    /// Members of `_meta` the test put there (a progress token) stay.
    pub fn send_modern(&mut self, method: &str, mut params: Value, capabilities: Value) -> u64 {
        add_meta(
            &mut params,
            json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": { "name": "e2e", "version": "1" },
                "io.modelcontextprotocol/clientCapabilities": capabilities,
            }),
        );
        let id = self.next_id;
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        if let Some(def) = modern_request_def(method) {
            let (schema, def) = def;
            schema
                .check(def, &request)
                .unwrap_or_else(|e| panic!("the test sent an invalid {method}: {e}"));
        }
        self.send(method, params)
    }

    /// A 2026-07-28 request and its response, both checked against the schemas of that era:
    /// the result by its method and `resultType`, an error by its code.
    pub fn modern(&mut self, method: &str, params: Value, capabilities: Value) -> Response {
        let id = self.send_modern(method, params, capabilities);
        let msg = self.next_matching(&format!("the response to request {id}"), |m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
        });
        Schema::modern()
            .check("JSONRPCMessage", &msg)
            .unwrap_or_else(|e| panic!("{e}\n{msg}"));
        if let Some(result) = msg.get("result") {
            let (schema, def) = modern_result_def(method, result);
            schema
                .check(def, result)
                .unwrap_or_else(|e| panic!("{method} result: {e}\n{msg}"));
            return Ok(result.clone());
        }
        let error = msg["error"].clone();
        let def = match error["code"].as_i64() {
            Some(-32021) => Some("MissingRequiredClientCapabilityError"),
            Some(-32022) => Some("UnsupportedProtocolVersionError"),
            _ => None,
        };
        if let Some(def) = def {
            Schema::modern()
                .check(def, &msg)
                .unwrap_or_else(|e| panic!("{e}\n{msg}"));
        }
        Err(error)
    }

    /// The next `notifications/tasks` for this task in this status, checked against the tasks
    /// extension's schema.
    pub fn task_notification(&mut self, task_id: &str, status: &str) -> Value {
        let msg = self.next_matching(
            &format!("notifications/tasks {status} for {task_id}"),
            |m| {
                m["method"] == "notifications/tasks"
                    && m["params"]["taskId"] == task_id
                    && m["params"]["status"] == status
            },
        );
        Schema::tasks_extension()
            .check("TaskStatusNotification", &msg)
            .unwrap_or_else(|e| panic!("{e}\n{msg}"));
        msg["params"].clone()
    }

    /// The next `notifications/tasks/status` for this task, checked against the schema.
    pub fn status_notification(&mut self, task_id: &str, status: &str) -> Value {
        let msg = self.next_matching(&format!("a {status} notification for {task_id}"), |m| {
            m["method"] == "notifications/tasks/status"
                && m["params"]["taskId"] == task_id
                && m["params"]["status"] == status
        });
        Schema::get().check("TaskStatusNotification", &msg).unwrap();
        msg["params"].clone()
    }

    /// Messages received and not yet taken.
    pub fn drain(&mut self) -> Vec<Value> {
        while let Ok(msg) = self.incoming.try_recv() {
            self.pending
                .push_back(msg.unwrap_or_else(|bad| panic!("{bad}")));
        }
        self.pending.drain(..).collect()
    }

    /// Poll `tasks/get` until the task is `completed` (up to [`PATIENCE`]); its `tasks/result`.
    pub fn completed_result(&mut self, task_id: &str) -> Value {
        let done = self.poll_task(task_id, "completed", |t| {
            matches!(
                t["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
        });
        assert_eq!(done["status"], "completed", "{done}");
        self.request("tasks/result", json!({ "taskId": task_id }))
            .expect("tasks/result")
    }

    /// Poll `tasks/get` until `pred` accepts the task (up to [`PATIENCE`]).
    pub fn poll_task(&mut self, task_id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let task = self
                .request("tasks/get", json!({ "taskId": task_id }))
                .expect("tasks/get");
            if pred(&task) {
                return task;
            }
            assert!(
                Instant::now() < deadline,
                "task {task_id} never became {what}: {task}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kill the server with SIGKILL, as a crash would, and reap it. (On Linux its tools die with
    /// it.)
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Close stdin and wait for the process to exit.
    pub fn close(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                return (status, self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit after EOF"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's stderr as it comes, collected by a thread of its own (so the child never blocks
/// on a full pipe).
pub fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    let err = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    stderr
}

/// A `mcp-tasks worker` process, killed when dropped.
pub struct Worker(Child, Arc<Mutex<String>>);

impl Worker {
    /// `mcp-tasks worker --concurrency 16 --store STORE --tools TOOLS`.
    pub fn start(tools: &Path, store: &str) -> Worker {
        Self::start_with(tools, store, &["--concurrency", "16"])
    }

    /// `mcp-tasks worker --store STORE --tools TOOLS` with these arguments too.
    pub fn start_with(tools: &Path, store: &str, args: &[&str]) -> Worker {
        let mut child = Command::new(binary())
            .arg("worker")
            .args(args)
            .args(["--store", store, "--tools"])
            .arg(tools)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a worker");
        // Drained, so that a chatty worker never blocks on a full pipe.
        let stderr = collect_stderr(&mut child);
        Worker(child, stderr)
    }

    /// Send it SIGTERM: the first starts its drain, a second ends the drain at once.
    pub fn sigterm(&self) {
        // SAFETY: kill(2) on our own child's pid, which is not reaped until `wait`.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
    }

    /// Wait for it to exit, at most [`PATIENCE`]; its exit status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait for a worker") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not exit:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What it logged so far.
    pub fn stderr(&self) -> String {
        self.1.lock().unwrap().clone()
    }

    /// Kill it with SIGKILL.
    pub fn kill_hard(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// A PostgreSQL URL for a schema of this test's own, fresh and empty: the server on
/// 127.0.0.1:5432, database `test` (override with `MCP_TASKS_TEST_POSTGRES`).
pub fn postgres_url() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = std::env::var("MCP_TASKS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!(
        "e2e_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut client = postgres::Client::connect(&base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is needed for this test: {e}"));
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// Wait until none of these processes is alive (up to [`PATIENCE`], else fail saying `what`);
/// how long that took.
pub fn wait_until_dead(pids: &[i32], what: &str) -> Duration {
    let start = Instant::now();
    while pids.iter().any(|&p| alive(p)) {
        assert!(start.elapsed() < PATIENCE, "{what}: {pids:?} still alive");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// The `count` PIDs a test tool writes to `pidfile`, once it has written them all.
pub fn read_pids(pidfile: &Path, count: usize) -> Vec<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(text) = std::fs::read_to_string(pidfile) {
            let pids: Vec<i32> = text
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.len() == count {
                return pids;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never held {count} PIDs",
            pidfile.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process with this PID exists.
pub fn alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped) still has a /proc entry: read its state too. The state
    // is the first field after the command name, which is in parentheses and may hold spaces.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state != "Z")
}

/// Temporary directories, removed on drop.
pub mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh directory under the system's temp dir.
    pub struct Dir(PathBuf);

    impl Dir {
        /// Make one.
        pub fn new() -> Dir {
            static N: AtomicU64 = AtomicU64::new(0);
            let path = std::env::temp_dir().join(format!(
                "mcp-tasks-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }

        /// Its path.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Default for Dir {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
