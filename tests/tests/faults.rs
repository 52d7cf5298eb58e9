//! The store failing under a running server, through the binary: while PostgreSQL cannot be
//! reached, requests fail with a clear JSON-RPC error and the server serves on; once it can be
//! reached again, they succeed without a restart, and no acknowledged task is lost.

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_tasks_e2e::{Server, postgres_url};
use serde_json::json;

const TOOLS: &str = mcp_tasks_e2e::wait_tool!();

/// A TCP proxy in front of PostgreSQL that can be cut (every connection closed, new ones closed
/// at once) and restored, as a database that goes away and comes back.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (up2, open2) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut open = open2.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { port, up, open }
    }

    /// A proxy to the test's own schema, and the URL that reaches it through the proxy.
    fn to_fresh_schema() -> (Proxy, String) {
        let url = postgres_url();
        let (scheme_user, rest) = url.split_once('@').unwrap();
        let (authority, path) = rest.split_once('/').unwrap();
        let proxy = Proxy::start(authority.to_string());
        let through_proxy = format!("{scheme_user}@127.0.0.1:{}/{path}", proxy.port);
        (proxy, through_proxy)
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The IDs of the tasks `tasks/list` shows.
fn listed_ids(s: &mut Server) -> Vec<String> {
    let listed = s.request("tasks/list", json!({})).unwrap();
    listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap().to_string())
        .collect()
}

/// Copy `from` to `to` until either ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

#[test]
fn postgres_unreachable_then_back_fails_requests_clearly_and_loses_nothing() {
    let (proxy, through_proxy) = Proxy::to_fresh_schema();

    let mut s = Server::start(TOOLS, &["--store", &through_proxy]);
    s.initialize();
    let flag = s.dir.path().join("go").display().to_string();
    let acknowledged = s.create_task("wait", json!({ "path": flag }));

    proxy.cut();
    // Every request that needs the store fails, saying so; the server answers the rest.
    let got = s
        .request("tasks/get", json!({ "taskId": acknowledged }))
        .expect_err("no store, no task");
    assert_eq!(got["code"], -32603, "{got}");
    let message = got["message"].as_str().unwrap();
    assert!(message.contains("store"), "{message}");
    let refused = s
        .request(
            "tools/call",
            json!({ "name": "wait", "arguments": { "path": flag }, "task": {} }),
        )
        .expect_err("no store, no new task");
    assert_eq!(refused["code"], -32603, "{refused}");
    assert_eq!(s.request("ping", json!({})), Ok(json!({})));

    proxy.restore();
    // Without a restart: the pool connects again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let task = loop {
        match s.request("tasks/get", json!({ "taskId": acknowledged })) {
            Ok(task) => break task,
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e["code"], -32603, "{e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("the store did not come back: {e}"),
        }
    };
    assert_eq!(task["status"], "working", "{task}");
    // The acknowledged task is there, alone (the refused call created nothing), and completes.
    assert_eq!(listed_ids(&mut s), std::slice::from_ref(&acknowledged));
    std::fs::write(&flag, "").unwrap();
    s.poll_task(&acknowledged, "completed", |t| t["status"] == "completed");
}

#[test]
fn postgres_cut_mid_load_fails_in_flight_requests_clearly_and_loses_no_acknowledged_task() {
    let (proxy, through_proxy) = Proxy::to_fresh_schema();
    // A short lease: a task whose creation was cut off half-way is failed by the sweep soon.
    let tools = r#"
[server]
lease_ms = 1000
page_size = 1000

[[tools]]
name = "quick"
command = ["echo", "done"]
task_support = "optional"
"#;
    let mut s = Server::start(tools, &["--store", &through_proxy]);
    s.initialize();
    let mut acknowledged = Vec::new();
    let mut failed = 0;
    for round in 0..3 {
        // 200 creations in flight, and the database cut off under them.
        let ids: Vec<u64> = (0..200)
            .map(|_| {
                s.send(
                    "tools/call",
                    json!({ "name": "quick", "arguments": {}, "task": { "ttl": 600000 } }),
                )
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50 + 40 * round));
        proxy.cut();
        for id in ids {
            match s.response(id) {
                Ok(created) => {
                    acknowledged.push(created["task"]["taskId"].as_str().unwrap().to_string())
                }
                Err(e) => {
                    // Each refusal says the store is what failed.
                    assert_eq!(e["code"], -32603, "{e}");
                    assert!(e["message"].as_str().unwrap().contains("store"), "{e}");
                    failed += 1;
                }
            }
        }
        assert_eq!(s.request("ping", json!({})), Ok(json!({})));
        proxy.restore();
    }
    assert!(
        !acknowledged.is_empty() && failed > 0,
        "the cut fell outside the load: {} acknowledged, {failed} failed",
        acknowledged.len()
    );
    // Once the store is back: every acknowledged task is there and completes, those whose tool
    // finished while the store was away too (the server gives the outcome again until it is
    // stored); any other task (a creation cut off after its row was written) ends as well,
    // failed by the sweep; none is stuck.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = loop {
            match s.request("tasks/list", json!({})) {
                Ok(listed) => break listed,
                Err(e) if Instant::now() < deadline => {
                    assert_eq!(e["code"], -32603, "{e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("the store did not come back: {e}"),
            }
        };
        let tasks = listed["tasks"].as_array().unwrap();
        let status = |id: &str| {
            tasks
                .iter()
                .find(|t| t["taskId"] == id)
                .map(|t| t["status"].as_str().unwrap().to_string())
        };
        for id in &acknowledged {
            assert!(status(id).is_some(), "acknowledged task {id} lost");
        }
        let open = tasks
            .iter()
            .filter(|t| t["status"] == "working" || t["status"] == "input_required")
            .count();
        if open == 0 {
            let completed = acknowledged
                .iter()
                .filter(|id| status(id).as_deref() == Some("completed"))
                .count();
            eprintln!(
                "{} acknowledged ({completed} completed), {failed} refused, {} in the store",
                acknowledged.len(),
                tasks.len()
            );
            assert_eq!(completed, acknowledged.len(), "{listed}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} tasks never ended: {listed}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Takes a SQLite file's exclusive lock (retrying while the server writes), says so, holds it
/// 14 s, and lets it go.
const LOCKER: &str = r#"
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
for _ in range(200):
    try:
        c.execute("BEGIN EXCLUSIVE")
        break
    except sqlite3.OperationalError as e:
        print(e, file=sys.stderr)
        time.sleep(0.05)
print("locked", flush=True)
time.sleep(14)
c.execute("COMMIT")
"#;

#[test]
fn a_sqlite_file_locked_past_the_busy_timeout_fails_requests_clearly_and_loses_nothing() {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let db = dir.path().join("tasks.db");
    let store = format!("file:{}", db.display());
    let mut s = Server::start(TOOLS, &["--store", &store]);
    s.initialize();
    let flag = s.dir.path().join("go").display().to_string();
    let acknowledged = s.create_task("wait", json!({ "path": flag }));

    // Another process takes the file's exclusive lock and holds it past the busy timeout (10 s).
    let mut locker = std::process::Command::new("python3")
        .arg("-c")
        .arg(LOCKER)
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    // Its stdout stays open until it ends (a closed pipe would end it early).
    let mut said = std::io::BufReader::new(locker.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut said, &mut line).unwrap();
    assert_eq!(line, "locked\n");
    let started = Instant::now();
    let refused = s
        .request(
            "tools/call",
            json!({ "name": "wait", "arguments": { "path": flag }, "task": {} }),
        )
        .expect_err("the file is locked");
    assert_eq!(refused["code"], -32603, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("locked"), "{message}");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "it waited first"
    );
    assert_eq!(s.request("ping", json!({})), Ok(json!({})));
    locker.wait().unwrap();
    drop(said);

    // The lock is gone: the same server goes on, the acknowledged task alone and intact.
    assert_eq!(listed_ids(&mut s), std::slice::from_ref(&acknowledged));
    std::fs::write(&flag, "").unwrap();
    s.poll_task(&acknowledged, "completed", |t| t["status"] == "completed");
}

/// A tmpfs of `size` mounted on `path` until dropped (root only).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount");
        assert!(status.success(), "mount a tmpfs on {}", path.display());
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_fails_new_tasks_clearly_and_loses_nothing() {
    // SAFETY: geteuid(2) only reads the process's user.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let disk = Tmpfs::mount(&dir.path().join("disk"), "2m");
    let store = format!("file:{}", disk.0.join("tasks.db").display());
    let mut s = Server::start(TOOLS, &["--store", &store]);
    s.initialize();
    let flag = s.dir.path().join("go").display().to_string();
    let acknowledged = s.create_task("wait", json!({ "path": flag }));

    // Fill the disk.
    let filler = disk.0.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
    drop(file);

    let big = json!({ "path": flag, "pad": "x".repeat(200_000) });
    let refused = s
        .request(
            "tools/call",
            json!({ "name": "wait", "arguments": big, "task": {} }),
        )
        .expect_err("the disk is full");
    assert_eq!(refused["code"], -32603, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("full"), "{message}");
    // What is stored is still read.
    let task = s
        .request("tasks/get", json!({ "taskId": acknowledged }))
        .unwrap();
    assert_eq!(task["status"], "working");

    // Room again: the same server creates tasks, and the acknowledged one completes.
    std::fs::remove_file(&filler).unwrap();
    let second = s.create_task("wait", json!({ "path": flag }));
    std::fs::write(&flag, "").unwrap();
    s.poll_task(&acknowledged, "completed", |t| t["status"] == "completed");
    s.poll_task(&second, "completed", |t| t["status"] == "completed");
    assert_eq!(listed_ids(&mut s).len(), 2);
    drop(s);
}
