"""Stores chosen by a URL, as `mcp-tasks serve --store` chooses one: `memory:`, `file:PATH`
(SQLite) or `postgres://...` (psycopg 3). The SQL stores keep the Rust host's schema and its
JSON `body` (host/src/store/row.rs), so a task written here is read there and the reverse.

Each keeps the contract of the WIT's `mcp:tasks/store` (conformance/store.json): `update` is a
compare-and-swap on `version`; `list` is one owner's tasks in (created_at, id) order after the
cursor; `expire` deletes exactly the tasks whose ttl has run out.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from importlib import resources
from typing import Any, Optional

from .component import (
    AlreadyExists,
    Conflict,
    HistoryEntry,
    InputRequest,
    InvalidCursor,
    NotFound,
    RpcError,
    Task,
    Unavailable,
)

LIVE = ("working", "input-required")


def status_name(status: str) -> str:
    """The status as the SQL columns keep it: the protocol's spelling."""
    return "input_required" if status == "input-required" else status


def _status_from(name: str) -> str:
    return "input-required" if name == "input_required" else name


def cursor_of(task: Task) -> str:
    return f"{task.created_at}:{task.id}"


def parse_cursor(cursor: str) -> tuple[int, str]:
    at, sep, id = cursor.partition(":")
    if not sep or not at.isdigit():
        raise InvalidCursor()
    return int(at), id


def encode_body(t: Task) -> str:
    """The task as the JSON text of the `body` column, field for field as the Rust host's."""
    if t.outcome is None:
        outcome = None
    elif isinstance(t.outcome, RpcError):
        outcome = {"error": {"code": t.outcome.code, "message": t.outcome.message, "data": t.outcome.data}}
    else:
        outcome = {"result": t.outcome}
    return json.dumps(
        {
            "era": t.era,
            "id": t.id,
            "owner": t.owner,
            "status": status_name(t.status),
            "statusMessage": t.status_message,
            "createdAt": t.created_at,
            "lastUpdatedAt": t.last_updated_at,
            "ttl": t.ttl,
            "pollInterval": t.poll_interval,
            "version": t.version,
            "request": t.request,
            "outcome": outcome,
            "inputRequests": [
                {"key": q.key, "method": q.method, "params": q.params, "state": q.state, "response": q.response}
                for q in t.input_requests
            ],
            "executor": t.executor,
            "leaseUntil": t.lease_until,
            "attempt": t.attempt,
            "variables": t.variables,
            "history": [
                {
                    "at": e.at,
                    "event": e.event,
                    "status": status_name(e.status),
                    "attempt": e.attempt,
                    "host": e.host,
                    "by": e.by,
                    "detail": e.detail,
                }
                for e in t.history
            ],
        },
        separators=(",", ":"),
    )


def decode_body(text: str) -> Task:
    """The task a `body` column holds; `unavailable` if it is not one (a damaged row)."""
    try:
        b = json.loads(text)
        o = b.get("outcome")
        outcome: Optional[str | RpcError] = None
        if o and o.get("result") is not None:
            outcome = o["result"]
        elif o and o.get("error"):
            e = o["error"]
            outcome = RpcError(e["code"], e.get("message", ""), e.get("data"))
        return Task(
            era=b.get("era") or "legacy",  # rows from before the modern era
            id=b["id"],
            owner=b["owner"],
            status=_status_from(b["status"]),
            status_message=b.get("statusMessage"),
            created_at=b["createdAt"],
            last_updated_at=b["lastUpdatedAt"],
            ttl=b.get("ttl"),
            poll_interval=b.get("pollInterval"),
            version=b["version"],
            request=b["request"],
            outcome=outcome,
            input_requests=[
                InputRequest(q["key"], q["method"], q["params"], q["state"], q.get("response"))
                for q in b.get("inputRequests") or []
            ],
            executor=b.get("executor"),
            lease_until=b.get("leaseUntil"),
            attempt=b.get("attempt") or 1,
            variables=b.get("variables"),
            # Rows written before histories hold none.
            history=[
                HistoryEntry(
                    e["at"], e["event"], _status_from(e["status"]), e["attempt"], e["host"], e["by"], e.get("detail")
                )
                for e in b.get("history") or []
            ],
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise Unavailable(f"a stored task is damaged: {e}") from e


def _columns(t: Task) -> tuple[Any, ...]:
    """A row's columns, in the order of the table."""
    expires = None if t.ttl is None else t.created_at + t.ttl
    return (t.id, t.owner, status_name(t.status), t.created_at, expires, t.lease_until, t.version, encode_body(t))


class MemoryStore:
    """Tasks in a dict, gone with the process."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}

    def get(self, id: str) -> Optional[Task]:
        t = self.tasks.get(id)
        return None if t is None else copy.deepcopy(t)

    def create(self, task: Task) -> None:
        if task.id in self.tasks:
            raise AlreadyExists()
        self.tasks[task.id] = copy.deepcopy(task)

    def update(self, task: Task, expected_version: int) -> None:
        stored = self.tasks.get(task.id)
        if stored is None:
            raise NotFound()
        if stored.version != expected_version:
            raise Conflict(stored.version)
        self.tasks[task.id] = copy.deepcopy(task)

    def list(self, owner: str, status: Optional[str], cursor: Optional[str], limit: int):
        after = None if cursor is None else parse_cursor(cursor)
        mine = sorted(
            (t for t in self.tasks.values() if t.owner == owner and status in (None, t.status)),
            key=lambda t: (t.created_at, t.id),
        )
        mine = [t for t in mine if after is None or (t.created_at, t.id) > after]
        page = [copy.deepcopy(t) for t in mine[:limit]]
        return page, (cursor_of(page[-1]) if len(mine) > len(page) else None)

    def delete(self, id: str) -> None:
        if self.tasks.pop(id, None) is None:
            raise NotFound()

    def expire(self, now: int) -> list[str]:
        gone = [t.id for t in self.tasks.values() if t.ttl is not None and t.created_at + t.ttl <= now]
        for id in gone:
            del self.tasks[id]
        return gone

    def abandoned(self, now: int, limit: int) -> list[str]:
        lapsed = [
            t.id
            for t in self.tasks.values()
            if t.status in LIVE and t.lease_until is not None and t.lease_until <= now
        ]
        return lapsed[:limit]

    def close(self) -> None:
        pass


def migrations(dialect: str) -> list[str]:
    """The migrations of a SQL store (`sqlite` or `postgres`), in order: the Rust host's schema
    files (host/src/store/schema/), which the package links to and its wheel carries."""
    folder = resources.files(__package__).joinpath("schema", dialect)
    files = [f for f in folder.iterdir() if f.name.endswith(".sql") and f.name[:-4].isdigit()]
    return [f.read_text() for f in sorted(files, key=lambda f: int(f.name[:-4]))]


class _Sql:
    """What the SQL stores share: the statements differ only in placeholders and table name."""

    table = "tasks"
    mark = "?"

    def _q(self, sql: str) -> str:
        return sql.replace("{t}", self.table).replace("?", self.mark)

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        raise NotImplementedError

    def _unique_violation(self, e: Exception) -> bool:
        raise NotImplementedError

    def get(self, id: str) -> Optional[Task]:
        rows = self._run("SELECT body FROM {t} WHERE id = ?", (id,))
        return decode_body(rows[0][0]) if rows else None

    def create(self, task: Task) -> None:
        try:
            self._run(
                "INSERT INTO {t} (id, owner, status, created_at, expires_at, lease_until, version, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _columns(task),
            )
        except Exception as e:
            if self._unique_violation(e):
                raise AlreadyExists() from e
            raise

    def update(self, task: Task, expected_version: int) -> None:
        id, *rest = _columns(task)
        changed = self._run(
            "UPDATE {t} SET owner = ?, status = ?, created_at = ?, expires_at = ?, lease_until = ?,"
            " version = ?, body = ? WHERE id = ? AND version = ?",
            (*rest, id, expected_version),
            count=True,
        )
        if changed == 1:
            return
        rows = self._run("SELECT version FROM {t} WHERE id = ?", (task.id,))
        if not rows:
            raise NotFound()
        raise Conflict(int(rows[0][0]))

    def list(self, owner: str, status: Optional[str], cursor: Optional[str], limit: int):
        at, after = (-1, "") if cursor is None else parse_cursor(cursor)
        if status is None:
            rows = self._run(
                "SELECT body FROM {t} WHERE owner = ? AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?",
                (owner, at, after, limit + 1),
            )
        else:
            rows = self._run(
                "SELECT body FROM {t} WHERE owner = ? AND status = ? AND (created_at, id) > (?, ?)"
                " ORDER BY created_at, id LIMIT ?",
                (owner, status_name(status), at, after, limit + 1),
            )
        tasks = [decode_body(r[0]) for r in rows[:limit]]
        return tasks, (cursor_of(tasks[-1]) if len(rows) > limit else None)

    def delete(self, id: str) -> None:
        if self._run("DELETE FROM {t} WHERE id = ?", (id,), count=True) == 0:
            raise NotFound()

    def abandoned(self, now: int, limit: int) -> list[str]:
        rows = self._run(
            "SELECT id FROM {t} WHERE lease_until <= ? AND status IN ('working', 'input_required') LIMIT ?",
            (now, limit),
        )
        return [r[0] for r in rows]


class SqliteStore(_Sql):
    """The file store (`file:PATH`): SQLite in WAL mode, with a busy timeout, one statement per change."""

    def __init__(self, path: str):
        try:
            self.db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
            mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL mode (journal mode is {mode})")
            self.db.execute("PRAGMA synchronous = NORMAL")
            # One immediate transaction: two processes opening a new file do not both migrate.
            self.db.execute("BEGIN IMMEDIATE")
            applied = self.db.execute("PRAGMA user_version").fetchone()[0]
            schema = migrations("sqlite")
            for migration in schema[applied:]:
                for statement in filter(str.strip, migration.split(";")):
                    self.db.execute(statement)
            if applied < len(schema):
                self.db.execute(f"PRAGMA user_version = {len(schema)}")
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            raise ValueError(f"mcp-tasks: cannot open the store file {path}: {e}") from e

    def _run(self, sql: str, params: tuple[Any, ...] = (), count: bool = False) -> Any:
        try:
            cur = self.db.execute(self._q(sql), params)
            return cur.rowcount if count else cur.fetchall()
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as e:
            raise Unavailable(str(e)) from e

    def _unique_violation(self, e: Exception) -> bool:
        return isinstance(e, sqlite3.IntegrityError)

    def expire(self, now: int) -> list[str]:
        gone: list[str] = []
        while True:  # in batches: a sweep that expires many does not hold the file for long
            rows = self._run(
                "DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE expires_at <= ? LIMIT 250) RETURNING id",
                (now,),
            )
            gone += [r[0] for r in rows]
            if len(rows) < 250:
                return gone

    def close(self) -> None:
        self.db.close()


# pg_advisory_xact_lock's key, as the Rust host's: hosts starting together migrate in turn.
MIGRATION_LOCK = 0x6D63_705F_7461_736B


class PostgresStore(_Sql):
    """Tasks in a PostgreSQL database (`postgres://...`), shared by hosts on several machines."""

    table = "mcp_tasks"
    mark = "%s"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError as e:
            raise ValueError("mcp-tasks: a postgres:// store needs psycopg (pip install 'mcp-tasks[postgres]')") from e
        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                self.conn.execute("CREATE TABLE IF NOT EXISTS mcp_tasks_schema (applied INTEGER NOT NULL)")
                row = self.conn.execute("SELECT applied FROM mcp_tasks_schema").fetchone()
                if row is None:
                    self.conn.execute("INSERT INTO mcp_tasks_schema (applied) VALUES (0)")
                applied = 0 if row is None else row[0]
                schema = migrations("postgres")
                for migration in schema[applied:]:
                    self.conn.execute(migration)
                self.conn.execute("UPDATE mcp_tasks_schema SET applied = %s", (len(schema),))
        except psycopg.Error as e:
            raise ValueError(f"mcp-tasks: cannot open the store {_redact(url)}: {e}") from e

    def _run(self, sql: str, params: tuple[Any, ...] = (), count: bool = False) -> Any:
        try:
            cur = self.conn.execute(self._q(sql), params)
            if count:
                return cur.rowcount
            return cur.fetchall() if cur.description else []
        except self._psycopg.errors.UniqueViolation:
            raise
        except self._psycopg.Error as e:
            raise Unavailable(str(e)) from e

    def _unique_violation(self, e: Exception) -> bool:
        return isinstance(e, self._psycopg.errors.UniqueViolation)

    def expire(self, now: int) -> list[str]:
        return [r[0] for r in self._run("DELETE FROM {t} WHERE expires_at <= ? RETURNING id", (now,))]

    def close(self) -> None:
        self.conn.close()


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    try:
        u = urlsplit(url)
        if u.password:
            netloc = u.netloc.replace(f":{u.password}@", ":***@")
            return urlunsplit(u._replace(netloc=netloc))
        return url
    except ValueError:
        return "(the URL given)"


def open_store(store: Any) -> Any:
    """The store a URL names, or `store` itself if it is an object with the store's methods."""
    if not isinstance(store, str):
        missing = [m for m in ("get", "create", "update", "list", "delete", "expire", "abandoned") if not hasattr(store, m)]
        if missing:
            raise ValueError(f"mcp-tasks: the store lacks {', '.join(missing)}")
        return store
    if store == "memory:":
        return MemoryStore()
    if store.startswith("file:"):
        path = store[len("file:") :]
        if not path:
            raise ValueError("mcp-tasks: a file: store names its file (file:tasks.db)")
        return SqliteStore(path)
    if store.startswith(("postgres://", "postgresql://")):
        return PostgresStore(store)
    raise ValueError(f"mcp-tasks: unknown store '{store}': use memory:, file:PATH or postgres://...")
