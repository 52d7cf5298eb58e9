//! The PostgreSQL store (`postgres://…`): tasks shared by any number of hosts on any number of
//! machines. The database does the compare-and-swap (`UPDATE … WHERE version = $n`), so the
//! state machine's guarantees hold across hosts.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, NoTls};

use super::batch::Reads;
use super::row::{self, Columns, to_sql};
use super::sessions::{Relayed, SessionRecord, SessionStore};
use super::{OpenError, Scan, TaskStore};
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
const MIGRATIONS: &[&str] = &[
    include_str!("schema/postgres/1.sql"),
    include_str!("schema/postgres/2.sql"),
];

/// The `NOTIFY` channel that carries messages for sessions' streams between hosts.
const RELAY_CHANNEL: &str = "mcp_tasks_sessions";
/// How long a host waits before listening again after its listening connection broke.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// Tasks in a PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
    reads: Reads,
    /// For the connection that listens for relayed messages, outside the pool.
    config: tokio_postgres::Config,
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
            config.clone(),
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
            config,
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
        row::page(rows.iter().map(|r| r.get(0)), limit)
    }

    async fn scan(
        &self,
        scan: &Scan,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let (after_at, after_id) = row::resume_after(cursor)?;
        let statuses: Vec<&str> = scan.statuses.iter().map(|s| row::status_name(*s)).collect();
        let client = self.client().await?;
        // An operator's look, not a hot path: one statement for every shape.
        let stmt = client
            .prepare_cached(
                "SELECT body FROM mcp_tasks
                 WHERE ($1::text IS NULL OR owner = $1)
                   AND (cardinality($2::text[]) = 0 OR status = ANY($2))
                   AND (created_at, id) > ($3, $4)
                 ORDER BY created_at, id
                 LIMIT $5",
            )
            .await
            .map_err(unavailable)?;
        let rows = client
            .query(
                &stmt,
                &[
                    &scan.owner,
                    &statuses,
                    &after_at,
                    &after_id,
                    &(i64::from(limit) + 1),
                ],
            )
            .await
            .map_err(unavailable)?;
        row::page(rows.iter().map(|r| r.get(0)), limit)
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

    fn sessions(&self) -> Option<&dyn SessionStore> {
        Some(self)
    }
}

/// Sessions in the table `mcp_sessions`; messages for their streams go between hosts by
/// `NOTIFY` on one channel (a message over PostgreSQL's 8000-byte payload limit is refused).
#[async_trait::async_trait]
impl SessionStore for PostgresStore {
    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT id, owner, state, seen_at FROM mcp_sessions WHERE id = $1")
            .await
            .map_err(unavailable)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(unavailable)?;
        Ok(row.map(|r| SessionRecord {
            id: r.get(0),
            owner: r.get(1),
            state: r.get(2),
            seen_at: r.get::<_, i64>(3).max(0) as u64,
        }))
    }

    async fn save(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO mcp_sessions (id, owner, state, seen_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE
                 SET owner = EXCLUDED.owner, state = EXCLUDED.state, seen_at = EXCLUDED.seen_at",
            )
            .await
            .map_err(unavailable)?;
        let seen_at = to_sql(session.seen_at);
        client
            .execute(
                &stmt,
                &[&session.id, &session.owner, &session.state, &seen_at],
            )
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn touch(&self, id: &str, seen_at: u64) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("UPDATE mcp_sessions SET seen_at = $2 WHERE id = $1")
            .await
            .map_err(unavailable)?;
        client
            .execute(&stmt, &[&id, &to_sql(seen_at)])
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM mcp_sessions WHERE id = $1", &[&id])
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn forget_idle(&self, seen_before: u64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM mcp_sessions WHERE seen_at < $1",
                &[&to_sql(seen_before)],
            )
            .await
            .map_err(unavailable)
    }

    async fn listen(&self) -> Result<Option<mpsc::Receiver<Relayed>>, StoreError> {
        let (tx, rx) = mpsc::channel(RELAY_BACKLOG);
        // The first connection is made here, so that a database that refuses it is an error
        // now; later ones (after a break) are made by the listening task.
        let first = listen_once(&self.config).await?;
        tokio::spawn(keep_listening(self.config.clone(), first, tx));
        Ok(Some(rx))
    }

    async fn relay(&self, message: &Relayed) -> Result<(), StoreError> {
        let payload =
            serde_json::to_string(message).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let client = self.client().await?;
        client
            .execute("SELECT pg_notify($1, $2)", &[&RELAY_CHANNEL, &payload])
            .await
            .map(drop)
            .map_err(unavailable)
    }
}

/// Relayed messages a host takes before it drops more (a host that cannot keep up).
const RELAY_BACKLOG: usize = 1024;

/// A connection that listens on the relay channel, and the payloads it receives (until it
/// breaks, or is dropped).
struct Listening {
    /// Dropping the client closes the connection.
    _client: tokio_postgres::Client,
    payloads: mpsc::UnboundedReceiver<String>,
}

/// Connect and `LISTEN`; the connection is driven by a task of its own.
async fn listen_once(config: &tokio_postgres::Config) -> Result<Listening, StoreError> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(unavailable)?;
    let (tx, payloads) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!("the store's relay connection broke: {}", chain(&e));
                    return;
                }
                None => return,
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {RELAY_CHANNEL}"))
        .await
        .map_err(unavailable)?;
    Ok(Listening {
        _client: client,
        payloads,
    })
}

/// Hand each relayed message to `to` until it closes, listening again whenever the connection
/// breaks (what is relayed meanwhile is lost: a client polls to learn it).
async fn keep_listening(
    config: tokio_postgres::Config,
    mut listening: Listening,
    to: mpsc::Sender<Relayed>,
) {
    loop {
        loop {
            let payload = tokio::select! {
                () = to.closed() => return,
                payload = listening.payloads.recv() => payload,
            };
            let Some(payload) = payload else { break };
            match serde_json::from_str::<Relayed>(&payload) {
                Ok(message) => match to.try_send(message) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!("a relayed message was dropped: too many are waiting");
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                },
                Err(e) => tracing::warn!("a relayed message could not be read: {e}"),
            }
        }
        loop {
            tokio::select! {
                () = to.closed() => return,
                () = tokio::time::sleep(RELISTEN_AFTER) => {}
            }
            match listen_once(&config).await {
                Ok(again) => {
                    tracing::info!("the store's relay connection is back");
                    listening = again;
                    break;
                }
                Err(e) => tracing::warn!("the store's relay connection cannot be made: {e}"),
            }
        }
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
