//! Prometheus metrics: what a host counts as it serves, and the text `/metrics` shows.
//!
//! Off until [`enable`] installs the process's recorder (the `metrics` crate's facade): until
//! then every count below is a no-op. The binary enables them for `serve --http` (unless
//! `--no-metrics`), `worker --metrics` and `admin --http`.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `mcp_tasks_requests_total` | `method`, `era`, `outcome` | requests answered (`ok` or `error`) |
//! | `mcp_tasks_request_duration_seconds` | `method`, `era` | histogram: from the request's arrival to its answer |
//! | `mcp_tasks_task_events_total` | `tool`, `event` | tasks `created`, `completed`, `failed`, `cancelled`, `retried` (by the router or an operator) |
//! | `mcp_tasks_runs_in_flight` | | tool runs going in this process |
//! | `mcp_tasks_queue_waiting`, `mcp_tasks_queue_running` | `tool` | live tasks waiting for a host, and running (read from the store at each scrape) |
//! | `mcp_tasks_queue_oldest_waiting_seconds` | `tool` | how long the task that has waited longest has waited |
//! | `mcp_tasks_store_call_duration_seconds` | `op` | histogram of store calls |
//! | `mcp_tasks_store_errors_total` | `op` | store calls that failed (`unavailable`) |
//! | `mcp_tasks_component_traps_total` | | calls into the component that trapped |

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use ::metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::admin;
use crate::store::TaskStore;
use crate::types::{Era, HistoryEvent, Outgoing, Status, Task};
use crate::util::lock;

/// Histogram buckets (seconds): from half a millisecond to a minute.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// How often histograms' samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The tools whose queue gauges the last scrape set.
static QUEUES_SHOWN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Why metrics could not be turned on.
#[derive(Debug, thiserror::Error)]
#[error("cannot turn metrics on: {0}")]
pub struct MetricsError(String);

/// Turn metrics on for this process (once; later calls return the same handle).
pub fn enable() -> Result<PrometheusHandle, MetricsError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| MetricsError(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    ::metrics::set_global_recorder(recorder).map_err(|e| MetricsError(e.to_string()))?;
    // A histogram keeps each sample until upkeep folds them into its buckets: without it,
    // memory grows with every request between two scrapes (or forever, with no scraper).
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| MetricsError(e.to_string()))?;
    let _ = HANDLE.set(handle.clone());
    Ok(HANDLE.get().cloned().unwrap_or(handle))
}

/// Whether [`enable`] was called.
pub fn enabled() -> bool {
    HANDLE.get().is_some()
}

/// The Prometheus text of every metric, with the queues read from `store` now.
pub async fn render(store: &dyn TaskStore) -> Result<String, MetricsError> {
    let handle = HANDLE
        .get()
        .ok_or_else(|| MetricsError("metrics are off".into()))?;
    let queues = admin::queues(store, crate::util::now_ms())
        .await
        .map_err(|e| MetricsError(e.to_string()))?;
    // A tool whose queue emptied since the last scrape shows 0, not its last depth.
    let mut shown = lock(&QUEUES_SHOWN);
    let now_shown: BTreeSet<String> = queues.iter().map(|q| q.tool.clone()).collect();
    let emptied = shown
        .difference(&now_shown)
        .cloned()
        .map(|tool| admin::Queue {
            tool,
            ..admin::Queue::default()
        });
    for queue in queues.iter().cloned().chain(emptied.collect::<Vec<_>>()) {
        let tool = queue.tool;
        gauge!("mcp_tasks_queue_waiting", "tool" => tool.clone()).set(queue.waiting as f64);
        gauge!("mcp_tasks_queue_running", "tool" => tool.clone()).set(queue.running as f64);
        gauge!("mcp_tasks_queue_oldest_waiting_seconds", "tool" => tool)
            .set(queue.oldest_waiting_ms.unwrap_or(0) as f64 / 1000.0);
    }
    *shown = now_shown;
    drop(shown);
    Ok(handle.render())
}

/// A response went out: count it under its request's method, era and outcome, and time it
/// from `since` (when the request arrived), if known.
pub(crate) fn response(message: &Outgoing, since: Option<Instant>) {
    let Some(method) = &message.method else {
        return;
    };
    let era = match message.era {
        Some(Era::Modern) => "2026-07-28",
        _ => "2025-11-25",
    };
    let handles = request_handles(method, era);
    let outcome = if message.is_error {
        &handles.error
    } else {
        &handles.ok
    };
    outcome.increment(1);
    if let Some(since) = since {
        handles.duration.record(since.elapsed().as_secs_f64());
    }
}

/// The handles of one method and era's request metrics.
struct RequestHandles {
    ok: Counter,
    error: Counter,
    duration: Histogram,
}

thread_local! {
    /// The request metrics' handles, kept per thread by era and method: a handle points at its
    /// atomics, while the `counter!` macro builds and hashes its key on every call; and a
    /// thread's own map is read with no lock or reference count that the other threads touch.
    /// Looked up by `&str`, so a request allocates nothing for its metrics.
    static REQUESTS: RefCell<BTreeMap<&'static str, BTreeMap<String, Rc<RequestHandles>>>> =
        const { RefCell::new(BTreeMap::new()) };
    /// The store calls' histograms, by operation, likewise.
    static STORE_CALLS: RefCell<BTreeMap<&'static str, Histogram>> =
        const { RefCell::new(BTreeMap::new()) };
}

fn request_handles(method: &str, era: &'static str) -> Rc<RequestHandles> {
    REQUESTS.with_borrow_mut(|kept| {
        let methods = kept.entry(era).or_default();
        if let Some(handles) = methods.get(method) {
            return handles.clone();
        }
        let labels = |outcome: &'static str| {
            [
                ("method", method.to_string()),
                ("era", era.to_string()),
                ("outcome", outcome.to_string()),
            ]
        };
        let handles = Rc::new(RequestHandles {
            ok: counter!("mcp_tasks_requests_total", &labels("ok")),
            error: counter!("mcp_tasks_requests_total", &labels("error")),
            duration: histogram!(
                "mcp_tasks_request_duration_seconds",
                "method" => method.to_string(),
                "era" => era
            ),
        });
        methods.insert(method.to_string(), handles.clone());
        handles
    })
}

/// A task event of `tool` (`created`, `completed`, `failed`, `cancelled`, `retried`).
fn task_event(tool: String, event: &'static str) {
    counter!("mcp_tasks_task_events_total", "tool" => tool, "event" => event).increment(1);
}

/// A store call `op` took from `since`, and failed if `failed`.
pub(crate) fn store_call(op: &'static str, since: Instant, failed: bool) {
    let elapsed = since.elapsed().as_secs_f64();
    STORE_CALLS.with_borrow_mut(|kept| {
        kept.entry(op)
            .or_insert_with(|| histogram!("mcp_tasks_store_call_duration_seconds", "op" => op))
            .record(elapsed);
    });
    if failed {
        counter!("mcp_tasks_store_errors_total", "op" => op).increment(1);
    }
}

/// A call into the component trapped.
pub(crate) fn trap() {
    counter!("mcp_tasks_component_traps_total").increment(1);
}

/// A tool run going in this process, counted in `mcp_tasks_runs_in_flight` until dropped.
pub(crate) struct InFlight(());

impl InFlight {
    pub(crate) fn start() -> Self {
        gauge!("mcp_tasks_runs_in_flight").increment(1.0);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!("mcp_tasks_runs_in_flight").decrement(1.0);
    }
}

/// The answer to `GET /metrics`: the Prometheus text of [`render`], or 503 saying why not.
pub(crate) async fn answer(store: &dyn TaskStore) -> axum::response::Response {
    use axum::response::IntoResponse;
    match render(store).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// Serve `GET /metrics` alone on `listener` until `stop` completes (a worker's `--metrics`,
/// which serves no MCP). Anyone who reaches the address may read it: bind it where only the
/// scraper does.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<dyn TaskStore>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || async move { answer(store.as_ref()).await }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

/// A task write's place in the lifecycle counts: read off the task before the write, counted
/// once the store took it.
pub(crate) struct Written {
    tool: String,
    events: &'static [&'static str],
}

/// Count `written` if the store took the write (`result`).
pub(crate) fn count_written(
    written: Option<Written>,
    result: &Result<(), crate::types::StoreError>,
) {
    if let (Some(written), Ok(())) = (written, result) {
        for event in written.events {
            task_event(written.tool.clone(), event);
        }
    }
}

/// A new task: `created` (and `retried`, for an operator's retry, which names the task it
/// re-runs); `None` when metrics are off.
pub(crate) fn created(task: &Task) -> Option<Written> {
    if !enabled() {
        return None;
    }
    let retry = task
        .variables
        .as_deref()
        .is_some_and(|v| v.contains("\"retryOf\""));
    Some(Written {
        tool: admin::tool_of(task).unwrap_or_default(),
        events: if retry {
            &["created", "retried"]
        } else {
            &["created"]
        },
    })
}

/// A changed task: a move to a terminal status, or the start of a later attempt, read off the
/// history entry the change wrote (at the task's `last-updated-at`; a bookkeeping write, a lease
/// renewed, adds none); `None` for any other change, or when metrics are off.
pub(crate) fn updated(task: &Task) -> Option<Written> {
    if !enabled() {
        return None;
    }
    let last = task.history.last()?;
    if last.at != task.last_updated_at {
        return None;
    }
    let event: &'static [&'static str] = match (last.event, task.status) {
        (HistoryEvent::Status, Status::Completed) => &["completed"],
        (HistoryEvent::Status, Status::Failed) => &["failed"],
        (HistoryEvent::Status, Status::Cancelled) => &["cancelled"],
        (HistoryEvent::AttemptStarted, _) if last.attempt > 1 => &["retried"],
        _ => return None,
    };
    Some(Written {
        tool: admin::tool_of(task).unwrap_or_default(),
        events: event,
    })
}
