//! Two `mcp-tasks serve --http` replicas sharing PostgreSQL serve one 2025-11-25 session: the
//! official TypeScript (1.32) and Python (1.x) SDK clients, behind a proxy that spreads their
//! requests over both (`interop/round-robin.mjs`: the tool runs on one replica, the session's GET
//! stream is on the other, every other request alternates), complete a task that asks a
//! question and hear its status notifications. A session ID is 404 for another owner on both.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use mcp_tasks_e2e::http::{HttpServer, tokens_file};
use mcp_tasks_e2e::{collect_stderr, postgres_url, root};
use serde_json::json;

/// Two replicas on one fresh PostgreSQL schema, with the interop tools and alice's and bob's
/// tokens.
fn replicas(dir: &Path) -> [HttpServer; 2] {
    let store = postgres_url();
    let tokens = tokens_file(dir);
    let tools = std::fs::read_to_string(root().join("interop/tools.toml")).unwrap();
    let args = [
        "--store",
        store.as_str(),
        "--auth-tokens",
        tokens.to_str().unwrap(),
    ];
    [
        HttpServer::start(&tools, &args),
        HttpServer::start(&tools, &args),
    ]
}

/// The round-robin proxy in front of the replicas: its URL and its log of where each request went.
struct Proxy {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Proxy {
    fn start(replicas: &[HttpServer]) -> Proxy {
        let mut child = Command::new("node")
            .arg(root().join("interop/round-robin.mjs"))
            .args(replicas.iter().map(|r| r.url.as_str()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs the proxy");
        let log = collect_stderr(&mut child);
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the proxy did not start: {line}"));
        Proxy {
            url: format!("http://127.0.0.1:{port}/mcp"),
            child,
            log,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run a client script against the proxy as alice; its output.
fn client(program: &Path, script: &str, proxy: &Proxy, replicas: &[HttpServer]) -> String {
    let out = Command::new(program)
        .arg(root().join(script))
        .args([proxy.url.as_str(), "alice-token"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("replicas: ok"),
        "{script} failed ({}):\n{stdout}\n{stderr}\nproxy:\n{}\nreplica 0:\n{}\nreplica 1:\n{}",
        out.status,
        proxy.log.lock().unwrap(),
        replicas[0].stderr(),
        replicas[1].stderr()
    );
    // The proxy did spread the session: its stream on one replica, its tool on the other.
    let log = proxy.log.lock().unwrap().clone();
    assert!(log.contains("GET  -> 0"), "{log}");
    assert!(log.contains("POST tools/call -> 1"), "{log}");
    stdout
}

#[test]
fn the_typescript_sdk_completes_a_task_that_asks_across_two_replicas() {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let replicas = replicas(dir.path());
    let proxy = Proxy::start(&replicas);
    client(
        Path::new("node"),
        "interop/typescript/replicas.mjs",
        &proxy,
        &replicas,
    );
}

#[test]
fn the_python_sdk_completes_a_task_that_asks_across_two_replicas() {
    let python = root().join("interop/python/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run .ci/setup",
        python.display()
    );
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let replicas = replicas(dir.path());
    let proxy = Proxy::start(&replicas);
    client(&python, "interop/python/replicas.py", &proxy, &replicas);
}

#[test]
fn a_session_is_served_by_either_replica_hears_tasks_run_on_the_other_and_is_404_for_another_owner()
{
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let replicas = replicas(dir.path());
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": { "name": "replicas", "version": "1" }
    }});
    let opened = replicas[0].post(&[("authorization", "Bearer alice-token")], &init);
    assert_eq!(opened.status, 200, "{opened:?}");
    let session = opened
        .header("mcp-session-id")
        .expect("a session ID")
        .to_string();
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let headers = |token: &'static str| {
        [
            ("authorization", token),
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ]
    };
    for replica in &replicas {
        let alice = replica.post(&headers("Bearer alice-token"), &list);
        assert_eq!(alice.status, 200, "{alice:?}");
        assert!(alice.result()["tools"].as_array().is_some(), "{alice:?}");
        let bob = replica.post(&headers("Bearer bob-token"), &list);
        assert_eq!(bob.status, 404, "{bob:?}");
        assert_eq!(bob.error_code(), -32001, "{bob:?}");
    }
    // The session's stream on one replica hears the status of a task whose tool runs on the
    // other: relayed through PostgreSQL.
    let mut stream = replicas[0].get_stream(&headers("Bearer alice-token"));
    let call = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "greet", "arguments": { "name": "relay" }, "task": { "ttl": 60000 }
    }});
    let created = replicas[1].post(&headers("Bearer alice-token"), &call);
    let task_id = created.result()["task"]["taskId"].clone();
    assert!(task_id.is_string(), "{created:?}");
    let heard = stream.find(|m| {
        m["method"] == "notifications/tasks/status"
            && m["params"]["taskId"] == task_id
            && m["params"]["status"] == "completed"
    });
    assert!(
        heard.is_some(),
        "the stream ended without the task's completion:\n{}\n{}",
        replicas[0].stderr(),
        replicas[1].stderr()
    );
    // Ended on one replica (DELETE), it is gone on the other too.
    let ended = replicas[1].call(
        "DELETE",
        "/mcp",
        &[
            ("authorization", "Bearer alice-token"),
            ("mcp-session-id", session.as_str()),
        ],
    );
    assert_eq!(ended.status, 200, "{ended:?}");
    let gone = replicas[0].post(
        &[
            ("authorization", "Bearer alice-token"),
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        &list,
    );
    assert_eq!(gone.status, 404, "{gone:?}");
}
