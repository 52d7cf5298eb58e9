//! What the dashboard's header shows: counts by status and by tool, the queues, and the last
//! hour's throughput and latency in twelve five-minute buckets.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{AdminFailure, Filter, Queue, all, tool_of, view};
use crate::store::TaskStore;
use crate::types::{Status, Task};

/// How long one bucket of the charts is (ms): five minutes.
const BUCKET_MS: u64 = 5 * 60 * 1000;
/// How many buckets: an hour.
const BUCKETS: u64 = 12;

/// Every task of a store, summed up.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Tasks by status.
    pub by_status: BTreeMap<&'static str, usize>,
    /// Tasks by tool, then by status.
    pub by_tool: BTreeMap<String, BTreeMap<&'static str, usize>>,
    /// The queues (see [`super::queues`]).
    pub queues: Vec<Queue>,
    /// The last hour, oldest bucket first.
    pub hour: Vec<Bucket>,
    /// Changes whenever any task changes: the dashboard reloads what it shows when it does.
    pub fingerprint: String,
}

/// Five minutes of finished tasks.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// When it starts (ms since the epoch).
    pub start: u64,
    /// Tasks that finished in it (completed, failed or cancelled).
    pub finished: usize,
    /// Of those, the failed ones.
    pub failed: usize,
    /// The median time from creation to the end of those that finished, in ms.
    pub median_ms: Option<u64>,
}

/// The summary of every task of `store` at `now`.
pub async fn summary(store: &dyn TaskStore, now: u64) -> Result<Summary, AdminFailure> {
    Ok(sum_up(&all(store, &Filter::default()).await?, now))
}

fn sum_up(tasks: &[Task], now: u64) -> Summary {
    let mut by_status = BTreeMap::new();
    let mut by_tool: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let first = now.saturating_sub(BUCKETS * BUCKET_MS) / BUCKET_MS * BUCKET_MS + BUCKET_MS;
    let mut durations: Vec<Vec<u64>> = vec![Vec::new(); BUCKETS as usize];
    let mut hour: Vec<Bucket> = (0..BUCKETS)
        .map(|i| Bucket {
            start: first + i * BUCKET_MS,
            finished: 0,
            failed: 0,
            median_ms: None,
        })
        .collect();
    let (mut count, mut latest) = (0usize, 0u64);
    for task in tasks {
        let status = view::status_name(task.status);
        *by_status.entry(status).or_default() += 1;
        *by_tool
            .entry(tool_of(task).unwrap_or_default())
            .or_default()
            .entry(status)
            .or_default() += 1;
        count += 1;
        latest = latest.max(task.last_updated_at);
        let finished = matches!(
            task.status,
            Status::Completed | Status::Failed | Status::Cancelled
        );
        if finished && task.last_updated_at >= first {
            let i = ((task.last_updated_at - first) / BUCKET_MS) as usize;
            if let Some(bucket) = hour.get_mut(i) {
                bucket.finished += 1;
                if task.status == Status::Failed {
                    bucket.failed += 1;
                }
                durations[i].push(task.last_updated_at.saturating_sub(task.created_at));
            }
        }
    }
    for (bucket, mut d) in hour.iter_mut().zip(durations) {
        d.sort_unstable();
        bucket.median_ms = d.get(d.len() / 2).copied();
    }
    let versions: u64 = tasks.iter().map(|t| t.version).sum();
    let live = tasks
        .iter()
        .filter(|t| matches!(t.status, Status::Working | Status::InputRequired));
    Summary {
        by_status,
        by_tool,
        queues: super::queues::tally(live, now),
        hour,
        fingerprint: format!("{count}:{versions}:{latest}"),
    }
}
