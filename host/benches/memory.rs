//! Memory per task in the memory store (`cargo bench -p mcp-tasks --bench memory`): not a test,
//! and nothing here asserts a size.
//!
//! A counting allocator measures the heap that 100,000 stored tasks hold, for a task as the
//! router stores a 2025-11-25 `tools/call` that is working, and the same task completed with a
//! small result. Beside it, the bytes of each task's own strings, to show the store's overhead.

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::{Context, Poll, Waker};

use mcp_tasks::types::{Outcome, Status, Task};
use mcp_tasks::{MemoryStore, TaskStore};

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TASKS: usize = 100_000;

/// The memory store's futures never wait: poll once.
fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("MemoryStore never waits"),
    }
}

/// Task `n` as the router stores a working 2025-11-25 `tools/call` task; completed, with a
/// `CallToolResult` of one short text, if `done`.
fn task(n: usize, done: bool) -> Task {
    let now = 1_764_066_600_000 + n as u64;
    Task {
        status: if done { Status::Completed } else { Status::Working },
        status_message: (!done).then(|| "3 to go".into()),
        ttl: Some(3_600_000),
        poll_interval: Some(1000),
        version: if done { 3 } else { 1 },
        request: r#"{"method":"tools/call","params":{"name":"countdown","arguments":{"n":"3"},"task":{"ttl":3600000},"_meta":{"progressToken":"countdown-1"}}}"#.into(),
        outcome: done.then(|| {
            Outcome::Success(r#"{"content":[{"type":"text","text":"liftoff\n"}]}"#.into())
        }),
        executor: (!done).then(|| "build-host-1/4f1f7c1d".into()),
        lease_until: (!done).then_some(now + 15_000),
        ..fixtures::task(&format!("2f1c6a57-5d0e-4a4e-9d51-{n:012x}"), "alice", now)
    }
}

/// The bytes of a task's own strings.
fn payload(t: &Task) -> usize {
    let outcome = match &t.outcome {
        Some(Outcome::Success(text)) => text.len(),
        Some(Outcome::Error(e)) => e.message.len(),
        None => 0,
    };
    t.id.len()
        + t.owner.len()
        + t.status_message.as_ref().map_or(0, String::len)
        + t.request.len()
        + t.executor.as_ref().map_or(0, String::len)
        + outcome
}

fn measure(what: &str, done: bool) {
    let store = MemoryStore::new();
    let before = LIVE.load(Ordering::Relaxed);
    for n in 0..TASKS {
        ready(store.create(task(n, done))).expect("created");
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    let per_task = held as f64 / TASKS as f64;
    let own = payload(&task(0, done));
    println!(
        "{what:<38} {per_task:>7.0} B/task  ({own} B of its own strings; {:.0} MiB for {TASKS})",
        held as f64 / (1024.0 * 1024.0)
    );
    drop(store);
}

fn main() {
    println!("memory store, {TASKS} tasks of one owner:");
    measure("working 2025-11-25 tools/call task", false);
    measure("completed, with a short text result", true);
}
