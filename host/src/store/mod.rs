//! Where tasks live: the [`TaskStore`] trait behind the component's `store` import, and its
//! backends, one module each, chosen by a URL-like identifier (see [`open`]).

mod batch;
mod cursor;
mod memory;
mod postgres;
mod row;
mod sessions;
mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub(crate) use row::{history_event_name, status_name};
pub use sessions::{Relayed, SessionRecord, SessionStore};
pub use sqlite::SqliteStore;

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
    /// Up to `limit` IDs of tasks that are `working` or `input_required` and whose lease has
    /// lapsed by `now` (`lease_until <= now`).
    async fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError>;
    /// For an operator: up to `limit` tasks of every owner (or of `scan.owner`), with a status
    /// among `scan.statuses` (any if empty), in creation order after `cursor`, expired or not.
    async fn scan(&self, scan: &Scan, cursor: Option<&str>, limit: u32)
    -> Result<Page, StoreError>;

    /// Whether a read is a look in this process's memory rather than a round trip (a file, a
    /// database). Lines a client pipelines cross into the component together, read one after
    /// another, only where reads are local; against a store whose reads are round trips each
    /// line is handled on its own, concurrently, and the store may gather their reads into one
    /// trip. The default, `false`, suits any store that leaves the process.
    fn reads_locally(&self) -> bool {
        false
    }

    /// Whether tasks kept here outlive this process (a file, a database other hosts may share):
    /// then a task whose run a host stops at shutdown goes back to wait for a host (this one
    /// restarted, or another), without spending an attempt; otherwise no host will see it again,
    /// and it fails saying the server stopped. The default, `true`, suits any store that leaves
    /// the process.
    fn outlives_process(&self) -> bool {
        true
    }

    /// Where 2025-11-25 HTTP sessions are kept, so that every host sharing this store serves
    /// them. The default, `None`, keeps each session in the process that opened it (a load
    /// balancer must then send a session's requests to that process).
    fn sessions(&self) -> Option<&dyn SessionStore> {
        None
    }
}

/// Which tasks [`TaskStore::scan`] reads: what a store's indexes select. An operator's other
/// filters (tool, text, times) are applied to what it returns (see `admin`).
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Only this owner's tasks.
    pub owner: Option<String>,
    /// Only tasks in one of these statuses; every status when empty.
    pub statuses: Vec<Status>,
}

impl Scan {
    /// Whether `task` is one this scan reads.
    pub fn selects(&self, task: &Task) -> bool {
        selected(self.owner.as_deref(), &self.statuses, task)
    }

    /// The statuses as the SQL columns spell them, comma-separated (`""` for any).
    fn status_names(&self) -> String {
        let names: Vec<&str> = self.statuses.iter().map(|s| row::status_name(*s)).collect();
        names.join(",")
    }
}

/// Whether `task` is `owner`'s (if given) with a status among `statuses` (any if empty): what a
/// [`Scan`] selects, for filters that hold the same parts.
pub(crate) fn selected(owner: Option<&str>, statuses: &[Status], task: &Task) -> bool {
    owner.is_none_or(|o| o == task.owner)
        && (statuses.is_empty() || statuses.contains(&task.status))
}

/// The cursor after `task`, as every backend's `list` and `scan` hand it out.
pub(crate) fn cursor_of(task: &Task) -> String {
    cursor::encode(task)
}

/// A cursor from which `list` and `scan` read the tasks created at or after `at` (ms).
pub(crate) fn cursor_at(at: u64) -> String {
    // Strictly after (at, ""): every ID is longer than none.
    format!("{at}:")
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The identifier names no backend this build has.
    #[error(
        "unknown store '{0}': expected 'memory', 'file:PATH' or 'postgres://USER@HOST/DATABASE'"
    )]
    UnknownScheme(String),
    /// The file store could not be opened (missing directory, no permission, not a database).
    #[error("cannot open the task store file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The database could not be reached or prepared.
    #[error("cannot open the task store at {url}: {message}")]
    Postgres {
        /// The database URL, its password hidden.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Open the store a URL-like identifier names:
///
/// - `memory` (the default): tasks live as long as the process.
/// - `file:PATH`: a SQLite file; survives restarts, and several processes may share it.
/// - `postgres://USER@HOST[:PORT]/DATABASE[?…]` (or `postgresql://`): any number of hosts on
///   any number of machines share the tasks; the schema is created on first use.
pub async fn open(spec: &str) -> Result<Arc<dyn TaskStore>, OpenError> {
    if spec == "memory" || spec == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if let Some(path) = spec.strip_prefix("file:") {
        if path.is_empty() {
            return Err(OpenError::File {
                path: PathBuf::new(),
                message: "no path given (file:PATH)".into(),
            });
        }
        let path = PathBuf::from(path);
        // SQLite blocks while it opens and migrates the file.
        return tokio::task::spawn_blocking(move || SqliteStore::open(path))
            .await
            .map_err(|e| OpenError::File {
                path: PathBuf::new(),
                message: e.to_string(),
            })?
            .map(|s| Arc::new(s) as Arc<dyn TaskStore>);
    }
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(spec).await?));
    }
    Err(OpenError::UnknownScheme(spec.to_string()))
}
