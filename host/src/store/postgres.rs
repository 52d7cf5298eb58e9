//! The PostgreSQL store (`postgres://…`): tasks shared by any number of hosts on any number of
//! machines. The database does the compare-and-swap (`UPDATE … WHERE version = $n`), so the
//! state machine's guarantees hold across hosts.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::batch::Reads;
use super::row::{self, Columns, to_sql};
use super::{OpenError, TaskStore, cursor};
use crate::types::{Page, Status, StoreError, Task};

/// Connections kept open per host.
const POOL_SIZE: usize = 16;
/// Batches of reads in flight at once (each on a connection of its own); more reads wait and go
/// together in the next.
const READ_ROUND_TRIPS: usize = 4;
/// How long opening the store may take before the server gives up on the database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A key for `pg_advisory_xact_lock`, so that hosts starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x6d63_705f_7461_736b; // "mcp_task"

/// The schema, one migration per entry (`schema/postgres/N.sql`, which the packages apply too);
/// the table `mcp_tasks_schema` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("schema/postgres/1.sql")];

/// Tasks in a PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
    reads: Reads,
}

impl PostgresStore {
    /// Connect to the database this URL names (`postgres://user@host:port/db?…`), and create or
    /// bring up to date the schema.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let failed = |message: String| OpenError::Postgres {
            url: redact(url),
            message,
        };
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| failed(format!("{e}")))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let store = Self {
            pool,
            reads: Reads::new(READ_ROUND_TRIPS),
        };
        tokio::time::timeout(CONNECT_TIMEOUT * 2, store.migrate())
            .await
            .map_err(|_| failed("timed out".into()))?
            .map_err(failed)?;
        Ok(store)
    }

    /// Bring the schema up to date, holding a lock so that hosts starting together take turns.
    async fn migrate(&self) -> Result<(), String> {
        let mut client = self.pool.get().await.map_err(|e| chain(&e))?;
        let tx = client.transaction().await.map_err(|e| chain(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| chain(&e))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS mcp_tasks_schema (applied INTEGER NOT NULL)")
            .await
            .map_err(|e| chain(&e))?;
        let applied: i32 = match tx
            .query_opt("SELECT applied FROM mcp_tasks_schema", &[])
            .await
            .map_err(|e| chain(&e))?
        {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO mcp_tasks_schema (applied) VALUES (0)", &[])
                    .await
                    .map_err(|e| chain(&e))?;
                0
            }
        };
        for migration in MIGRATIONS.iter().skip(applied.max(0) as usize) {
            tx.batch_execute(migration).await.map_err(|e| chain(&e))?;
        }
        let total = MIGRATIONS.len() as i32;
        tx.execute("UPDATE mcp_tasks_schema SET applied = $1", &[&total])
            .await
            .map_err(|e| chain(&e))?;
        tx.commit().await.map_err(|e| chain(&e))
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// An error with its causes, e.g. "error connecting to server: Connection refused".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        source = cause.source();
    }
    text
}

fn unavailable(e: tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(chain(&e))
}

/// A row's columns as statement parameters $1..$8, in the order of the table.
fn row_params(c: &Columns) -> [&(dyn tokio_postgres::types::ToSql + Sync); 8] {
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

fn ids(rows: Vec<tokio_postgres::Row>) -> Vec<String> {
    rows.iter().map(|r| r.get(0)).collect()
}

#[async_trait::async_trait]
impl TaskStore for PostgresStore {
    async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        // Concurrent reads share one statement: the database's work per statement, not per row,
        // is what bounds pipelined `tasks/get`s.
        self.reads
            .get(id, |ids| async move {
                let client = self.client().await?;
                let stmt = client
                    .prepare_cached("SELECT body FROM mcp_tasks WHERE id = ANY($1)")
                    .await
                    .map_err(unavailable)?;
                let rows = client.query(&stmt, &[&ids]).await.map_err(unavailable)?;
                rows.iter().map(|r| row::decode(r.get(0))).collect()
            })
            .await
    }

    async fn create(&self, task: Task) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO mcp_tasks (id, owner, status, created_at, expires_at, lease_until, version, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await
            .map_err(unavailable)?;
        let inserted = client
            .execute(&stmt, &row_params(&Columns::of(&task)))
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(StoreError::AlreadyExists)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn update(&self, task: Task, expected_version: u64) -> Result<(), StoreError> {
        let client = self.client().await?;
        // One statement: the version check and the write are atomic, across every host.
        let stmt = client
            .prepare_cached(
                "UPDATE mcp_tasks SET owner = $2, status = $3, created_at = $4, expires_at = $5,
                     lease_until = $6, version = $7, body = $8
                 WHERE id = $1 AND version = $9",
            )
            .await
            .map_err(unavailable)?;
        let c = Columns::of(&task);
        let expected = to_sql(expected_version);
        let mut params = row_params(&c).to_vec();
        params.push(&expected);
        let changed = client.execute(&stmt, &params).await.map_err(unavailable)?;
        if changed == 1 {
            return Ok(());
        }
        let stmt = client
            .prepare_cached("SELECT version FROM mcp_tasks WHERE id = $1")
            .await
            .map_err(unavailable)?;
        match client
            .query_opt(&stmt, &[&task.id])
            .await
            .map_err(unavailable)?
        {
            Some(row) => Err(StoreError::Conflict(
                u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            )),
            None => Err(StoreError::NotFound),
        }
    }

    async fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let (after_at, after_id) = row::resume_after(cursor)?;
        let status = status.map(row::status_name);
        let client = self.client().await?;
        let limit_plus_one = i64::from(limit) + 1;
        // One statement per shape, each exactly an index's prefix and order, so that the
        // generic plan of a cached statement reads one page of that index whatever the table
        // holds (an `$2 IS NULL OR status = $2` leaves the planner to guess).
        let rows = match &status {
            None => {
                let stmt = client
                    .prepare_cached(
                        "SELECT body FROM mcp_tasks
                         WHERE owner = $1 AND (created_at, id) > ($2, $3)
                         ORDER BY created_at, id
                         LIMIT $4",
                    )
                    .await
                    .map_err(unavailable)?;
                client
                    .query(&stmt, &[&owner, &after_at, &after_id, &limit_plus_one])
                    .await
            }
            Some(status) => {
                let stmt = client
                    .prepare_cached(
                        "SELECT body FROM mcp_tasks
                         WHERE owner = $1 AND status = $2 AND (created_at, id) > ($3, $4)
                         ORDER BY created_at, id
                         LIMIT $5",
                    )
                    .await
                    .map_err(unavailable)?;
                client
                    .query(
                        &stmt,
                        &[&owner, status, &after_at, &after_id, &limit_plus_one],
                    )
                    .await
            }
        }
        .map_err(unavailable)?;
        let mut tasks = rows
            .iter()
            .map(|r| row::decode(r.get(0)))
            .collect::<Result<Vec<_>, _>>()?;
        let more = tasks.len() > limit as usize;
        tasks.truncate(limit as usize);
        let next_cursor = more.then(|| tasks.last().map(cursor::encode)).flatten();
        Ok(Page { tasks, next_cursor })
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM mcp_tasks WHERE id = $1")
            .await
            .map_err(unavailable)?;
        match client.execute(&stmt, &[&id]).await.map_err(unavailable)? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn expire(&self, now: u64) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM mcp_tasks WHERE expires_at <= $1 RETURNING id")
            .await
            .map_err(unavailable)?;
        let rows = client
            .query(&stmt, &[&to_sql(now)])
            .await
            .map_err(unavailable)?;
        Ok(ids(rows))
    }

    async fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT id FROM mcp_tasks
                 WHERE lease_until <= $1 AND status IN ('working', 'input_required')
                 LIMIT $2",
            )
            .await
            .map_err(unavailable)?;
        let rows = client
            .query(&stmt, &[&to_sql(now), &i64::from(limit)])
            .await
            .map_err(unavailable)?;
        Ok(ids(rows))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://me:secret@db:5432/tasks"),
            "postgres://me:***@db:5432/tasks"
        );
        assert_eq!(
            super::redact("postgres://me@db/tasks"),
            "postgres://me@db/tasks"
        );
    }
}
