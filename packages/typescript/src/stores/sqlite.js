// The file store (`file:PATH`): SQLite through better-sqlite3, in the Rust host's schema
// (host/src/store/sqlite.rs), so that `mcp-tasks serve --store file:PATH` and this package
// share one file: a task created through either is seen, answered and cancelled through the other.
//
// WAL mode lets readers and the one writer of the moment work at once; a busy timeout makes a
// process wait for another's write instead of failing; each change is one statement.
import { createRequire } from "node:module";
import { cursorOf, decodeBody, encodeBody, migrations, parseCursor, statusName } from "./shared.js";

/** The schema, one migration per entry; `PRAGMA user_version` counts those applied. */
const MIGRATIONS = migrations("sqlite");

const BUSY_TIMEOUT_MS = 10_000;
const EXPIRE_BATCH = 250;

const unavailable = (e) => ({ tag: "unavailable", val: String(e?.message ?? e) });

/** Run `f`, turning a database failure into the WIT's `unavailable`. */
function guarded(f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e.tag === "string") throw e;
    throw unavailable(e);
  }
}

export class SqliteStore {
  #db;
  #statements;

  /** Open (creating if need be) the store in this file, and bring its schema up to date. */
  constructor(path) {
    let Database;
    try {
      Database = createRequire(import.meta.url)("better-sqlite3");
    } catch {
      throw new Error("mcp-tasks: a file: store needs the package better-sqlite3 (npm install better-sqlite3)");
    }
    try {
      this.#db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    } catch (e) {
      throw new Error(`mcp-tasks: cannot open the store file ${path}: ${e.message}`);
    }
    const db = this.#db;
    db.defaultSafeIntegers(true);
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (String(mode).toLowerCase() !== "wal") {
      throw new Error(`mcp-tasks: cannot switch ${path} to WAL mode (journal mode is ${mode})`);
    }
    db.pragma("synchronous = NORMAL");
    // One immediate transaction: two processes opening a new file do not both create the schema.
    db.transaction(() => {
      const applied = Number(db.pragma("user_version", { simple: true }));
      for (const migration of MIGRATIONS.slice(applied)) db.exec(migration);
      if (applied < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
    this.#statements = {
      get: db.prepare("SELECT body FROM tasks WHERE id = ?").pluck(),
      insert: db.prepare(
        `INSERT INTO tasks (id, owner, status, created_at, expires_at, lease_until, version, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      update: db.prepare(
        `UPDATE tasks SET owner = ?, status = ?, created_at = ?, expires_at = ?,
             lease_until = ?, version = ?, body = ?
         WHERE id = ? AND version = ?`,
      ),
      version: db.prepare("SELECT version FROM tasks WHERE id = ?").pluck(),
      list: db.prepare(
        `SELECT body FROM tasks
         WHERE owner = ? AND (? IS NULL OR status = ?) AND (created_at, id) > (?, ?)
         ORDER BY created_at, id LIMIT ?`,
      ).pluck(),
      delete: db.prepare("DELETE FROM tasks WHERE id = ?"),
      expire: db.prepare(
        `DELETE FROM tasks WHERE rowid IN
           (SELECT rowid FROM tasks WHERE expires_at <= ? LIMIT ?) RETURNING id`,
      ).pluck(),
      abandoned: db.prepare(
        `SELECT id FROM tasks WHERE lease_until <= ? AND status IN ('working', 'input_required')
         LIMIT ?`,
      ).pluck(),
    };
  }

  get(id) {
    return guarded(() => {
      const body = this.#statements.get.get(id);
      return body === undefined ? undefined : decodeBody(body);
    });
  }

  create(task) {
    guarded(() => {
      try {
        this.#statements.insert.run(...columns(task));
      } catch (e) {
        if (e?.code === "SQLITE_CONSTRAINT_PRIMARYKEY") throw { tag: "already-exists" };
        throw e;
      }
    });
  }

  update(task, expectedVersion) {
    guarded(() => {
      const [id, ...rest] = columns(task);
      const changed = this.#statements.update.run(...rest, id, expectedVersion).changes;
      if (changed === 1) return;
      const stored = this.#statements.version.get(task.id);
      if (stored === undefined) throw { tag: "not-found" };
      throw { tag: "conflict", val: BigInt(stored) };
    });
  }

  list(owner, status, cursor, limit) {
    const after = cursor === undefined ? { createdAt: -1n, id: "" } : parseCursor(cursor);
    return guarded(() => {
      const status_ = status === undefined ? null : statusName(status);
      const bodies = this.#statements.list.all(owner, status_, status_, after.createdAt, after.id, limit + 1);
      const tasks = bodies.slice(0, limit).map(decodeBody);
      const nextCursor = bodies.length > limit ? cursorOf(tasks[tasks.length - 1]) : undefined;
      return { tasks, nextCursor };
    });
  }

  delete(id) {
    guarded(() => {
      if (this.#statements.delete.run(id).changes === 0) throw { tag: "not-found" };
    });
  }

  expire(now) {
    return guarded(() => {
      // In batches: a sweep that expires many tasks at once does not hold the file for long.
      const gone = [];
      for (;;) {
        const batch = this.#statements.expire.all(now, EXPIRE_BATCH);
        gone.push(...batch);
        if (batch.length < EXPIRE_BATCH) return gone;
      }
    });
  }

  abandoned(now, limit) {
    return guarded(() => this.#statements.abandoned.all(now, limit));
  }

  close() {
    this.#db.close();
  }
}

/** A row's columns, in the order of the table. */
function columns(t) {
  return [
    t.id,
    t.owner,
    statusName(t.status),
    t.createdAt,
    t.ttl === undefined ? null : t.createdAt + t.ttl,
    t.leaseUntil ?? null,
    t.version,
    encodeBody(t),
  ];
}
