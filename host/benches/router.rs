//! Benchmarks (`cargo bench -p mcp-tasks`): not tests, and nothing here asserts a speed.
//!
//! 1. One `router.handle` call (`tasks/get` of a stored task) through the component, against
//!    the same guest code compiled natively, both over the same `MemoryStore`.
//! 2. One `machine.can-transition` call through the state-machine component, against the
//!    native rule.
//! 3. The real binary over stdio: `tasks/get` round trips and task creations per second,
//!    pipelined and one at a time.
//!
//! Every figure is the median of several rounds, measured in the same run as its baseline.

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use mcp_tasks::types::{Action, Context, Settings, Status, StoreError, Task};
use mcp_tasks::{Call, ComponentSource, Guest, Machine, MemoryStore, TaskStore};
use mcp_tasks_guest::model as native;

mod common;
use common::{StdioServer, binary, fresh_postgres_schema, median};

const ROUNDS: usize = 7;

/// The memory store's futures never wait: poll once.
fn ready<T>(fut: impl Future<Output = T>) -> T {
    let mut fut = std::pin::pin!(fut);
    match fut
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("MemoryStore never waits"),
    }
}

/// The native guest's store: the host's `MemoryStore`, converted at the boundary just as the
/// component's bindings convert.
struct NativeStore(Arc<MemoryStore>);

fn to_native(t: Task) -> native::Task {
    native::Task {
        id: t.id,
        owner: t.owner,
        status: match t.status {
            Status::Working => native::Status::Working,
            Status::InputRequired => native::Status::InputRequired,
            Status::Completed => native::Status::Completed,
            Status::Failed => native::Status::Failed,
            Status::Cancelled => native::Status::Cancelled,
        },
        status_message: t.status_message,
        created_at: t.created_at,
        last_updated_at: t.last_updated_at,
        ttl: t.ttl,
        poll_interval: t.poll_interval,
        version: t.version,
        request: t.request,
        outcome: None,
        input_requests: Vec::new(),
        era: native::Era::Legacy,
        executor: t.executor,
        lease_until: t.lease_until,
        attempt: t.attempt,
        variables: t.variables,
        // The benchmark's tasks (the fixture's) have no history.
        history: Vec::new(),
    }
}

fn store_error(e: StoreError) -> native::StoreError {
    native::StoreError::Unavailable(format!("{e:?}"))
}

impl native::Store for NativeStore {
    fn get(&self, id: &str) -> Result<Option<native::Task>, native::StoreError> {
        ready(self.0.get(id))
            .map(|t| t.map(to_native))
            .map_err(store_error)
    }
    fn create(&self, _: &native::Task) -> Result<(), native::StoreError> {
        unimplemented!("the benchmark only reads")
    }
    fn update(&self, _: &native::Task, _: u64) -> Result<(), native::StoreError> {
        unimplemented!("the benchmark only reads")
    }
    fn list(
        &self,
        _: &str,
        _: Option<native::Status>,
        _: Option<&str>,
        _: u32,
    ) -> Result<native::Page, native::StoreError> {
        unimplemented!("the benchmark only reads")
    }
    fn delete(&self, _: &str) -> Result<(), native::StoreError> {
        unimplemented!("the benchmark only reads")
    }
    fn expire(&self, _: u64) -> Result<Vec<String>, native::StoreError> {
        unimplemented!("the benchmark only reads")
    }
    fn abandoned(&self, _: u64, _: u32) -> Result<Vec<String>, native::StoreError> {
        unimplemented!("the benchmark only reads")
    }
}

struct NativeServer;

impl native::Server for NativeServer {
    fn settings(&self) -> std::borrow::Cow<'_, native::Settings> {
        let s = mcp_tasks::tools::default_settings();
        std::borrow::Cow::Owned(native::Settings {
            name: s.name,
            version: s.version,
            instructions: s.instructions,
            default_ttl: s.default_ttl,
            max_ttl: s.max_ttl,
            poll_interval: s.poll_interval,
            page_size: s.page_size,
            lease: s.lease,
            state_key: s.state_key,
            progress_interval: s.progress_interval,
            queue: s.queue,
            claim_limit: s.claim_limit,
        })
    }
    fn tools(&self) -> Vec<native::Tool> {
        Vec::new()
    }
    fn find_tool(&self, _: &str) -> Option<native::Tool> {
        None
    }
}

fn stored_task(store: &MemoryStore) -> String {
    let id = "2f1c6a57-5d0e-4a4e-9d51-4f1f7c1d2b11".to_string();
    let task = Task {
        status_message: Some("compiling".into()),
        ttl: Some(3_600_000),
        poll_interval: Some(1000),
        request:
            r#"{"method":"tools/call","params":{"name":"build","arguments":{"dir":"."},"task":{}}}"#
                .into(),
        ..fixtures::task(&id, "bench", 1_764_066_600_000)
    };
    ready(store.create(task)).unwrap();
    id
}

/// The `_meta` of a 2026-07-28 request: the version, and the tasks extension declared.
const MODERN_META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}"#;

fn router_call(runtime: &tokio::runtime::Runtime) {
    const CALLS: usize = 20_000;
    let store = Arc::new(MemoryStore::new());
    let id = stored_task(&store);
    let now = 1_764_066_601_000;
    let settings: Settings = mcp_tasks::tools::default_settings();
    let guest = Guest::new(
        &ComponentSource::embedded(),
        store.clone(),
        settings,
        Vec::new(),
    )
    .unwrap();
    let native_store = NativeStore(store.clone());

    println!("router.handle, one call, median of {ROUNDS} rounds of {CALLS}:");
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_string();
    let get =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{{"taskId":"{id}"}}}}"#);
    let modern_get = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{{"taskId":"{id}",{MODERN_META}}}}}"#
    );
    for (what, message) in [
        ("ping (no store access)", ping),
        ("tasks/get (one store read)", get),
        ("tasks/get, 2026-07-28", modern_get),
    ] {
        let ctx = || Context {
            owner: "bench".into(),
            now,
            session: String::new(),
            executor: "bench".into(),
            push: false,
            client: String::new(),
            transport: "bench".into(),
        };
        let component_round = || {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..CALLS {
                    let actions = guest
                        .call(Call::Handle(message.clone()), ctx())
                        .await
                        .unwrap();
                    assert!(matches!(&actions[..], [Action::Send(_)]));
                }
                start.elapsed().as_secs_f64() / CALLS as f64
            })
        };
        let native_ctx = native::Context {
            owner: "bench".into(),
            now,
            session: String::new(),
            executor: "bench".into(),
            push: false,
            client: String::new(),
            transport: "bench".into(),
        };
        let native_round = || {
            let start = Instant::now();
            for _ in 0..CALLS {
                let router =
                    mcp_tasks_guest::router::Router::new(&native_store, &NativeServer, &native_ctx);
                let actions = router.handle(&message);
                assert!(matches!(&actions[..], [native::Action::Send(_)]));
            }
            start.elapsed().as_secs_f64() / CALLS as f64
        };
        compare(what, component_round, native_round);
    }
}

/// Print the medians of [`ROUNDS`] rounds of each, interleaved, after one warm-up round each
/// (instantiation, faulting in pages). A round returns seconds per call.
fn compare(what: &str, mut component: impl FnMut() -> f64, mut native: impl FnMut() -> f64) {
    component();
    native();
    let (mut c, mut n) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        c.push(component());
        n.push(native());
    }
    let (c, n) = (median(c), median(n));
    println!(
        "  {what:28} native {:7.3} µs   component {:7.3} µs   ({:.2}× native)",
        n * 1e6,
        c * 1e6,
        c / n
    );
}

fn machine_call() {
    const CALLS: usize = 200_000;
    let mut machine = Machine::new(&ComponentSource::embedded_machine()).unwrap();
    let pairs = [
        (Status::Working, Status::Completed),
        (Status::Completed, Status::Working),
    ];
    let native_pairs = [
        (native::Status::Working, native::Status::Completed),
        (native::Status::Completed, native::Status::Working),
    ];
    let component_round = || {
        let start = Instant::now();
        for i in 0..CALLS {
            let (from, to) = pairs[i % 2];
            assert_eq!(machine.can_transition(from, to).unwrap(), i % 2 == 0);
        }
        start.elapsed().as_secs_f64() / CALLS as f64
    };
    let native_round = || {
        let start = Instant::now();
        for i in 0..CALLS {
            let (from, to) = std::hint::black_box(native_pairs[i % 2]);
            assert_eq!(
                mcp_tasks_guest::machine::can_transition(from, to),
                i % 2 == 0
            );
        }
        start.elapsed().as_secs_f64() / CALLS as f64
    };
    println!("machine.can-transition, one call, median of {ROUNDS} rounds of {CALLS}:");
    compare("state-machine component", component_round, native_round);
}

/// The binary serving `store`, with one command tool, `noop` (runs `true`).
fn start(store: &str, dir: &Path) -> StdioServer {
    let tools = dir.join("tools.toml");
    std::fs::write(
        &tools,
        "[[tools]]\nname = \"noop\"\ncommand = [\"true\"]\ntask_support = \"optional\"\n",
    )
    .unwrap();
    let mut command = Command::new(binary());
    command
        .args(["serve", "--owner", "bench", "--store", store, "--tools"])
        .arg(&tools);
    StdioServer::spawn(command)
}

fn over_stdio(label: &str, store: &str) {
    let dir = std::env::temp_dir().join(format!("mcp-tasks-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = start(store, &dir);
    // One task to read back.
    let created = s.call(
        r#"{"jsonrpc":"2.0","id":@ID@,"method":"tools/call","params":{"name":"noop","task":{}}}"#,
    );
    let id = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let get = format!(
        r#"{{"jsonrpc":"2.0","id":@ID@,"method":"tasks/get","params":{{"taskId":"{id}"}}}}"#
    );
    let create = r#"{"jsonrpc":"2.0","id":@ID@,"method":"tools/call","params":{"name":"noop","task":{"ttl":60000}}}"#;
    let ping = r#"{"jsonrpc":"2.0","id":@ID@,"method":"ping"}"#;
    // The same two in the 2026-07-28 era: the version and the extension in each request's _meta.
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}"#;
    let modern_get = format!(
        r#"{{"jsonrpc":"2.0","id":@ID@,"method":"tasks/get","params":{{"taskId":"{id}",{meta}}}}}"#
    );
    let modern_create = format!(
        r#"{{"jsonrpc":"2.0","id":@ID@,"method":"tools/call","params":{{"name":"noop",{meta}}}}}"#
    );

    println!(
        "over stdio, the real binary, {label} store (requests per second, median of {ROUNDS} rounds):"
    );
    for (what, request, n_pipe, n_serial) in [
        ("ping (baseline)", ping, 50_000, 5_000),
        ("tasks/get, 2025-11-25", get.as_str(), 50_000, 5_000),
        ("tasks/get, 2026-07-28", modern_get.as_str(), 50_000, 5_000),
        (
            "task creation, 2025-11-25 (each runs `true`)",
            create,
            2_000,
            1_000,
        ),
        (
            "task creation, 2026-07-28 (each runs `true`)",
            modern_create.as_str(),
            2_000,
            1_000,
        ),
    ] {
        s.rate(request, 200, true); // warm-up
        let pipelined = median((0..ROUNDS).map(|_| s.rate(request, n_pipe, true)).collect());
        let serial = median(
            (0..ROUNDS)
                .map(|_| s.rate(request, n_serial, false))
                .collect(),
        );
        // Let the tools of a creation round finish before the next measurement.
        std::thread::sleep(Duration::from_millis(500));
        println!("  {what:46} pipelined {pipelined:>9.0}/s   one-at-a-time {serial:>8.0}/s");
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Launch to the first answer (a ping) of the real binary, in ms: with no compile cache, with a
/// cold one (compiled, then stored) and with a warm one.
fn startup() {
    let launch = |args: &[&str]| {
        let start = Instant::now();
        let mut child = Command::new(binary())
            .arg("serve")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"method\":\"ping\"}\n")
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        assert!(line.contains("\"result\""), "{line}");
        drop(stdin);
        child.wait().unwrap();
        elapsed
    };
    let dir = std::env::temp_dir().join(format!("mcp-tasks-bench-cache-{}", std::process::id()));
    let cold = median(
        (0..ROUNDS)
            .map(|round| {
                let fresh = dir.join(format!("cold-{round}"));
                launch(&["--cache-dir", fresh.to_str().unwrap()])
            })
            .collect(),
    );
    let warm_dir = dir.join("warm");
    launch(&["--cache-dir", warm_dir.to_str().unwrap()]);
    let warm = median(
        (0..ROUNDS)
            .map(|_| launch(&["--cache-dir", warm_dir.to_str().unwrap()]))
            .collect(),
    );
    let uncached = median((0..ROUNDS).map(|_| launch(&["--no-cache"])).collect());
    let _ = std::fs::remove_dir_all(&dir);
    println!("launch to the first answer (ms, median of {ROUNDS}):");
    println!(
        "  no cache {uncached:7.1}   cold cache {cold:7.1}   warm cache {warm:7.1}   ({:.1}× faster warm)",
        uncached / warm
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once with no argument
    // worth acting on, so keep that run short.
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench -p mcp-tasks` to measure");
        return;
    }
    // MCP_TASKS_BENCH=startup measures only the launch.
    if std::env::var("MCP_TASKS_BENCH").as_deref() == Ok("startup") {
        startup();
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    router_call(&runtime);
    machine_call();
    // MCP_TASKS_BENCH=router skips the stdio part.
    if std::env::var("MCP_TASKS_BENCH").as_deref() == Ok("router") {
        return;
    }
    startup();
    over_stdio("memory", "memory");
    let dir = std::env::temp_dir().join(format!("mcp-tasks-bench-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    over_stdio(
        "file (SQLite)",
        &format!("file:{}", dir.join("tasks.db").display()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    // MCP_TASKS_BENCH_POSTGRES names the database; the tables go in a schema of the bench's own.
    if let Some(url) = fresh_postgres_schema("mcp_tasks_bench") {
        over_stdio("PostgreSQL", &url);
    }
}
