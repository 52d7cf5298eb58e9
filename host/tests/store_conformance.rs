//! One conformance suite, run against every store backend: memory, file (SQLite) and
//! PostgreSQL (the server on 127.0.0.1:5432, database `test`; override with
//! `MCP_TASKS_TEST_POSTGRES`). Each PostgreSQL test works in a schema of its own.
//!
//! The cases of `conformance/store.json` (the contract as data, which stores in other
//! languages run too) come first; then the cases that need Rust: the same checks written out,
//! and a race of 8 workers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

mod fixtures;

use mcp_tasks::store::{
    MemoryStore, PostgresStore, Relayed, SessionRecord, SqliteStore, TaskStore,
};
use mcp_tasks::types::{Era, InputRequest, InputState, Outcome, Status, StoreError, Task};

fn task(id: &str, owner: &str, created_at: u64) -> Task {
    Task {
        poll_interval: Some(1000),
        request: r#"{"method":"tools/call","params":{"name":"t"}}"#.into(),
        executor: Some("host".into()),
        ..fixtures::task(id, owner, created_at)
    }
}

fn ids(tasks: &[Task]) -> Vec<&str> {
    tasks.iter().map(|t| t.id.as_str()).collect()
}

/// A backend, fresh and empty, and what to do to clean it up.
trait Backend {
    async fn open() -> Arc<dyn TaskStore>;
}

struct Memory;
impl Backend for Memory {
    async fn open() -> Arc<dyn TaskStore> {
        Arc::new(MemoryStore::new())
    }
}

struct File;
impl Backend for File {
    async fn open() -> Arc<dyn TaskStore> {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mcp-tasks-conformance-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tasks.db");
        Arc::new(
            tokio::task::spawn_blocking(move || SqliteStore::open(path).unwrap())
                .await
                .unwrap(),
        )
    }
}

struct Postgres;
impl Backend for Postgres {
    async fn open() -> Arc<dyn TaskStore> {
        static N: AtomicU64 = AtomicU64::new(0);
        let base = std::env::var("MCP_TASKS_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!(
            "conformance_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is needed for these tests: {e}"));
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        Arc::new(PostgresStore::open(&url).await.unwrap())
    }
}

async fn create_get_and_no_overwrite(store: Arc<dyn TaskStore>) {
    let t = task("a", "alice", 10);
    store.create(t.clone()).await.unwrap();
    assert_eq!(store.get("a").await.unwrap(), Some(t.clone()));
    let mut other = t.clone();
    other.owner = "mallory".into();
    assert_eq!(store.create(other).await, Err(StoreError::AlreadyExists));
    assert_eq!(store.get("a").await.unwrap(), Some(t));
    assert_eq!(store.get("nope").await.unwrap(), None);
}

async fn update_is_compare_and_swap(store: Arc<dyn TaskStore>) {
    let t = task("a", "alice", 10);
    store.create(t.clone()).await.unwrap();
    let mut done = t.clone();
    done.status = Status::Completed;
    done.version = 2;
    done.outcome = Some(Outcome::Success(r#"{"content":[]}"#.into()));
    store.update(done.clone(), 1).await.unwrap();
    assert_eq!(store.get("a").await.unwrap(), Some(done.clone()));
    // A writer that read version 1 loses, and changes nothing.
    let mut stale = t.clone();
    stale.status = Status::Cancelled;
    stale.version = 2;
    assert_eq!(store.update(stale, 1).await, Err(StoreError::Conflict(2)));
    assert_eq!(store.get("a").await.unwrap(), Some(done));
    assert_eq!(
        store.update(task("nope", "alice", 1), 1).await,
        Err(StoreError::NotFound)
    );
}

async fn list_pages_in_creation_order(store: Arc<dyn TaskStore>) {
    // Two tasks share a creation time: the id breaks the tie.
    for (id, at) in [("e", 50), ("b", 20), ("d", 30), ("c", 30), ("a", 10)] {
        store.create(task(id, "alice", at)).await.unwrap();
    }
    store.create(task("z", "bob", 15)).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list("alice", None, cursor.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.tasks.len() <= 2);
        seen.extend(ids(&page.tasks).into_iter().map(String::from));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    // An exact last page has no cursor.
    let all = store.list("alice", None, None, 5).await.unwrap();
    assert_eq!(all.next_cursor, None);
    assert_eq!(all.tasks.len(), 5);
    // The status filter.
    let mut d = store.get("d").await.unwrap().unwrap();
    d.status = Status::Failed;
    d.version = 2;
    store.update(d, 1).await.unwrap();
    let failed = store
        .list("alice", Some(Status::Failed), None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&failed.tasks), ["d"]);
    assert_eq!(
        store.list("alice", None, Some("not a cursor"), 2).await,
        Err(StoreError::InvalidCursor)
    );
    assert!(
        store
            .list("carol", None, None, 10)
            .await
            .unwrap()
            .tasks
            .is_empty()
    );
}

async fn delete_removes(store: Arc<dyn TaskStore>) {
    store.create(task("a", "alice", 10)).await.unwrap();
    store.delete("a").await.unwrap();
    assert_eq!(store.get("a").await.unwrap(), None);
    assert_eq!(store.delete("a").await, Err(StoreError::NotFound));
}

async fn expire_deletes_exactly_the_expired(store: Arc<dyn TaskStore>) {
    let mut due = task("due", "alice", 1_000);
    due.ttl = Some(500);
    let mut later = task("later", "alice", 1_000);
    later.ttl = Some(501);
    let forever = task("forever", "alice", 0);
    for t in [due, later, forever] {
        store.create(t).await.unwrap();
    }
    assert_eq!(store.expire(1_500).await.unwrap(), ["due"]);
    assert_eq!(store.get("due").await.unwrap(), None);
    assert!(store.get("later").await.unwrap().is_some());
    assert!(store.expire(1_500).await.unwrap().is_empty());
    assert_eq!(store.expire(u64::MAX / 2).await.unwrap(), ["later"]);
    assert!(store.get("forever").await.unwrap().is_some());
    // Many at once (a store may delete them in batches): every one, once, and nothing else.
    for n in 0..1_100 {
        let mut t = task(&format!("many-{n:04}"), "bob", 2_000 + n);
        t.ttl = Some(if n % 11 == 0 { 1_000_000 } else { 10 });
        store.create(t).await.unwrap();
    }
    let mut gone = store.expire(10_000).await.unwrap();
    gone.sort();
    let want: Vec<String> = (0..1_100)
        .filter(|n| n % 11 != 0)
        .map(|n| format!("many-{n:04}"))
        .collect();
    assert_eq!(gone, want);
    assert_eq!(
        store
            .list("bob", None, None, 500)
            .await
            .unwrap()
            .tasks
            .len(),
        100
    );
}

async fn abandoned_finds_lapsed_leases_of_unfinished_tasks(store: Arc<dyn TaskStore>) {
    let mut lapsed = task("lapsed", "alice", 1);
    lapsed.lease_until = Some(100);
    let mut waiting = task("waiting", "bob", 1);
    waiting.status = Status::InputRequired;
    waiting.lease_until = Some(100);
    let mut held = task("held", "alice", 1);
    held.lease_until = Some(101);
    let mut done = task("done", "alice", 1);
    done.status = Status::Completed;
    done.lease_until = Some(1);
    let unleased = task("unleased", "alice", 1);
    for t in [lapsed, waiting, held, done, unleased] {
        store.create(t).await.unwrap();
    }
    let mut found = store.abandoned(100, 10).await.unwrap();
    found.sort();
    assert_eq!(found, ["lapsed", "waiting"]);
    assert_eq!(store.abandoned(100, 1).await.unwrap().len(), 1);
}

/// 600 reads at once, of stored tasks, of missing ones and of the same task many times (a store
/// may gather concurrent reads into one round trip): each gets its own answer.
async fn concurrent_reads_each_get_their_own_task(store: Arc<dyn TaskStore>) {
    for i in 0..100 {
        store
            .create(task(&format!("r{i:03}"), "alice", i))
            .await
            .unwrap();
    }
    let mut readers = tokio::task::JoinSet::new();
    for n in 0..600u64 {
        let store = store.clone();
        readers.spawn(async move {
            // 0..100 stored, 100..200 missing; every task is read three times.
            let id = format!("r{:03}", n % 200);
            (n % 200, store.get(&id).await.unwrap())
        });
    }
    while let Some(read) = readers.join_next().await {
        let (i, got) = read.unwrap();
        match got {
            Some(t) => {
                assert!(i < 100, "r{i:03} was never stored, yet read as {t:?}");
                assert_eq!((t.id, t.created_at), (format!("r{i:03}"), i));
            }
            None => assert!(i >= 100, "r{i:03} was stored, yet read as missing"),
        }
    }
}

/// 8 workers cancel and complete the same 1,000 tasks, each through get and compare-and-swap
/// as the router does: every task ends in exactly one terminal status, written exactly once.
async fn racing_cancel_and_complete_never_overwrite(store: Arc<dyn TaskStore>) {
    const TASKS: usize = 1_000;
    const WORKERS: usize = 8;
    for i in 0..TASKS {
        store
            .create(task(&format!("t{i:04}"), "alice", i as u64))
            .await
            .unwrap();
    }
    let wins: Arc<Vec<Mutex<Vec<Status>>>> =
        Arc::new((0..TASKS).map(|_| Mutex::new(Vec::new())).collect());
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let store = store.clone();
        let wins = wins.clone();
        workers.push(tokio::spawn(async move {
            for n in 0..TASKS {
                // Each worker walks the tasks from a different place, so they collide often.
                let i = (n + w * TASKS / WORKERS) % TASKS;
                let id = format!("t{i:04}");
                let target = if (i + w).is_multiple_of(2) {
                    Status::Cancelled
                } else {
                    Status::Completed
                };
                loop {
                    let current = store.get(&id).await.unwrap().unwrap();
                    if current.status != Status::Working {
                        break; // Terminal: it never moves again.
                    }
                    let mut next = current.clone();
                    next.status = target;
                    next.version += 1;
                    match store.update(next, current.version).await {
                        Ok(()) => {
                            wins[i].lock().unwrap().push(target);
                            break;
                        }
                        Err(StoreError::Conflict(_)) => continue,
                        Err(e) => panic!("worker {w}, {id}: {e:?}"),
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    for i in 0..TASKS {
        let id = format!("t{i:04}");
        let won = wins[i].lock().unwrap().clone();
        assert_eq!(
            won.len(),
            1,
            "{id} was written terminal {} times",
            won.len()
        );
        let stored = store.get(&id).await.unwrap().unwrap();
        assert_eq!(stored.status, won[0], "{id} was overwritten");
        assert_eq!(stored.version, 2, "{id}");
    }
}

/// Run every case of `conformance/store.json`, each against a fresh store from `open`.
async fn json_cases<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn TaskStore>>,
{
    use serde_json::Value;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/store.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let defaults = &fixture["defaults"];
    let u64_of = |v: &Value| v.as_u64();
    let make_task = |partial: &Value| {
        let field = |name: &str| partial.get(name).unwrap_or(&defaults[name]).clone();
        let status = match field("status").as_str().unwrap() {
            "working" => Status::Working,
            "input-required" => Status::InputRequired,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            other => panic!("unknown status {other}"),
        };
        Task {
            id: field("id").as_str().unwrap().into(),
            owner: field("owner").as_str().unwrap().into(),
            status,
            status_message: field("status-message").as_str().map(String::from),
            created_at: field("created-at").as_u64().unwrap(),
            last_updated_at: field("created-at").as_u64().unwrap(),
            ttl: u64_of(&field("ttl")),
            poll_interval: u64_of(&field("poll-interval")),
            version: field("version").as_u64().unwrap(),
            request: field("request").as_str().unwrap().into(),
            outcome: None,
            input_requests: field("input-requests")
                .as_array()
                .unwrap()
                .iter()
                .map(|q| InputRequest {
                    key: q["key"].as_str().unwrap().into(),
                    method: q["method"].as_str().unwrap().into(),
                    params: q["params"].as_str().unwrap().into(),
                    state: match q["state"].as_str().unwrap() {
                        "open" => InputState::Open,
                        "sent" => InputState::Sent,
                        "answered" => InputState::Answered,
                        "done" => InputState::Done,
                        other => panic!("unknown input state {other}"),
                    },
                    response: q["response"].as_str().map(String::from),
                })
                .collect(),
            era: match field("era").as_str().unwrap() {
                "legacy" => Era::Legacy,
                "modern" => Era::Modern,
                other => panic!("unknown era {other}"),
            },
            executor: field("executor").as_str().map(String::from),
            lease_until: u64_of(&field("lease-until")),
            attempt: field("attempt")
                .as_u64()
                .and_then(|a| u32::try_from(a).ok())
                .unwrap_or(1),
            variables: field("variables").as_str().map(String::from),
            // Opaque to the store like `variables`; the body codec's round trip is tested in
            // host/src/store/row.rs.
            history: Vec::new(),
        }
    };
    let error_tag = |e: &StoreError| match e {
        StoreError::NotFound => "not-found",
        StoreError::AlreadyExists => "already-exists",
        StoreError::Conflict(_) => "conflict",
        StoreError::InvalidCursor => "invalid-cursor",
        StoreError::Unavailable(_) => "unavailable",
    };
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let store = open().await;
        let mut next: Option<String> = None;
        for (n, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let at = format!("{name}, step {n}: {step}");
            let expect = &step["expect"];
            // Every operation's outcome as (error, ids, more, task).
            let outcome: Result<Value, StoreError> = match step["op"].as_str().unwrap() {
                "create" => store
                    .create(make_task(&step["task"]))
                    .await
                    .map(|()| Value::Null),
                "update" => {
                    let expected = step["expected-version"].as_u64().unwrap();
                    store
                        .update(make_task(&step["task"]), expected)
                        .await
                        .map(|()| Value::Null)
                }
                "delete" => store
                    .delete(step["id"].as_str().unwrap())
                    .await
                    .map(|()| Value::Null),
                "get" => store
                    .get(step["id"].as_str().unwrap())
                    .await
                    .map(|t| match t {
                        None => serde_json::json!({ "task": null }),
                        Some(t) => serde_json::json!({ "task": {
                        "id": t.id, "owner": t.owner, "version": t.version,
                        "variables": t.variables,
                        "era": match t.era { Era::Legacy => "legacy", Era::Modern => "modern" },
                        "input-requests": t.input_requests.iter().map(|q| serde_json::json!({
                            "key": q.key,
                            "state": match q.state {
                                InputState::Open => "open",
                                InputState::Sent => "sent",
                                InputState::Answered => "answered",
                                InputState::Done => "done",
                            },
                        })).collect::<Vec<_>>(),
                        "status": match t.status {
                            Status::Working => "working",
                            Status::InputRequired => "input-required",
                            Status::Completed => "completed",
                            Status::Failed => "failed",
                            Status::Cancelled => "cancelled",
                        },
                    } }),
                    }),
                "list" => {
                    let status = step["status"].as_str().map(|s| match s {
                        "failed" => Status::Failed,
                        "working" => Status::Working,
                        other => panic!("{at}: status {other} not used by the cases"),
                    });
                    let cursor = match step["cursor"].as_str() {
                        Some("$next") => Some(next.clone().expect("a previous list gave a cursor")),
                        other => other.map(String::from),
                    };
                    let limit = step["limit"].as_u64().unwrap() as u32;
                    store
                        .list(
                            step["owner"].as_str().unwrap(),
                            status,
                            cursor.as_deref(),
                            limit,
                        )
                        .await
                        .map(|page| {
                            next = page.next_cursor.clone();
                            serde_json::json!({
                                "ids": ids(&page.tasks),
                                "more": page.next_cursor.is_some(),
                            })
                        })
                }
                "expire" => store
                    .expire(step["now"].as_u64().unwrap())
                    .await
                    .map(|mut ids| {
                        ids.sort();
                        serde_json::json!({ "ids": ids })
                    }),
                "abandoned" => store
                    .abandoned(
                        step["now"].as_u64().unwrap(),
                        step["limit"].as_u64().unwrap() as u32,
                    )
                    .await
                    .map(|mut ids| {
                        ids.sort();
                        serde_json::json!({ "ids": ids })
                    }),
                other => panic!("{at}: unknown op {other}"),
            };
            match (outcome, expect) {
                (Ok(_), Value::String(ok)) => assert_eq!(ok, "ok", "{at}"),
                (Err(e), _) if expect.get("error").is_some() => {
                    assert_eq!(error_tag(&e), expect["error"], "{at}");
                    if let (StoreError::Conflict(v), Some(want)) = (&e, expect.get("version")) {
                        assert_eq!(Some(*v), want.as_u64(), "{at}");
                    }
                }
                (Err(e), _) => panic!("{at}: failed with {e:?}"),
                (Ok(got), _) if expect.get("error").is_some() => {
                    panic!("{at}: succeeded with {got}")
                }
                (Ok(got), Value::Object(want)) => {
                    for (key, value) in want {
                        match (key.as_str(), value) {
                            ("task", Value::Object(fields)) => {
                                for (field, value) in fields {
                                    assert_eq!(&got["task"][field], value, "{at}: got {got}");
                                }
                            }
                            ("ids", Value::Array(_)) if step["op"] != "list" => {
                                let mut want: Vec<&str> = value
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|v| v.as_str().unwrap())
                                    .collect();
                                want.sort();
                                assert_eq!(got["ids"], serde_json::json!(want), "{at}");
                            }
                            _ => assert_eq!(&got[key], value, "{at}: got {got}"),
                        }
                    }
                }
                (Ok(got), _) => panic!("{at}: cannot read the expectation (got {got})"),
            }
        }
    }
}

/// Sessions: kept whole, found by ID whoever asks, touched, deleted, forgotten when idle.
async fn sessions_are_kept_touched_and_forgotten(store: Arc<dyn TaskStore>) {
    let sessions = store.sessions().expect("this store keeps sessions");
    let record = |id: &str, seen_at| SessionRecord {
        id: id.into(),
        owner: "alice".into(),
        state: r#"{"protocolVersion":"2025-11-25"}"#.into(),
        seen_at,
    };
    assert_eq!(sessions.load("s1").await.unwrap(), None);
    sessions.save(&record("s1", 1_000)).await.unwrap();
    sessions.save(&record("s2", 5_000)).await.unwrap();
    assert_eq!(
        sessions.load("s1").await.unwrap(),
        Some(record("s1", 1_000))
    );
    // Saved again: replaced whole (a logging level set).
    let mut leveled = record("s1", 2_000);
    leveled.state = r#"{"protocolVersion":"2025-11-25","logLevel":"info"}"#.into();
    sessions.save(&leveled).await.unwrap();
    assert_eq!(sessions.load("s1").await.unwrap(), Some(leveled.clone()));
    sessions.touch("s1", 3_000).await.unwrap();
    assert_eq!(sessions.load("s1").await.unwrap().unwrap().seen_at, 3_000);
    // Touching or deleting a session that is not there does nothing.
    sessions.touch("nope", 3_000).await.unwrap();
    sessions.delete("nope").await.unwrap();
    // Idle: seen before the bound (s1 at 3000), not at or after it (s2 at 5000).
    assert_eq!(sessions.forget_idle(5_000).await.unwrap(), 1);
    assert_eq!(sessions.load("s1").await.unwrap(), None);
    assert!(sessions.load("s2").await.unwrap().is_some());
    sessions.delete("s2").await.unwrap();
    assert_eq!(sessions.load("s2").await.unwrap(), None);
}

/// Two hosts on one PostgreSQL database: a message one relays reaches the other's feed (and
/// its own), whatever schema each works in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relays_messages_between_hosts() {
    let (one, two) = (Postgres::open().await, Postgres::open().await);
    let mut heard_by_two = two.sessions().unwrap().listen().await.unwrap().unwrap();
    let mut heard_by_one = one.sessions().unwrap().listen().await.unwrap().unwrap();
    let message = Relayed {
        session: format!("s-{}", std::process::id()),
        request: false,
        message: r#"{"jsonrpc":"2.0","method":"notifications/tasks/status"}"#.into(),
    };
    one.sessions().unwrap().relay(&message).await.unwrap();
    // The channel is the database's: other tests' messages may pass by.
    for feed in [&mut heard_by_two, &mut heard_by_one] {
        let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                let got = feed.recv().await.expect("the feed stays open");
                if got.session == message.session {
                    return got;
                }
            }
        })
        .await
        .expect("the relayed message arrives");
        assert_eq!(heard, message);
    }
    // Memory and file stores carry nothing between hosts.
    for store in [Memory::open().await, File::open().await] {
        let feed = store.sessions().unwrap().listen().await.unwrap();
        assert!(feed.is_none());
    }
}

macro_rules! conformance {
    ($($backend:ident => $module:ident),* $(,)?) => {$(
        mod $module {
            use super::*;
            conformance!(@tests $backend:
                create_get_and_no_overwrite,
                update_is_compare_and_swap,
                list_pages_in_creation_order,
                delete_removes,
                expire_deletes_exactly_the_expired,
                abandoned_finds_lapsed_leases_of_unfinished_tasks,
                racing_cancel_and_complete_never_overwrite,
                concurrent_reads_each_get_their_own_task,
                sessions_are_kept_touched_and_forgotten,
            );
        }
    )*};
    (@tests $backend:ident: $($test:ident),* $(,)?) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn json_cases() {
            super::json_cases($backend::open).await;
        }
        $(
        #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
        async fn $test() {
            super::$test($backend::open().await).await;
        }
    )*};
}

conformance! {
    Memory => memory,
    File => file,
    Postgres => postgres,
}

/// Servers started together on one new file all open it: switching a new file to WAL and
/// creating its schema can meet SQLite's deadlock-avoiding "busy" (which skips the busy
/// timeout), and that must not fail the start of a server.
#[test]
fn a_new_file_opened_by_many_at_once() {
    const OPENERS: usize = 6;
    for round in 0..20 {
        let dir = std::env::temp_dir().join(format!(
            "mcp-tasks-open-race-{}-{round}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tasks.db");
        let start = Arc::new(std::sync::Barrier::new(OPENERS));
        let openers: Vec<_> = (0..OPENERS)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    SqliteStore::open(&path).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            if let Err(e) = opener.join().unwrap() {
                panic!("round {round}: {e}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
