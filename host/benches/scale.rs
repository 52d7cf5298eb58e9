//! How the durable stores scale (`cargo bench -p mcp-tasks --bench scale`): the store calls
//! behind `tasks/get`, a `tasks/list` page, a task's creation and the periodic sweep (`expire`
//! and `abandoned` with nothing due), timed with 1,000, 10,000, 100,000 and 1,000,000 tasks
//! stored, on a SQLite file and on PostgreSQL; then a sweep that expires 100,000 tasks at once,
//! with `get`s timed on another connection meanwhile (does the sweep stall requests?).
//!
//! The component's own share of each request does not depend on how many tasks are stored
//! (see the `router` bench), so the store calls are timed directly, through [`TaskStore`].
//! `MCP_TASKS_BENCH_SCALE` caps the largest size (default 1000000);
//! `MCP_TASKS_BENCH_POSTGRES` names the database (the tables go in a schema of their own).

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_tasks::TaskStore;
use mcp_tasks::types::{Status, Task};

/// Tasks are spread over this many owners: a list page reads one owner's.
const OWNERS: u64 = 100;
/// Timed calls per operation and size.
const SAMPLES: usize = 300;
/// Creations in flight while filling.
const IN_FLIGHT: usize = 64;
/// The tasks one big sweep expires.
const EXPIRING: u64 = 100_000;
/// Creation time of the first task (ms since the epoch); "now" for the timed calls is later.
const BASE: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;
/// The ttl of the tasks that stay: long past every time the bench looks at.
const KEPT: u64 = 100 * HOUR;

fn task(n: u64, ttl: u64) -> Task {
    Task {
        status: if n.is_multiple_of(4) {
            Status::Working
        } else {
            Status::Completed
        },
        status_message: Some("The build finished.".into()),
        ttl: Some(ttl),
        poll_interval: Some(1000),
        request:
            r#"{"method":"tools/call","params":{"name":"build","arguments":{"dir":"."},"task":{}}}"#
                .into(),
        // Working tasks hold a lease that has not lapsed at "now".
        lease_until: n.is_multiple_of(4).then_some(BASE + 2 * HOUR),
        ..fixtures::task(
            &format!("task-{n:08}"),
            &format!("owner-{}", n % OWNERS),
            BASE + n,
        )
    }
}

/// Store tasks `from..to` with this ttl, `IN_FLIGHT` at a time.
async fn fill(store: &Arc<dyn TaskStore>, from: u64, to: u64, ttl: u64) {
    let mut set = tokio::task::JoinSet::new();
    for n in from..to {
        if set.len() >= IN_FLIGHT {
            set.join_next().await.unwrap().unwrap();
        }
        let store = store.clone();
        set.spawn(async move { store.create(task(n, ttl)).await.expect("create") });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
}

/// Median of `SAMPLES` timings of `call(i)`, in µs.
async fn median_us<F: std::future::Future<Output = ()>>(mut call: impl FnMut(usize) -> F) -> f64 {
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let started = Instant::now();
        call(i).await;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// A cheap random sequence (xorshift), so the timed `get`s read all over the table.
fn pick(i: usize, stored: u64) -> u64 {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x % stored
}

/// Refresh the planner's statistics after a fill, where the server's autovacuum would (the
/// PostgreSQL of these machines runs with `autovacuum = off`).
type Analyze = Option<tokio_postgres::Client>;

async fn curve(name: &str, store: Arc<dyn TaskStore>, sizes: &[u64], analyze: &Analyze) {
    println!("\n{name}: median µs per call");
    println!(
        "  tasks stored |      get | list page | next page |   create | expire (none due) | abandoned (none)"
    );
    let now = BASE + HOUR / 2;
    let mut stored = 0;
    let mut created = 10_000_000;
    for &size in sizes {
        let filling = Instant::now();
        fill(&store, stored, size, KEPT).await;
        let fill_rate = (size - stored) as f64 / filling.elapsed().as_secs_f64();
        stored = size;
        if let Some(client) = analyze {
            client.batch_execute("ANALYZE mcp_tasks").await.unwrap();
        }
        let get = median_us(|i| {
            let store = store.clone();
            async move {
                let id = format!("task-{:08}", pick(i, stored));
                assert!(store.get(&id).await.unwrap().is_some());
            }
        })
        .await;
        let page = median_us(|i| {
            let store = store.clone();
            async move {
                let owner = format!("owner-{}", i as u64 % OWNERS);
                store.list(&owner, None, None, 50).await.unwrap();
            }
        })
        .await;
        let mut cursors = Vec::new();
        for o in 0..OWNERS {
            let first = store
                .list(&format!("owner-{o}"), None, None, 50)
                .await
                .unwrap();
            cursors.push(first.next_cursor);
        }
        let next = median_us(|i| {
            let store = store.clone();
            let cursor = cursors[i % OWNERS as usize].clone();
            async move {
                let owner = format!("owner-{}", i as u64 % OWNERS);
                store
                    .list(&owner, None, cursor.as_deref(), 50)
                    .await
                    .unwrap();
            }
        })
        .await;
        let create = median_us(|_| {
            let store = store.clone();
            created += 1;
            let n = created;
            async move { store.create(task(n, KEPT)).await.unwrap() }
        })
        .await;
        let expire = median_us(|_| {
            let store = store.clone();
            async move { assert!(store.expire(now).await.unwrap().is_empty()) }
        })
        .await;
        let abandoned = median_us(|_| {
            let store = store.clone();
            async move { assert!(store.abandoned(now, 100).await.unwrap().is_empty()) }
        })
        .await;
        println!(
            "  {size:>12} | {get:>8.1} | {page:>9.1} | {next:>9.1} | {create:>8.1} | {expire:>17.1} | {abandoned:>16.1}   (filled at {fill_rate:.0}/s)"
        );
    }
    // One sweep that expires 100,000 tasks, `get`s timed meanwhile on other calls.
    fill(&store, 20_000_000, 20_000_000 + EXPIRING, 1).await;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut waits = Vec::new();
            let mut i = 0;
            while !*stopped.borrow_and_update() {
                let started = Instant::now();
                let id = format!("task-{:08}", pick(i, stored));
                store.get(&id).await.unwrap();
                waits.push(started.elapsed().as_secs_f64() * 1e3);
                i += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            waits
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sweeping = Instant::now();
    let expired = store
        .expire(BASE + 20_000_000 + EXPIRING + 1)
        .await
        .unwrap();
    let took = sweeping.elapsed();
    stop.send(true).unwrap();
    let mut waits = reader.await.unwrap();
    assert_eq!(expired.len() as u64, EXPIRING);
    waits.sort_by(f64::total_cmp);
    println!(
        "  expiring {EXPIRING} tasks at once took {:.0} ms; {} gets meanwhile: median {:.2} ms, slowest {:.1} ms",
        took.as_secs_f64() * 1e3,
        waits.len(),
        waits[waits.len() / 2],
        waits[waits.len() - 1],
    );
}

fn main() {
    let max: u64 = std::env::var("MCP_TASKS_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let sizes: Vec<u64> = [1_000, 10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&s| s <= max)
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("mcp-tasks-scale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = mcp_tasks::store::open(&format!("file:{}", dir.join("tasks.db").display()))
            .await
            .unwrap();
        curve("file (SQLite)", file, &sizes, &None).await;
        let _ = std::fs::remove_dir_all(&dir);

        let base = std::env::var("MCP_TASKS_BENCH_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let url = format!("{base}?options=-csearch_path%3Dmcp_tasks_scale");
        let fresh = async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client
                .batch_execute(
                    "DROP SCHEMA IF EXISTS mcp_tasks_scale CASCADE; CREATE SCHEMA mcp_tasks_scale",
                )
                .await
                .map(|()| client)
        };
        match fresh.await {
            Ok(client) => {
                let store = mcp_tasks::store::open(&url).await.unwrap();
                curve("PostgreSQL", store, &sizes, &Some(client)).await;
            }
            Err(e) => println!("PostgreSQL at {base} not reachable ({e}): skipped"),
        }
    });
}
