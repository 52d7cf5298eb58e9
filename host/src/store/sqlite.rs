//! The file store (`file:PATH`): SQLite, for tasks that outlive the process and for several
//! `mcp-tasks` processes on one machine sharing them.
//!
//! WAL mode lets readers and the one writer of the moment work at once; a busy timeout makes a
//! process wait for another's write instead of failing; each change is one statement in its own
//! transaction, so a killed process leaves every change either whole or absent.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::batch::Reads;
use super::row::{self, Columns, to_sql};
use super::sessions::{SessionRecord, SessionStore};
use super::{OpenError, Scan, TaskStore};
use crate::types::{Page, Status, StoreError, Task};

/// How long a change waits for another process's write to finish before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many expired tasks one transaction of `expire` deletes (see there).
const EXPIRE_BATCH: usize = 250;

/// The schema, one migration per entry (`schema/sqlite/N.sql`, which the packages apply too);
/// `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("schema/sqlite/1.sql"),
    include_str!("schema/sqlite/2.sql"),
];

/// Tasks in one SQLite file.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// One connection: one batch of reads at a time.
    reads: Reads,
}

impl SqliteStore {
    /// Open (creating if need be) the store in this file, and bring its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let failed = |e: rusqlite::Error| OpenError::File {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut conn = Connection::open(&path).map_err(failed)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
        // SQLite answers "busy" at once, without the busy timeout, where waiting could deadlock:
        // two processes starting together on a new file both read it, then both want to switch
        // it to WAL or create the schema. One of them must step back and try again.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        loop {
            match prepare(&mut conn) {
                Err(Prepare::Sqlite(e))
                    if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(Prepare::Sqlite(e)) => return Err(failed(e)),
                Err(Prepare::NotWal(mode)) => {
                    return Err(OpenError::File {
                        path,
                        message: format!("cannot switch to WAL mode (journal mode is {mode})"),
                    });
                }
                Ok(()) => break,
            }
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
            reads: Reads::new(1),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` on the connection on a blocking thread: SQLite calls block, sometimes for the
    /// busy timeout.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite half-changed (its
            // transactions see to that), so a poisoned lock is still sound.
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the store's worker failed: {e}")))?
    }
}

/// Why a connection could not be made ready.
enum Prepare {
    Sqlite(rusqlite::Error),
    /// The file stays in this journal mode (e.g. it is in memory or on a file system without
    /// shared memory).
    NotWal(String),
}

impl From<rusqlite::Error> for Prepare {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Make a new connection ready: WAL, the sync level, the schema. Each step may be repeated.
fn prepare(conn: &mut Connection) -> Result<(), Prepare> {
    // WAL: readers never block the writer. NORMAL sync: a commit survives the process being
    // killed (it is in the WAL, handed to the OS); only a power loss may take the last ones.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Prepare::NotWal(mode));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrate(conn)?;
    Ok(())
}

/// Apply the migrations this file lacks, in one transaction that holds the write lock, so two
/// processes opening a new file at once do not both create the schema.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let total = MIGRATIONS.len() as i64;
    for migration in MIGRATIONS.iter().skip(applied.max(0) as usize) {
        tx.execute_batch(migration)?;
    }
    if applied < total {
        tx.pragma_update(None, "user_version", total)?;
    }
    tx.commit()
}

/// A row's columns as statement parameters ?1..?8, in the order of the table.
fn row_params(c: &Columns) -> [&dyn rusqlite::ToSql; 8] {
    [
        &c.id,
        &c.owner,
        &c.status,
        &c.created_at,
        &c.expires_at,
        &c.lease_until,
        &c.version,
        &c.body,
    ]
}

/// One page of a `list` or `scan` query: its statement reads `limit + 1` bodies.
fn page_of(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    limit: u32,
) -> Result<Page, StoreError> {
    let bodies = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(unavailable)?;
    row::page(bodies.iter().map(String::as_str), limit)
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait::async_trait]
impl TaskStore for SqliteStore {
    async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        // Concurrent reads share one trip to the blocking thread (and one lock).
        self.reads
            .get(id, |ids| {
                self.with(move |c| {
                    // One read transaction for the batch: one snapshot, and one file lock taken
                    // rather than one per query. Dropped, it rolls back: it wrote nothing.
                    let read = c.unchecked_transaction().map_err(unavailable)?;
                    let mut stmt = read
                        .prepare_cached("SELECT body FROM tasks WHERE id = ?1")
                        .map_err(unavailable)?;
                    let mut tasks = Vec::with_capacity(ids.len());
                    for id in &ids {
                        let body: Option<String> = stmt
                            .query_row([id], |r| r.get(0))
                            .optional()
                            .map_err(unavailable)?;
                        if let Some(body) = body {
                            tasks.push(row::decode(&body)?);
                        }
                    }
                    Ok(tasks)
                })
            })
            .await
    }

    async fn create(&self, task: Task) -> Result<(), StoreError> {
        self.with(move |c| {
            let inserted = c
                .prepare_cached(
                    "INSERT INTO tasks (id, owner, status, created_at, expires_at, lease_until, version, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .and_then(|mut s| s.execute(&row_params(&Columns::of(&task))[..]));
            match inserted {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::AlreadyExists)
                }
                Err(e) => Err(unavailable(e)),
            }
        })
        .await
    }

    async fn update(&self, task: Task, expected_version: u64) -> Result<(), StoreError> {
        self.with(move |c| {
            // One statement: the version check and the write are atomic.
            let changed = c
                .prepare_cached(
                    "UPDATE tasks SET owner = ?2, status = ?3, created_at = ?4, expires_at = ?5,
                         lease_until = ?6, version = ?7, body = ?8
                     WHERE id = ?1 AND version = ?9",
                )
                .and_then(|mut s| {
                    let c = Columns::of(&task);
                    let expected = to_sql(expected_version);
                    let mut params = row_params(&c).to_vec();
                    params.push(&expected);
                    s.execute(&params[..])
                })
                .map_err(unavailable)?;
            if changed == 1 {
                return Ok(());
            }
            let stored: Option<i64> = c
                .prepare_cached("SELECT version FROM tasks WHERE id = ?1")
                .and_then(|mut s| s.query_row([&task.id], |r| r.get(0)).optional())
                .map_err(unavailable)?;
            match stored {
                Some(v) => Err(StoreError::Conflict(u64::try_from(v).unwrap_or(0))),
                None => Err(StoreError::NotFound),
            }
        })
        .await
    }

    async fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let (after_at, after_id) = row::resume_after(cursor)?;
        let owner = owner.to_string();
        let status = status.map(row::status_name);
        self.with(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT body FROM tasks
                     WHERE owner = ?1 AND (?2 IS NULL OR status = ?2)
                       AND (created_at, id) > (?3, ?4)
                     ORDER BY created_at, id
                     LIMIT ?5",
                )
                .map_err(unavailable)?;
            page_of(
                &mut stmt,
                params![owner, status, after_at, after_id, i64::from(limit) + 1],
                limit,
            )
        })
        .await
    }

    async fn scan(
        &self,
        scan: &Scan,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let (after_at, after_id) = row::resume_after(cursor)?;
        let owner = scan.owner.clone();
        let statuses = scan.status_names();
        self.with(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT body FROM tasks
                     WHERE (?1 IS NULL OR owner = ?1)
                       AND (?2 = '' OR instr(',' || ?2 || ',', ',' || status || ',') > 0)
                       AND (created_at, id) > (?3, ?4)
                     ORDER BY created_at, id
                     LIMIT ?5",
                )
                .map_err(unavailable)?;
            page_of(
                &mut stmt,
                params![owner, statuses, after_at, after_id, i64::from(limit) + 1],
                limit,
            )
        })
        .await
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        self.with(move |c| {
            match c
                .prepare_cached("DELETE FROM tasks WHERE id = ?1")
                .and_then(|mut s| s.execute([&id]))
                .map_err(unavailable)?
            {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn expire(&self, now: u64) -> Result<Vec<String>, StoreError> {
        // In batches, each its own transaction, with the connection let go in between: a sweep
        // that expires many tasks at once must not hold up the requests of every client.
        let mut expired = Vec::new();
        loop {
            let batch: Vec<String> = self
                .with(move |c| {
                    c.prepare_cached(
                        "DELETE FROM tasks WHERE rowid IN
                           (SELECT rowid FROM tasks WHERE expires_at <= ?1 LIMIT ?2)
                         RETURNING id",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![to_sql(now), EXPIRE_BATCH as i64], |r| r.get(0))
                            .and_then(|rows| rows.collect())
                    })
                    .map_err(unavailable)
                })
                .await?;
            let last = batch.len() < EXPIRE_BATCH;
            expired.extend(batch);
            if last {
                return Ok(expired);
            }
        }
    }

    async fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError> {
        self.with(move |c| {
            c.prepare_cached(
                "SELECT id FROM tasks
                 WHERE lease_until <= ?1 AND status IN ('working', 'input_required')
                 LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![to_sql(now), i64::from(limit)], |r| r.get(0))
                    .and_then(|rows| rows.collect())
            })
            .map_err(unavailable)
        })
        .await
    }

    fn sessions(&self) -> Option<&dyn SessionStore> {
        Some(self)
    }
}

/// Every process sharing the file serves its sessions; messages for a session's stream are not
/// carried between processes (each reaches the streams it holds).
#[async_trait::async_trait]
impl SessionStore for SqliteStore {
    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            conn.query_row(
                "SELECT id, owner, state, seen_at FROM sessions WHERE id = ?1",
                params![id],
                |r| {
                    Ok(SessionRecord {
                        id: r.get(0)?,
                        owner: r.get(1)?,
                        state: r.get(2)?,
                        seen_at: r.get::<_, i64>(3)?.max(0) as u64,
                    })
                },
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn save(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let s = session.clone();
        self.with(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO sessions (id, owner, state, seen_at) VALUES (?1, ?2, ?3, ?4)",
                params![s.id, s.owner, s.state, to_sql(s.seen_at)],
            )
            .map(drop)
            .map_err(unavailable)
        })
        .await
    }

    async fn touch(&self, id: &str, seen_at: u64) -> Result<(), StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET seen_at = ?2 WHERE id = ?1",
                params![id, to_sql(seen_at)],
            )
            .map(drop)
            .map_err(unavailable)
        })
        .await
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            conn.execute("DELETE FROM sessions WHERE id = ?1", params![id])
                .map(drop)
                .map_err(unavailable)
        })
        .await
    }

    async fn forget_idle(&self, seen_before: u64) -> Result<u64, StoreError> {
        self.with(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE seen_at < ?1",
                params![to_sql(seen_before)],
            )
            .map(|n| n as u64)
            .map_err(unavailable)
        })
        .await
    }
}
