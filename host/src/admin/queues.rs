//! The queues as an operator sees them: per tool, the tasks waiting for a host and those
//! running, how long the oldest has waited, and which hosts run them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{AdminFailure, Filter, all, tool_of};
use crate::store::TaskStore;
use crate::types::{Status, Task};

/// One tool's queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    /// The tool (a workflow's name for its tasks).
    pub tool: String,
    /// Live tasks no host runs: queued, waiting for their next attempt, or handed back.
    pub waiting: usize,
    /// Live tasks a host runs (`working` or `input_required`).
    pub running: usize,
    /// How long (ms) the task that has waited longest has waited, if any waits.
    pub oldest_waiting_ms: Option<u64>,
    /// Running tasks per host (`executor`).
    pub hosts: BTreeMap<String, usize>,
}

/// Every tool of `store` with a live task, by name, at `now`.
pub async fn queues(store: &dyn TaskStore, now: u64) -> Result<Vec<Queue>, AdminFailure> {
    let live = Filter {
        statuses: vec![Status::Working, Status::InputRequired],
        ..Filter::default()
    };
    Ok(tally(&all(store, &live).await?, now))
}

/// The queues these live tasks make.
pub(super) fn tally<'t>(live: impl IntoIterator<Item = &'t Task>, now: u64) -> Vec<Queue> {
    let mut by_tool: BTreeMap<String, Queue> = BTreeMap::new();
    for task in live {
        let tool = tool_of(task).unwrap_or_default();
        let queue = by_tool.entry(tool.clone()).or_insert_with(|| Queue {
            tool,
            ..Queue::default()
        });
        match &task.executor {
            Some(host) => {
                queue.running += 1;
                *queue.hosts.entry(host.clone()).or_default() += 1;
            }
            None => {
                queue.waiting += 1;
                // Waiting since it was queued, or since its last attempt ended.
                let waited = now.saturating_sub(task.last_updated_at);
                queue.oldest_waiting_ms = Some(queue.oldest_waiting_ms.unwrap_or(0).max(waited));
            }
        }
    }
    by_tool.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn waiting_and_running_are_counted_per_tool_and_host() {
        let on = |id: &str, tool: &str, executor: Option<&str>, at: u64| Task {
            request: format!(r#"{{"method":"tools/call","params":{{"name":"{tool}"}}}}"#),
            executor: executor.map(String::from),
            last_updated_at: at,
            ..fixtures::task(id, "alice", at)
        };
        let live = [
            on("a", "build", None, 1_000),
            on("b", "build", None, 4_000),
            on("c", "build", Some("h1"), 0),
            on("d", "build", Some("h1"), 0),
            on("e", "test", Some("h2"), 0),
        ];
        let queues = tally(&live, 10_000);
        assert_eq!(queues.len(), 2);
        assert_eq!(
            (
                queues[0].waiting,
                queues[0].running,
                queues[0].oldest_waiting_ms
            ),
            (2, 2, Some(9_000))
        );
        assert_eq!(queues[0].hosts["h1"], 2);
        assert_eq!((queues[1].tool.as_str(), queues[1].waiting), ("test", 0));
        assert_eq!(queues[1].oldest_waiting_ms, None);
    }
}
