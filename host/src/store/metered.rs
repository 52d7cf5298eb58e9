//! A store with its calls timed and its tasks' lifecycle counted, for `/metrics`.
//!
//! The lifecycle is read off what the component writes: a task created (an operator's retry, if
//! it names the task it re-runs), and, for a change (whose last history entry was written at the
//! task's `last-updated-at`), a move to a terminal status or the start of a later attempt.

use std::sync::Arc;
use std::time::Instant;

use super::sessions::SessionStore;
use super::{Scan, TaskStore};
use crate::metrics;
use crate::types::{HistoryEvent, Page, Status, StoreError, Task};

/// `inner`, timed and counted.
pub(crate) struct Metered {
    inner: Arc<dyn TaskStore>,
}

impl Metered {
    pub(crate) fn new(inner: Arc<dyn TaskStore>) -> Self {
        Self { inner }
    }
}

/// Time `call` as the store operation `op`.
async fn timed<T>(
    op: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let since = Instant::now();
    let result = call.await;
    let failed = matches!(result, Err(StoreError::Unavailable(_)));
    metrics::store_call(op, since, failed);
    result
}

fn tool(task: &Task) -> String {
    crate::admin::tool_of(task).unwrap_or_default()
}

/// What a written task's change was, for the lifecycle counts.
fn event_of(task: &Task) -> Option<&'static str> {
    let last = task.history.last()?;
    // A bookkeeping write (a lease renewed) adds no entry, and keeps the time of the last change.
    if last.at != task.last_updated_at {
        return None;
    }
    match (last.event, task.status) {
        (HistoryEvent::Status, Status::Completed) => Some("completed"),
        (HistoryEvent::Status, Status::Failed) => Some("failed"),
        (HistoryEvent::Status, Status::Cancelled) => Some("cancelled"),
        (HistoryEvent::AttemptStarted, _) if last.attempt > 1 => Some("retried"),
        _ => None,
    }
}

#[async_trait::async_trait]
impl TaskStore for Metered {
    async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        timed("get", self.inner.get(id)).await
    }

    async fn create(&self, task: Task) -> Result<(), StoreError> {
        let tool = tool(&task);
        let retry = task
            .variables
            .as_deref()
            .is_some_and(|v| v.contains("\"retryOf\""));
        timed("create", self.inner.create(task)).await?;
        metrics::task_event(tool.clone(), "created");
        if retry {
            metrics::task_event(tool, "retried");
        }
        Ok(())
    }

    async fn update(&self, task: Task, expected_version: u64) -> Result<(), StoreError> {
        let event = event_of(&task).map(|e| (tool(&task), e));
        timed("update", self.inner.update(task, expected_version)).await?;
        if let Some((tool, event)) = event {
            metrics::task_event(tool, event);
        }
        Ok(())
    }

    async fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        timed("list", self.inner.list(owner, status, cursor, limit)).await
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        timed("delete", self.inner.delete(id)).await
    }

    async fn expire(&self, now: u64) -> Result<Vec<String>, StoreError> {
        timed("expire", self.inner.expire(now)).await
    }

    async fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError> {
        timed("abandoned", self.inner.abandoned(now, limit)).await
    }

    async fn scan(
        &self,
        scan: &Scan,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        timed("scan", self.inner.scan(scan, cursor, limit)).await
    }

    fn reads_locally(&self) -> bool {
        self.inner.reads_locally()
    }

    fn outlives_process(&self) -> bool {
        self.inner.outlives_process()
    }

    fn sessions(&self) -> Option<&dyn SessionStore> {
        self.inner.sessions()
    }
}
