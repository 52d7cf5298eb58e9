//! Where tasks live: the [`TaskStore`] trait behind the component's `store` import, and its
//! backends, one module each, chosen by a URL-like identifier (see [`open`]).

mod memory;

use std::sync::Arc;

pub use memory::MemoryStore;

use crate::types::{Page, Status, StoreError, Task};

/// A place to keep tasks: the host side of the WIT `store` interface.
///
/// Implementations must keep the contract documented on that interface in `wit/tasks.wit`:
/// `create` never overwrites; `update` is an atomic compare-and-swap on `version`; `list`
/// returns one owner's tasks ordered by (`created_at`, `id`) and resumes strictly after its
/// cursor; `expire` deletes exactly the tasks with `created_at + ttl <= now`.
#[async_trait::async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// The task with this ID, if any (whoever owns it, expired or not).
    async fn get(&self, id: &str) -> Result<Option<Task>, StoreError>;
    /// Store a new task; `AlreadyExists` if the ID is taken.
    async fn create(&self, task: Task) -> Result<(), StoreError>;
    /// Replace the task if its stored version is `expected_version`; `Conflict` otherwise.
    async fn update(&self, task: Task, expected_version: u64) -> Result<(), StoreError>;
    /// Up to `limit` of `owner`'s tasks in creation order, after `cursor`.
    async fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError>;
    /// Delete the task; `NotFound` if there is none.
    async fn delete(&self, id: &str) -> Result<(), StoreError>;
    /// Delete every expired task at `now`; their IDs.
    async fn expire(&self, now: u64) -> Result<Vec<String>, StoreError>;
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The identifier names no backend this build has.
    #[error("unknown store '{0}': expected 'memory'")]
    UnknownScheme(String),
}

/// Open the store a URL-like identifier names. Today: `memory` (the default; tasks live as long
/// as the process).
pub fn open(spec: &str) -> Result<Arc<dyn TaskStore>, OpenError> {
    match spec {
        "memory" | "memory:" => Ok(Arc::new(MemoryStore::new())),
        other => Err(OpenError::UnknownScheme(other.to_string())),
    }
}
