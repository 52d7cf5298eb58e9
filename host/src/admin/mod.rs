//! An operator's view of a store, for all owners: find tasks, read one whole, see the queues,
//! and cancel, retry or purge. Reads are queries of the store ([`TaskStore::scan`]); every
//! change goes through the component's `admin` export, so the task rules hold for operators
//! too (compare-and-swap, a terminal status never moves, the history says who did it).
//!
//! `mcp-tasks admin` is this over a store URL; a host that embeds the crate can make one over
//! its own [`Guest`]:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use mcp_tasks::admin::{Admin, Filter};
//! use mcp_tasks::{ComponentSource, Guest};
//!
//! let store = mcp_tasks::store::open("file:tasks.db").await?;
//! let settings = mcp_tasks::tools::default_settings();
//! let guest = Guest::new(&ComponentSource::embedded(), store, settings, Vec::new())?;
//! let admin = Admin::new(Arc::new(guest), "ops");
//! let failed = Filter { statuses: vec![mcp_tasks::types::Status::Failed], ..Filter::default() };
//! for task in admin.list(&failed, None, 50).await?.tasks {
//!     admin.retry(&task.id).await?;
//! }
//! # Ok(()) }
//! ```

pub mod dashboard;
mod filter;
mod queues;
mod summary;
pub mod view;

use std::sync::Arc;

pub use crate::util::now_ms;
pub use filter::{Filter, FilterError, format_time, parse_age, parse_status, parse_time, tool_of};
pub use queues::{Queue, queues};
pub use summary::{Bucket, Summary, summary};

use crate::component::{AdminCall, AdminDone};
use crate::types::{AdminError, Context, Page, Status, StoreError, Task};
use crate::util::hostname;
use crate::{Guest, GuestError, TaskStore};

/// How many tasks one store query reads while a filter looks for matches.
const SCAN_BATCH: u32 = 200;

/// Why an operator's request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminFailure {
    /// The store failed.
    #[error("the store failed: {0:?}")]
    Store(StoreError),
    /// The component could not be called.
    #[error(transparent)]
    Guest(#[from] GuestError),
    /// No task has that ID (or it expired).
    #[error("no task {0}")]
    NotFound(String),
    /// The rules refused the change.
    #[error("task {id}: {why}")]
    Refused {
        /// The task.
        id: String,
        /// Why, in a sentence.
        why: String,
    },
}

impl From<StoreError> for AdminFailure {
    fn from(e: StoreError) -> Self {
        AdminFailure::Store(e)
    }
}

/// An operator at work on a store.
pub struct Admin {
    guest: Arc<Guest>,
    store: Arc<dyn TaskStore>,
    /// `admin:` and the operator's name: the `by` of the history entries it writes.
    operator: String,
    /// The `host` of those entries.
    executor: String,
}

impl Admin {
    /// An operator named `name` acting through `guest` on its store.
    pub fn new(guest: Arc<Guest>, name: &str) -> Self {
        Self {
            store: guest.task_store(),
            guest,
            operator: format!("admin:{name}"),
            executor: format!("{}/admin", hostname()),
        }
    }

    /// An operator inside a host (`serve --http --admin`): its changes name the host; each
    /// request names its operator ([`Admin::as_operator`]).
    pub(crate) fn for_host(guest: Arc<Guest>, executor: String) -> Self {
        Self {
            store: guest.task_store(),
            guest,
            operator: "admin".into(),
            executor,
        }
    }

    /// The same, acting for the operator `name`.
    pub fn as_operator(&self, name: &str) -> Self {
        Self {
            guest: self.guest.clone(),
            store: self.store.clone(),
            operator: format!("admin:{name}"),
            executor: self.executor.clone(),
        }
    }

    /// The store it works on.
    pub fn store(&self) -> &Arc<dyn TaskStore> {
        &self.store
    }

    /// Up to `limit` tasks that pass `filter`, oldest first, after `cursor`; the page's cursor
    /// resumes after the last task read.
    pub async fn list(
        &self,
        filter: &Filter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, AdminFailure> {
        list(self.store.as_ref(), filter, cursor, limit).await
    }

    /// Every task that passes `filter`.
    pub async fn all(&self, filter: &Filter) -> Result<Vec<Task>, AdminFailure> {
        all(self.store.as_ref(), filter).await
    }

    /// The task with this ID, whoever owns it.
    pub async fn task(&self, id: &str) -> Result<Task, AdminFailure> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| AdminFailure::NotFound(id.to_string()))
    }

    /// Cancel a task: it becomes `cancelled`; the host that runs its tool stops it at its next
    /// sweep. Returns the task as it is now, and the actions for a host that runs tools.
    pub async fn cancel(&self, id: &str) -> Result<AdminDone, AdminFailure> {
        self.change(AdminCall::Cancel, id).await
    }

    /// Run a failed or cancelled task again as a new task; returns the new task.
    pub async fn retry(&self, id: &str) -> Result<Task, AdminFailure> {
        let done = self.change(AdminCall::Retry, id).await?;
        done.task
            .ok_or_else(|| AdminFailure::NotFound(id.to_string()))
    }

    /// Delete a finished task.
    pub async fn purge(&self, id: &str) -> Result<(), AdminFailure> {
        self.change(AdminCall::Purge, id).await.map(drop)
    }

    async fn change(&self, call: AdminCall, id: &str) -> Result<AdminDone, AdminFailure> {
        let refused = |why: String| AdminFailure::Refused {
            id: id.to_string(),
            why,
        };
        match self.guest.admin(call, id, self.ctx()).await? {
            Ok(done) => Ok(done),
            Err(AdminError::NotFound) => Err(AdminFailure::NotFound(id.to_string())),
            Err(AdminError::Terminal(s)) => Err(refused(format!(
                "it is already {}; a finished task never moves",
                view::status_name(s)
            ))),
            Err(AdminError::Refused(s)) => Err(refused(match (call, s) {
                (AdminCall::Retry, Status::Completed) => {
                    "it completed; only failed or cancelled tasks are retried".into()
                }
                (_, s) => format!(
                    "it is {}: cancel it first, only finished tasks are {}",
                    view::status_name(s),
                    if call == AdminCall::Retry {
                        "retried"
                    } else {
                        "purged"
                    }
                ),
            })),
            Err(AdminError::Store(why)) => Err(AdminFailure::Store(StoreError::Unavailable(why))),
        }
    }

    fn ctx(&self) -> Context {
        Context {
            owner: self.operator.clone(),
            now: now_ms(),
            session: String::new(),
            executor: self.executor.clone(),
            push: false,
            client: String::new(),
            transport: "admin".into(),
        }
    }
}

/// Up to `limit` of `store`'s tasks that pass `filter`, oldest first, after `cursor`; the page's
/// cursor resumes after the last task read.
pub async fn list(
    store: &dyn TaskStore,
    filter: &Filter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page, AdminFailure> {
    let scan = filter.scan();
    // Created at or after a time: start the store's order there.
    let start = filter.created_after.map(crate::store::cursor_at);
    let mut cursor = cursor.map(String::from).or(start);
    let mut tasks = Vec::new();
    loop {
        let page = store.scan(&scan, cursor.as_deref(), SCAN_BATCH).await?;
        let past_end = |t: &Task| filter.created_before.is_some_and(|b| t.created_at >= b);
        for task in page.tasks {
            if past_end(&task) {
                return Ok(Page {
                    tasks,
                    next_cursor: None,
                });
            }
            let at = crate::store::cursor_of(&task);
            if filter.matches(&task) {
                tasks.push(task);
                if tasks.len() == limit as usize {
                    return Ok(Page {
                        tasks,
                        next_cursor: Some(at),
                    });
                }
            }
            cursor = Some(at);
        }
        if page.next_cursor.is_none() {
            return Ok(Page {
                tasks,
                next_cursor: None,
            });
        }
    }
}

/// Every task of `store` that passes `filter`.
pub async fn all(store: &dyn TaskStore, filter: &Filter) -> Result<Vec<Task>, AdminFailure> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(store, filter, cursor.as_deref(), SCAN_BATCH).await?;
        all.extend(page.tasks);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}
