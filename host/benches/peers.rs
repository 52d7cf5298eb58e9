//! The hot path against its limit and its peers (`cargo bench -p mcp-tasks --bench peers`): not a
//! test, and nothing here asserts a speed.
//!
//! Over stdio, in one run, each server holding one tool, `greet`, that runs as a task and
//! completes at once:
//! - the **native limit**: this bench re-run as a server that does the same work in one thread
//!   with a `HashMap` and serde_json (parse the line, find the task, check its owner, write the
//!   task's JSON; on a call, create the task, run the tool in process, store its result);
//! - **mcp-tasks as a library** (`Server::builder().tool(..)`), the same in-process tool;
//! - **the `mcp-tasks` binary** with a command tool (`true`) on the memory store, a SQLite file and
//!   PostgreSQL (`MCP_TASKS_BENCH_POSTGRES`, default the local `test`), beside the cost of spawning
//!   `true` alone and of a plain (task-less) `tools/call` of it through the binary;
//! - **the peers**: the TypeScript SDK 1.32 (`McpServer` with its `InMemoryTaskStore`,
//!   `interop/typescript/bench-server.mjs stdio`) for 2025-11-25, and rmcp 3.11 with its
//!   `TaskManager` (`interop/rmcp`, built here on first use) for the 2026-07-28 extension.
//!
//! `tasks/get` pipelined (requests per second; of one task, and of 100 tasks in turn) and one at a
//! time (median round trip), and task creation likewise. Rounds alternate between the servers so
//! that the machine's noise falls on all alike; each figure is the median of the rounds.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcp_tasks::types::ToolInfo;
use mcp_tasks::{Server, Tool, ToolContext, ToolOutcome};
use serde_json::{Value, json};

mod common;
use common::{StdioServer, binary, fresh_postgres_schema, median};

const ROUNDS: usize = 5;
/// How many tasks the second pipelined `tasks/get` measure takes in turn: a store cannot answer
/// a batch of polls of many tasks with one read.
const SPREAD: usize = 100;
const ROLE: &str = "MCP_TASKS_BENCH_ROLE";
/// The subject whose plain `tools/call` is timed beside spawning the command alone.
const BINARY_MEMORY: &str = "mcp-tasks binary, memory";
/// A `tools/call` without a task: answered when the command has ended.
const PLAIN_CALL: &str = r#"{"jsonrpc":"2.0","id":@ID@,"method":"tools/call","params":{"name":"greet","arguments":{"name":"bench"}}}"#;
const MODERN_META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}"#;

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("native") => return native_server(),
        Ok("library") => return library_server(),
        _ => {}
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once with no argument
    // worth acting on, so keep that run short.
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench -p mcp-tasks --bench peers` to measure");
        return;
    }
    let dir = std::env::temp_dir().join(format!("mcp-tasks-peers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let result = std::panic::catch_unwind(|| measure(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Era {
    Legacy,
    Modern,
}

/// One server in one era, and what was measured of it in each round.
struct Subject {
    name: &'static str,
    era: Era,
    server: StdioServer,
    get: String,
    /// `tasks/get` of each of [`SPREAD`] tasks.
    get_spread: Vec<String>,
    create: String,
    get_pipelined: Vec<f64>,
    get_spread_pipelined: Vec<f64>,
    get_one_us: Vec<f64>,
    create_pipelined: Vec<f64>,
    create_one_us: Vec<f64>,
}

impl Subject {
    fn new(name: &'static str, era: Era, mut server: StdioServer) -> Subject {
        let (create, get_of): (String, fn(&str) -> String) = match era {
            Era::Legacy => {
                let init = server.call(
                    r#"{"jsonrpc":"2.0","id":@ID@,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#,
                );
                assert!(init.get("result").is_some(), "{name}: {init}");
                server.notify(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
                (
                    r#"{"jsonrpc":"2.0","id":@ID@,"method":"tools/call","params":{"name":"greet","arguments":{"name":"bench"},"task":{"ttl":3600000}}}"#.into(),
                    |id| format!(r#"{{"jsonrpc":"2.0","id":@ID@,"method":"tasks/get","params":{{"taskId":"{id}"}}}}"#),
                )
            }
            Era::Modern => (
                format!(
                    r#"{{"jsonrpc":"2.0","id":@ID@,"method":"tools/call","params":{{"name":"greet","arguments":{{"name":"bench"}},{MODERN_META}}}}}"#
                ),
                |id| {
                    format!(
                        r#"{{"jsonrpc":"2.0","id":@ID@,"method":"tasks/get","params":{{"taskId":"{id}",{MODERN_META}}}}}"#
                    )
                },
            ),
        };
        let created = server.call(&create);
        let task = match era {
            Era::Legacy => &created["result"]["task"],
            Era::Modern => &created["result"],
        };
        let id = task["taskId"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no task created: {created}"));
        let get = get_of(id);
        let get_spread = (0..SPREAD)
            .map(|_| {
                let created = server.call(&create);
                let task = match era {
                    Era::Legacy => &created["result"]["task"],
                    Era::Modern => &created["result"],
                };
                get_of(
                    task["taskId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{name}: no task created: {created}")),
                )
            })
            .collect();
        // Every subject answers the same question about a task that has completed.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = server.call(&get);
            if got["result"]["status"] == "completed" {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: {got}");
            std::thread::sleep(Duration::from_millis(10));
        }
        Subject {
            name,
            era,
            server,
            get,
            get_spread,
            create,
            get_pipelined: Vec::new(),
            get_spread_pipelined: Vec::new(),
            get_one_us: Vec::new(),
            create_pipelined: Vec::new(),
            create_one_us: Vec::new(),
        }
    }

    fn round(&mut self) {
        eprintln!("  {}", self.name);
        let s = &mut self.server;
        self.get_pipelined.push(s.rate(&self.get, 20_000, true));
        let spread: Vec<&str> = self.get_spread.iter().map(String::as_str).collect();
        self.get_spread_pipelined
            .push(s.rate_cycling(&spread, 20_000, true));
        self.get_one_us.push(s.round_trip_us(&self.get, 2_000));
        self.create_pipelined
            .push(s.rate(&self.create, 1_000, true));
        self.create_one_us.push(s.round_trip_us(&self.create, 300));
    }
}

fn measure(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tools = dir.join("tools.toml");
    std::fs::write(
        &tools,
        "[[tools]]\nname = \"greet\"\ncommand = [\"true\"]\ntask_support = \"optional\"\n",
    )
    .unwrap();
    let serve = |store: String| {
        let mut command = Command::new(binary());
        command
            .args(["serve", "--owner", "bench", "--store", &store, "--tools"])
            .arg(&tools);
        command
    };
    let this = || {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.env_remove(ROLE);
        command
    };
    // MCP_TASKS_BENCH_ONLY=<text>: only the subjects whose name holds it (and the native limit);
    // the others are not even started (rmcp's peer is built on first use).
    let only = std::env::var("MCP_TASKS_BENCH_ONLY").ok();
    let wanted = |name: &str| {
        name.starts_with("native")
            || only
                .as_ref()
                .is_none_or(|only| name.contains(only.as_str()))
    };
    let mut subjects = Vec::new();
    let mut add = |name: &'static str, era: Era, command: &dyn Fn() -> Option<Command>| {
        if wanted(name)
            && let Some(command) = command()
        {
            subjects.push(Subject::new(name, era, StdioServer::spawn(command)));
        }
    };
    for era in [Era::Legacy, Era::Modern] {
        add("native Rust, one thread", era, &|| {
            let mut native = this();
            native.env(ROLE, "native");
            Some(native)
        });
        add("mcp-tasks library, in-process tool", era, &|| {
            let mut library = this();
            library.env(ROLE, "library");
            Some(library)
        });
        add(BINARY_MEMORY, era, &|| Some(serve("memory".into())));
        let file = dir.join(match era {
            Era::Legacy => "legacy.db",
            Era::Modern => "modern.db",
        });
        add("mcp-tasks binary, SQLite file", era, &|| {
            Some(serve(format!("file:{}", file.display())))
        });
        add("mcp-tasks binary, PostgreSQL", era, &|| {
            fresh_postgres_schema(match era {
                Era::Legacy => "mcp_tasks_peers_legacy",
                Era::Modern => "mcp_tasks_peers_modern",
            })
            .map(serve)
        });
        match era {
            Era::Legacy => add("TypeScript SDK 1.32", era, &|| typescript_sdk(&root)),
            Era::Modern => add("rmcp 3.11", era, &|| rmcp(&root)),
        }
    }

    let mut spawn_us = Vec::new();
    let mut plain_us = Vec::new();
    for round in 0..ROUNDS {
        eprintln!("round {} of {ROUNDS}", round + 1);
        for subject in &mut subjects {
            subject.round();
            // Let a round's tools finish before the next server is measured.
            std::thread::sleep(Duration::from_millis(200));
            if subject.name == BINARY_MEMORY && subject.era == Era::Legacy {
                plain_us.push(subject.server.round_trip_us(PLAIN_CALL, 300));
            }
        }
        spawn_us.push(spawn_alone_us(300));
    }

    println!("over stdio, medians of {ROUNDS} rounds:");
    for era in [Era::Legacy, Era::Modern] {
        println!(
            "{}",
            match era {
                Era::Legacy => "2025-11-25",
                Era::Modern => "2026-07-28 (tasks extension)",
            }
        );
        // Each column: its title, its samples, the decimals shown.
        type Samples = fn(&Subject) -> &Vec<f64>;
        let columns: [(&str, Samples, usize); 5] = [
            ("get pipelined /s", |s| &s.get_pipelined, 0),
            ("get, 100 tasks /s", |s| &s.get_spread_pipelined, 0),
            ("get one, µs", |s| &s.get_one_us, 1),
            ("create pipelined /s", |s| &s.create_pipelined, 0),
            ("create one, µs", |s| &s.create_one_us, 1),
        ];
        let group: Vec<&Subject> = subjects.iter().filter(|s| s.era == era).collect();
        let mut header = format!("  {:36}", "");
        for (title, _, _) in &columns {
            header += &format!(" {title:>20}");
        }
        println!("{header}");
        for s in &group {
            let mut line = format!("  {:36}", s.name);
            for (_, samples, decimals) in &columns {
                let value = median(samples(s).clone());
                let ratio = value / median(samples(group[0]).clone());
                line += &format!(" {:>11.*} ({ratio:.2}×)", decimals, value);
            }
            println!("{line}");
        }
    }
    println!(
        "spawning `true` alone, one at a time: median {:.1} µs ({:.0}/s)",
        median(spawn_us.clone()),
        1e6 / median(spawn_us)
    );
    if !plain_us.is_empty() {
        println!(
            "a plain tools/call of that command tool through the binary (2025-11-25, memory), one \
             at a time: median {:.1} µs",
            median(plain_us)
        );
    }
}

/// The median µs of starting `true` and waiting for it, `n` times.
fn spawn_alone_us(n: usize) -> f64 {
    median(
        (0..n)
            .map(|_| {
                let start = Instant::now();
                let status = Command::new("true").status().unwrap();
                assert!(status.success());
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect(),
    )
}

/// The TypeScript SDK's server over stdio, if `.ci/setup` installed it.
fn typescript_sdk(root: &Path) -> Option<Command> {
    let dir = root.join("interop/typescript");
    if !dir.join("node_modules/@modelcontextprotocol/sdk").exists() {
        eprintln!("interop/typescript/node_modules is missing (run .ci/setup): no TypeScript SDK");
        return None;
    }
    let mut command = Command::new("node");
    command
        .arg(dir.join("bench-server.mjs"))
        .arg("stdio")
        .current_dir(&dir);
    Some(command)
}

/// rmcp's server over stdio (`interop/rmcp`), built into this workspace's target directory.
fn rmcp(root: &Path) -> Option<Command> {
    let target: PathBuf = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .to_path_buf();
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(root.join("interop/rmcp/Cargo.toml"))
        .arg("--target-dir")
        .arg(target.join("rmcp-peer"))
        .status();
    match status {
        Ok(s) if s.success() => Some(Command::new(
            target.join("rmcp-peer/release/rmcp-tasks-peer"),
        )),
        _ => {
            eprintln!("interop/rmcp did not build: no rmcp peer");
            None
        }
    }
}

/// The tool every subject runs: answers at once.
struct Greet(ToolInfo);

#[mcp_tasks::async_trait]
impl Tool for Greet {
    fn info(&self) -> &ToolInfo {
        &self.0
    }
    async fn call(&self, arguments: Value, _: ToolContext) -> ToolOutcome {
        let name = arguments["name"].as_str().unwrap_or("world");
        ToolOutcome::text(format!("hello, {name}"))
    }
}

/// mcp-tasks as a library over stdio, with `Greet` in process, on the memory store.
fn library_server() {
    let greet = Greet(ToolInfo {
        description: Some("Greets".into()),
        ..ToolInfo::new(
            "greet",
            r#"{"type":"object","properties":{"name":{"type":"string"}}}"#,
        )
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Server::builder()
        .owner("bench")
        .tool(Arc::new(greet))
        .build()
        .unwrap();
    runtime
        .block_on(
            runtime.spawn(async move { server.serve_stdio_until(std::future::pending()).await }),
        )
        .unwrap()
        .unwrap();
}

/// A task as the native server keeps it.
struct NativeTask {
    owner: String,
    status: &'static str,
    created_at: String,
    updated_at: String,
    ttl: Option<u64>,
    result: Option<Value>,
}

impl NativeTask {
    fn json(&self, id: &str) -> Value {
        json!({
            "taskId": id,
            "status": self.status,
            "createdAt": self.created_at,
            "lastUpdatedAt": self.updated_at,
            "ttl": self.ttl,
            "pollInterval": 1000,
        })
    }
}

/// The native limit: the same work in one thread, a `HashMap` and serde_json, no component and
/// no async runtime. Output is flushed once no more input is buffered, as mcp-tasks does.
fn native_server() {
    // Stdin as a plain file under one buffer of ours, so that the buffer tells what is pending.
    let stdin = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned().unwrap());
    let mut input = BufReader::with_capacity(64 * 1024, stdin);
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut tasks: HashMap<String, NativeTask> = HashMap::new();
    let owner = "bench";
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).unwrap() == 0 {
            return;
        }
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(id) = message.get("id") else {
            continue; // a notification
        };
        let params = &message["params"];
        let modern = params["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28";
        let answer = match message["method"].as_str() {
            Some("initialize") => Ok(json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}},
                "serverInfo": {"name": "native", "version": "1"},
            })),
            Some("tools/call") if params["name"] == "greet" => {
                let task_id = uuid::Uuid::new_v4().to_string();
                let now = mcp_tasks_guest::protocol::iso8601(
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_millis() as u64,
                );
                let name = params["arguments"]["name"].as_str().unwrap_or("world");
                let task = NativeTask {
                    owner: owner.into(),
                    status: "working",
                    created_at: now.clone(),
                    updated_at: now,
                    ttl: params["task"]["ttl"].as_u64(),
                    result: None,
                };
                let created = task.json(&task_id);
                tasks.insert(task_id.clone(), task);
                // The tool, in process: it answers at once and the task completes.
                let result =
                    json!({"content": [{"type": "text", "text": format!("hello, {name}")}]});
                if let Some(task) = tasks.get_mut(&task_id) {
                    task.status = "completed";
                    task.result = Some(result);
                }
                Ok(if modern {
                    let mut created = created;
                    created["resultType"] = "task".into();
                    created
                } else {
                    json!({"task": created})
                })
            }
            Some("tasks/get") => match params["taskId"]
                .as_str()
                .and_then(|id| tasks.get(id).map(|t| (id, t)))
                .filter(|(_, t)| t.owner == owner)
            {
                Some((task_id, task)) => {
                    let mut got = task.json(task_id);
                    if modern {
                        got["resultType"] = "complete".into();
                        if let Some(result) = &task.result {
                            got["result"] = result.clone();
                        }
                    }
                    Ok(got)
                }
                None => Err(json!({"code": -32602, "message": "Task not found"})),
            },
            _ => Err(json!({"code": -32601, "message": "Method not found"})),
        };
        let response = match answer {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error}),
        };
        serde_json::to_writer(&mut out, &response).unwrap();
        out.write_all(b"\n").unwrap();
        if input.buffer().is_empty() {
            out.flush().unwrap();
        }
    }
}
