//! The chaos soak (a command, not part of `cargo test`): several `mcp-tasks serve` processes and
//! a worker share one fresh PostgreSQL schema; a client on each server's stdio creates tasks in
//! both eras, polls them, answers their questions and cancels some, while servers, the worker
//! and tools are killed with SIGKILL at random and started again. When the time is up the chaos
//! stops, the clients drive every task they can find to its end, and a checker reads the store
//! itself and reports, each of which must be zero:
//! - illegal states: a row whose status is not one of the five, that disagrees with its body, a
//!   terminal task that still holds a lease, a question outstanding outside `input_required`; a
//!   task a client saw terminal and later saw otherwise; a task whose 2025-11-25 cancel was
//!   answered (with the task, cancelled) and that ended other than `cancelled`;
//! - lost tasks: acknowledged to a client (a task ID in a response) and not in the store;
//! - stuck tasks: not terminal once everything has settled;
//! - requests a live server left unanswered for a minute, and whole lines it wrote that were not
//!   JSON (a line cut off by a SIGKILL is the end of that server, not a finding).
//!
//! ```sh
//! cargo run --release -p mcp-tasks-e2e --bin chaos -- --seconds 600 --servers 3 --seed 7
//! ```
//!
//! PostgreSQL at 127.0.0.1:5432, database `test` (or `MCP_TASKS_TEST_POSTGRES`). Exits 1 if any
//! count that must be zero is not.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_tasks_e2e::{binary, postgres_url, tempdir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Every tool's command line carries the word `chaos-tool` (as `$0` of its shell), so the chaos
/// can find tool processes to kill.
const TOOLS: &str = r#"
[server]
lease_ms = 2000
poll_interval_ms = 100
page_size = 1000

[[tools]]
name = "work"
command = ["sh", "-c", 'sleep "$1"; echo "done $2"', "chaos-tool", "{secs}", "{n}"]
input_schema = { type = "object", properties = { secs = { type = "number" }, n = { type = "integer" } }, required = ["secs", "n"] }

[[tools]]
name = "flaky"
command = ["sh", "-c", 'sleep "$1"; if [ "$(od -An -N1 -tu1 /dev/urandom)" -lt 100 ]; then echo unlucky >&2; exit 3; fi; echo lucky', "chaos-tool", "{secs}"]
input_schema = { type = "object", properties = { secs = { type = "number" } }, required = ["secs"] }
max_attempts = 3
retry_backoff_ms = 100

[[tools]]
name = "queued"
command = ["sh", "-c", 'sleep "$1"; echo queued-done', "chaos-tool", "{secs}"]
input_schema = { type = "object", properties = { secs = { type = "number" } }, required = ["secs"] }
run = "queue"
max_attempts = 2

[[tools]]
name = "ask"
command = ["sh", "-c", '''
read args
echo '{"inputRequests":{"go":{"method":"elicitation/create","params":{"mode":"form","message":"Go on?","requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}}}}' >&3
read answer
echo "answered: $answer"
''', "chaos-tool"]
task_support = "required"
questions = true
timeout_secs = 60
"#;

/// Requests a live server left unanswered for a minute.
static UNANSWERED: AtomicU64 = AtomicU64::new(0);
/// Whole lines a server wrote that were not JSON.
static NOT_JSON: AtomicU64 = AtomicU64::new(0);

const STATUSES: [&str; 5] = [
    "working",
    "input_required",
    "completed",
    "failed",
    "cancelled",
];

fn terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// What a client was told of one task.
struct Tracked {
    /// Created in the 2026-07-28 era (else 2025-11-25).
    modern: bool,
    tool: &'static str,
    /// The last status any client saw.
    last: String,
    /// The last status each client saw (by slot): one client's requests are answered one after
    /// the other, so what it sees must follow the rules; two clients' answers may cross.
    seen: HashMap<usize, String>,
    /// A 2025-11-25 `tasks/cancel` of it was answered with the task cancelled.
    cancel_acknowledged: bool,
    /// Known only from `tasks/list` (its creation was not acknowledged).
    discovered: bool,
}

/// What every thread adds to.
#[derive(Default)]
struct Book {
    tasks: HashMap<String, Tracked>,
    /// Task IDs whose observed statuses broke a rule, with what was seen.
    illegal_seen: Vec<String>,
    counts: HashMap<&'static str, u64>,
}

impl Book {
    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    /// Record a status the client of `slot` saw; a terminal task it sees otherwise later is
    /// illegal.
    fn saw(&mut self, slot: usize, id: &str, status: &str) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        let before = task
            .seen
            .insert(slot, status.to_string())
            .unwrap_or_default();
        if !STATUSES.contains(&status) || (terminal(&before) && before != status) {
            self.illegal_seen.push(format!(
                "{id}: seen {before} then {status} by client {slot}"
            ));
        }
        task.last = status.to_string();
    }
}

/// One `mcp-tasks serve` with a client on its stdio; a reader thread passes its lines on.
struct Conn {
    /// Which client this is.
    slot: usize,
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: u64,
}

/// The server went away (killed, or it closed its output) before answering.
struct Gone;

impl Conn {
    fn start(slot: usize, tools: &std::path::Path, store: &str, log: &std::path::Path) -> Conn {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let mut child = Command::new(binary())
            .args(["serve", "--owner", "chaos", "--store", store, "--tools"])
            .arg(tools)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start mcp-tasks");
        let stdout = child.stdout.take().expect("stdout piped");
        let stdin = child.stdin.take().expect("stdin piped");
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match stdout.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    // A line cut off by a SIGKILL: the server is gone.
                    Ok(_) if !line.ends_with('\n') => break,
                    Ok(_) => {}
                }
                match serde_json::from_str::<Value>(&line) {
                    Ok(message) => {
                        if tx.send(message).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        eprintln!("chaos: the server wrote a line that is not JSON ({e})");
                        NOT_JSON.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        let mut conn = Conn {
            slot,
            child,
            stdin,
            incoming,
            next_id: 1,
        };
        // A 2025-11-25 session for the requests of that era; 2026-07-28 ones carry their own.
        let init = json!({ "protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": { "name": "chaos", "version": "1" } });
        if conn.request("initialize", init).is_ok() {
            let _ = writeln!(
                conn.stdin,
                r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
            );
        }
        conn
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Send a request and wait for its answer: the whole response message.
    fn request(&mut self, method: &str, params: Value) -> Result<Value, Gone> {
        let id = self.next_id;
        self.next_id += 1;
        let line = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        writeln!(self.stdin, "{line}").map_err(|_| Gone)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(message) if message["id"] == id && message.get("method").is_none() => {
                    return Ok(message);
                }
                Ok(_) => {} // notifications
                Err(RecvTimeoutError::Disconnected) => return Err(Gone),
                Err(RecvTimeoutError::Timeout) => {
                    // A hang is a finding: counted, and the server replaced.
                    eprintln!("chaos: a live server did not answer {method} within 60 s");
                    UNANSWERED.fetch_add(1, Ordering::Relaxed);
                    return Err(Gone);
                }
            }
        }
    }

    /// A 2026-07-28 request: `_meta` names the version and a client that speaks the extension.
    fn modern(&mut self, method: &str, mut params: Value) -> Result<Value, Gone> {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { "name": "chaos", "version": "1" },
            "io.modelcontextprotocol/clientCapabilities": {
                "extensions": { "io.modelcontextprotocol/tasks": {} },
                "elicitation": { "form": {} },
            },
        });
        self.request(method, params)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Soak {
    tools: std::path::PathBuf,
    store: String,
    logs: std::path::PathBuf,
    book: Mutex<Book>,
    /// The PID of each slot's server, for the chaos to kill.
    pids: Mutex<Vec<i32>>,
    /// No more creations; drive what exists to its end.
    settling: AtomicBool,
    /// Everything stops.
    done: AtomicBool,
    requests: AtomicU64,
}

impl Soak {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_server(&self, slot: usize) -> Conn {
        let conn = Conn::start(
            slot,
            &self.tools,
            &self.store,
            &self.logs.join(format!("server-{slot}.log")),
        );
        self.pids.lock().unwrap()[slot] = conn.pid();
        conn
    }
}

/// One client: a server of its own, started again whenever it is gone.
fn client(soak: Arc<Soak>, slot: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn = soak.start_server(slot);
    while !soak.done.load(Ordering::Relaxed) {
        let settling = soak.settling.load(Ordering::Relaxed);
        let step = if settling {
            settle_step(&soak, &mut conn, &mut rng)
        } else {
            chaos_step(&soak, &mut conn, &mut rng)
        };
        soak.requests.fetch_add(1, Ordering::Relaxed);
        if step.is_err() {
            soak.book().count("requests cut by a killed server");
            conn.kill();
            std::thread::sleep(Duration::from_millis(rng.gen_range(50..500)));
            conn = soak.start_server(slot);
            soak.book().count("server restarts");
        }
    }
    conn.kill();
}

/// A random task a client knows of, for which `pick` holds.
fn some_task(
    soak: &Soak,
    rng: &mut StdRng,
    pick: impl Fn(&Tracked) -> bool,
) -> Option<(String, bool, &'static str)> {
    let book = soak.book();
    let ids: Vec<_> = book.tasks.iter().filter(|(_, t)| pick(t)).collect();
    if ids.is_empty() {
        return None;
    }
    let (id, task) = ids[rng.gen_range(0..ids.len())];
    Some((id.clone(), task.modern, task.tool))
}

fn chaos_step(soak: &Soak, conn: &mut Conn, rng: &mut StdRng) -> Result<(), Gone> {
    match rng.gen_range(0..100) {
        0..30 => create(soak, conn, rng),
        30..70 => {
            let Some((id, modern, _)) = some_task(soak, rng, |t| !terminal(&t.last)) else {
                return create(soak, conn, rng);
            };
            poll(soak, conn, &id, modern).map(drop)
        }
        70..82 => answer_one(soak, conn, rng),
        82..92 => {
            let Some((id, modern, _)) = some_task(soak, rng, |t| !terminal(&t.last)) else {
                return Ok(());
            };
            cancel(soak, conn, &id, modern)
        }
        _ => list(soak, conn, false),
    }
}

/// After the chaos: answer the questions of every task, poll those not ended, and when none is
/// left, list them all (tasks whose creation was cut off by a kill were never acknowledged).
fn settle_step(soak: &Soak, conn: &mut Conn, rng: &mut StdRng) -> Result<(), Gone> {
    if rng.gen_bool(0.5) {
        answer_one(soak, conn, rng)?;
    }
    match some_task(soak, rng, |t| !terminal(&t.last)) {
        Some((id, modern, _)) => poll(soak, conn, &id, modern).map(drop),
        None => {
            std::thread::sleep(Duration::from_millis(200));
            list(soak, conn, true)
        }
    }
}

fn create(soak: &Soak, conn: &mut Conn, rng: &mut StdRng) -> Result<(), Gone> {
    let tool: &'static str = ["work", "work", "flaky", "queued", "ask"][rng.gen_range(0..5)];
    let secs = (rng.gen_range(0..3000) as f64 / 1000.0).to_string();
    let arguments = match tool {
        "work" => json!({ "secs": secs, "n": rng.gen_range(0..1_000_000) }),
        "ask" => json!({}),
        _ => json!({ "secs": secs }),
    };
    // Questions are answered through tasks/update: the 2026-07-28 era.
    let modern = tool == "ask" || rng.gen_bool(0.5);
    let (reply, id) = if modern {
        let reply = conn.modern(
            "tools/call",
            json!({ "name": tool, "arguments": arguments }),
        )?;
        let id = reply["result"]["taskId"].as_str().map(str::to_string);
        (reply, id)
    } else {
        let reply = conn.request(
            "tools/call",
            json!({ "name": tool, "arguments": arguments, "task": { "ttl": 3_600_000 } }),
        )?;
        let id = reply["result"]["task"]["taskId"]
            .as_str()
            .map(str::to_string);
        (reply, id)
    };
    let mut book = soak.book();
    match id {
        Some(id) => {
            book.count("tasks acknowledged");
            let status = if modern {
                reply["result"]["status"].as_str()
            } else {
                reply["result"]["task"]["status"].as_str()
            };
            book.tasks.insert(
                id,
                Tracked {
                    modern,
                    tool,
                    last: status.unwrap_or("working").to_string(),
                    seen: HashMap::from([(conn.slot, status.unwrap_or("working").to_string())]),
                    cancel_acknowledged: false,
                    discovered: false,
                },
            );
        }
        None => {
            book.count("creations refused");
            eprintln!("chaos: a creation was refused: {reply}");
        }
    }
    Ok(())
}

/// `tasks/get` in the task's era; the task as it was answered, if it was.
fn poll(soak: &Soak, conn: &mut Conn, id: &str, modern: bool) -> Result<Option<Value>, Gone> {
    let params = json!({ "taskId": id });
    let reply = match modern {
        true => conn.modern("tasks/get", params)?,
        false => conn.request("tasks/get", params)?,
    };
    let mut book = soak.book();
    book.count("polls");
    let Some(status) = reply["result"]["status"].as_str() else {
        book.count("polls answered with an error");
        eprintln!("chaos: tasks/get {id}: {reply}");
        return Ok(None);
    };
    book.saw(conn.slot, id, status);
    Ok(Some(reply["result"].clone()))
}

/// Answer the questions of a task last seen waiting for input (an `ask`: a 2026-07-28 task).
fn answer_one(soak: &Soak, conn: &mut Conn, rng: &mut StdRng) -> Result<(), Gone> {
    let Some((id, _, _)) = some_task(soak, rng, |t| t.last == "input_required") else {
        return Ok(());
    };
    let Some(task) = poll(soak, conn, &id, true)? else {
        return Ok(());
    };
    let Some(requests) = task["inputRequests"].as_object() else {
        return Ok(());
    };
    let responses: serde_json::Map<String, Value> = requests
        .keys()
        .map(|key| {
            let answer = json!({ "action": "accept", "content": { "ok": true } });
            (key.clone(), answer)
        })
        .collect();
    let reply = conn.modern(
        "tasks/update",
        json!({ "taskId": id, "inputResponses": responses }),
    )?;
    let mut book = soak.book();
    match reply.get("result") {
        Some(_) => book.count("answers acknowledged"),
        None => book.count("answers refused"),
    }
    Ok(())
}

fn cancel(soak: &Soak, conn: &mut Conn, id: &str, modern: bool) -> Result<(), Gone> {
    let params = json!({ "taskId": id });
    let reply = match modern {
        true => conn.modern("tasks/cancel", params)?,
        false => conn.request("tasks/cancel", params)?,
    };
    let mut book = soak.book();
    match (reply.get("result"), modern) {
        // The extension acknowledges every cancel of a visible task, a terminal one too, and
        // promises nothing of its outcome.
        (Some(_), true) => book.count("cancels acknowledged (2026-07-28)"),
        // 2025-11-25 answers with the task, cancelled: it must stay so.
        (Some(result), false) => {
            book.count("cancels acknowledged (2025-11-25)");
            if let Some(task) = book.tasks.get_mut(id) {
                task.cancel_acknowledged = true;
            }
            let status = result["status"].as_str().unwrap_or("none").to_string();
            book.saw(conn.slot, id, &status);
            if status != "cancelled" {
                book.illegal_seen
                    .push(format!("{id}: a cancel answered with a {status} task"));
            }
        }
        // Already terminal: -32602 says so.
        (None, _) => book.count("cancels refused (already ended)"),
    }
    Ok(())
}

/// Read the first page of `tasks/list`, or all (a 2025-11-25 method: the extension has none);
/// tasks not known yet are tracked from now on.
fn list(soak: &Soak, conn: &mut Conn, all_pages: bool) -> Result<(), Gone> {
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let reply = conn.request("tasks/list", params)?;
        let mut book = soak.book();
        book.count("list pages");
        let Some(tasks) = reply["result"]["tasks"].as_array() else {
            book.count("list pages answered with an error");
            eprintln!("chaos: tasks/list: {reply}");
            return Ok(());
        };
        for task in tasks {
            let (Some(id), Some(status)) = (task["taskId"].as_str(), task["status"].as_str())
            else {
                continue;
            };
            if !book.tasks.contains_key(id) {
                book.tasks.insert(
                    id.to_string(),
                    Tracked {
                        modern: false,
                        tool: "?",
                        last: status.to_string(),
                        seen: HashMap::new(),
                        cancel_acknowledged: false,
                        discovered: true,
                    },
                );
            }
            book.saw(conn.slot, id, status);
        }
        match reply["result"]["nextCursor"].as_str() {
            Some(next) if all_pages => cursor = Some(next.to_string()),
            _ => return Ok(()),
        }
    }
}

/// Kill a random server, the worker, or a tool, now and then, until the soak settles.
fn chaos(soak: &Soak, worker: &Mutex<Child>, rng: &mut StdRng) {
    while !soak.settling.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(rng.gen_range(300..2500)));
        if soak.settling.load(Ordering::Relaxed) {
            return;
        }
        match rng.gen_range(0..10) {
            0..4 => {
                let pids = soak.pids.lock().unwrap().clone();
                let pid = pids[rng.gen_range(0..pids.len())];
                // SAFETY: kill(2) with a PID of a child that the client thread has not reaped.
                if pid > 0 && unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                    soak.book().count("servers killed");
                }
            }
            4..8 => {
                let tools = Command::new("pgrep")
                    .args(["-f", "chaos-tool"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                let pids: Vec<i32> = tools.lines().filter_map(|l| l.parse().ok()).collect();
                if !pids.is_empty() {
                    let pid = pids[rng.gen_range(0..pids.len())];
                    // SAFETY: kill(2); a PID that ended meanwhile just fails.
                    if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                        soak.book().count("tools killed");
                    }
                }
            }
            _ => {
                let mut worker = worker.lock().unwrap();
                let _ = worker.kill();
                let _ = worker.wait();
                soak.book().count("workers killed");
                std::thread::sleep(Duration::from_millis(rng.gen_range(50..500)));
                *worker = start_worker(soak);
            }
        }
    }
}

fn start_worker(soak: &Soak) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(soak.logs.join("worker.log"))
        .expect("worker log");
    Command::new(binary())
        .args([
            "worker",
            "--concurrency",
            "4",
            "--store",
            &soak.store,
            "--tools",
        ])
        .arg(&soak.tools)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start a worker")
}

/// What the checker found in the store.
#[derive(Default)]
struct Findings {
    rows: u64,
    by_status: HashMap<String, u64>,
    illegal: Vec<String>,
    lost: Vec<String>,
    stuck: Vec<String>,
}

/// Read every row of the store and hold it against the rules and what clients were told.
fn check(store: &str, book: &Book) -> Findings {
    let mut db = postgres::Client::connect(store, postgres::NoTls).expect("connect to the store");
    let rows = db
        .query(
            "SELECT id, status, version, lease_until, body FROM mcp_tasks",
            &[],
        )
        .expect("read the store");
    let mut found = Findings::default();
    let mut stored = HashMap::new();
    for row in &rows {
        let id: String = row.get(0);
        let status: String = row.get(1);
        let version: i64 = row.get(2);
        let lease: Option<i64> = row.get(3);
        let body: Value = serde_json::from_str(row.get::<_, &str>(4)).unwrap_or(Value::Null);
        found.rows += 1;
        *found.by_status.entry(status.clone()).or_default() += 1;
        let mut wrong = Vec::new();
        if !STATUSES.contains(&status.as_str()) {
            wrong.push(format!("status {status}"));
        }
        if body["status"] != status.as_str() || body["version"] != version || body["id"] != id {
            wrong.push("the body disagrees with its row".to_string());
        }
        if terminal(&status) && (lease.is_some() || !body["leaseUntil"].is_null()) {
            wrong.push("terminal, yet leased".to_string());
        }
        let outstanding = body["inputRequests"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|q| q["state"] == "open" || q["state"] == "sent");
        if outstanding && status != "input_required" {
            wrong.push(format!("a question outstanding while {status}"));
        }
        if status == "completed" && body["outcome"].is_null() {
            wrong.push("completed without a result".to_string());
        }
        if let Some(task) = book.tasks.get(&id)
            && task.cancel_acknowledged
            && status != "cancelled"
        {
            wrong.push(format!(
                "its cancel was acknowledged, yet it ended {status}"
            ));
        }
        if !wrong.is_empty() {
            found.illegal.push(format!("{id}: {}", wrong.join("; ")));
        }
        if !terminal(&status) {
            found.stuck.push(format!("{id}: {status}"));
        }
        stored.insert(id, status);
    }
    found.illegal.extend(book.illegal_seen.iter().cloned());
    for (id, task) in &book.tasks {
        if !task.discovered && !stored.contains_key(id) {
            found.lost.push(format!("{id} ({})", task.tool));
        }
    }
    found
}

struct Options {
    seconds: u64,
    servers: usize,
    seed: u64,
    settle_secs: u64,
}

fn options() -> Options {
    let mut options = Options {
        seconds: 600,
        servers: 3,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs()),
        settle_secs: 120,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: chaos [--seconds N (600)] [--servers N (3)] [--seed N] [--settle-secs N (120)]";
    for pair in args.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse::<u64>().ok());
        let Some(value) = value else {
            eprintln!("{usage}");
            std::process::exit(2);
        };
        match pair[0].as_str() {
            "--seconds" => options.seconds = value,
            "--servers" => options.servers = (value as usize).max(1),
            "--seed" => options.seed = value,
            "--settle-secs" => options.settle_secs = value,
            _ => {
                eprintln!("{usage}");
                std::process::exit(2);
            }
        }
    }
    options
}

fn main() {
    let options = options();
    let dir = tempdir::Dir::new();
    let tools = dir.path().join("tools.toml");
    std::fs::write(&tools, TOOLS).expect("write the tools file");
    let store = postgres_url();
    let soak = Arc::new(Soak {
        tools,
        store: store.clone(),
        logs: dir.path().to_path_buf(),
        book: Mutex::default(),
        pids: Mutex::new(vec![0; options.servers]),
        settling: AtomicBool::new(false),
        done: AtomicBool::new(false),
        requests: AtomicU64::new(0),
    });
    println!(
        "chaos: {} servers and a worker on {store}, {} s, seed {}; logs in {}",
        options.servers,
        options.seconds,
        options.seed,
        dir.path().display()
    );
    let worker = Mutex::new(start_worker(&soak));
    let clients: Vec<_> = (0..options.servers)
        .map(|slot| {
            let soak = soak.clone();
            let seed = options.seed.wrapping_add(slot as u64 + 1);
            std::thread::spawn(move || client(soak, slot, seed))
        })
        .collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let soak = &soak;
        let worker = &worker;
        scope.spawn(move || chaos(soak, worker, &mut StdRng::seed_from_u64(options.seed)));
        let mut reported = 0;
        while started.elapsed() < Duration::from_secs(options.seconds) {
            std::thread::sleep(Duration::from_millis(200));
            let minute = started.elapsed().as_secs() / 60;
            if minute > reported {
                reported = minute;
                let book = soak.book();
                println!(
                    "chaos: {minute} min: {} tasks acknowledged, {} servers and {} tools killed",
                    book.counts.get("tasks acknowledged").unwrap_or(&0),
                    book.counts.get("servers killed").unwrap_or(&0),
                    book.counts.get("tools killed").unwrap_or(&0),
                );
            }
        }
        soak.settling.store(true, Ordering::Relaxed);
    });
    // The survivors sweep what the killed ones left (a lease is 2 s) and the clients answer and
    // poll until every task they know of has ended.
    let settle_started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let open = soak
            .book()
            .tasks
            .values()
            .filter(|t| !terminal(&t.last))
            .count();
        if (open == 0 && settle_started.elapsed() > Duration::from_secs(10))
            || settle_started.elapsed() > Duration::from_secs(options.settle_secs)
        {
            break;
        }
    }
    let settled_in = settle_started.elapsed();
    soak.done.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.join();
    }
    {
        let mut worker = worker.lock().unwrap();
        let _ = worker.kill();
        let _ = worker.wait();
    }
    let book = soak.book();
    let found = check(&store, &book);

    println!(
        "\nchaos: {} s of chaos, settled in {:.1} s, seed {}",
        options.seconds,
        settled_in.as_secs_f64(),
        options.seed
    );
    let mut counts: Vec<_> = book.counts.iter().collect();
    counts.sort();
    for (what, n) in counts {
        println!("  {what}: {n}");
    }
    println!("  requests: {}", soak.requests.load(Ordering::Relaxed));
    let mut statuses: Vec<_> = found.by_status.iter().collect();
    statuses.sort();
    println!("  tasks in the store: {} ({statuses:?})", found.rows);
    println!("illegal states: {}", found.illegal.len());
    for line in found.illegal.iter().take(20) {
        println!("  {line}");
    }
    println!("lost acknowledged tasks: {}", found.lost.len());
    for line in found.lost.iter().take(20) {
        println!("  {line}");
    }
    println!("stuck non-terminal tasks: {}", found.stuck.len());
    for line in found.stuck.iter().take(20) {
        println!("  {line}");
    }
    let unanswered = UNANSWERED.load(Ordering::Relaxed);
    println!("requests a live server left unanswered: {unanswered}");
    let not_json = NOT_JSON.load(Ordering::Relaxed);
    println!("whole lines that were not JSON: {not_json}");
    if !(found.illegal.is_empty()
        && found.lost.is_empty()
        && found.stuck.is_empty()
        && unanswered == 0
        && not_json == 0)
    {
        // Keep the logs for a look.
        std::mem::forget(dir);
        std::process::exit(1);
    }
}
