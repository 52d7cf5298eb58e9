// The PostgreSQL store (`postgres://...`): tasks shared by hosts on several machines, in the
// Rust host's schema (host/src/store/postgres.rs), so `mcp-tasks serve --store postgres://...`
// and this package share one database. The database does the compare-and-swap
// (`UPDATE ... WHERE version = $9`). `pg` runs in a worker thread that each call waits for: the
// component calls its store synchronously.
import { createSyncFn } from "synckit";
import { cursorOf, decodeBody, encodeBody, parseCursor, statusName } from "./shared.js";

export class PostgresStore {
  #call;

  /** Connect, and bring the schema up to date; throws a clear error if the database is not there. */
  constructor(url) {
    try {
      this.#call = createSyncFn(new URL("./postgres-worker.js", import.meta.url).pathname, { timeout: 30_000 });
    } catch (e) {
      throw new Error(`mcp-tasks: a postgres: store needs the package pg (npm install pg): ${e.message}`);
    }
    const opened = this.#call("open", [url]);
    if (opened.error) {
      const why = opened.error.val ?? opened.error.tag;
      throw new Error(`mcp-tasks: cannot open the store ${redact(url)}: ${why}`);
    }
  }

  #run(op, args) {
    const answer = this.#call(op, args);
    if (answer.error) throw answer.error;
    return answer.ok;
  }

  get(id) {
    const body = this.#run("get", [id]);
    return body === undefined ? undefined : decodeBody(body);
  }

  create(task) {
    this.#run("create", columns(task));
  }

  update(task, expectedVersion) {
    this.#run("update", [...columns(task), expectedVersion.toString()]);
  }

  list(owner, status, cursor, limit) {
    const after = cursor === undefined ? { createdAt: -1n, id: "" } : parseCursor(cursor);
    const status_ = status === undefined ? null : statusName(status);
    const bodies = this.#run("list", [owner, status_, after.createdAt.toString(), after.id, limit + 1]);
    const tasks = bodies.slice(0, limit).map(decodeBody);
    const nextCursor = bodies.length > limit ? cursorOf(tasks[tasks.length - 1]) : undefined;
    return { tasks, nextCursor };
  }

  delete(id) {
    this.#run("delete", [id]);
  }

  expire(now) {
    return this.#run("expire", [now.toString()]);
  }

  abandoned(now, limit) {
    return this.#run("abandoned", [now.toString(), limit]);
  }

  close() {
    this.#call("close", []);
  }
}

/** A row's columns as $1..$8 (BIGINTs as decimal text: pg takes them exactly). */
function columns(t) {
  const text = (v) => (v === undefined ? null : v.toString());
  return [
    t.id,
    t.owner,
    statusName(t.status),
    text(t.createdAt),
    t.ttl === undefined ? null : (t.createdAt + t.ttl).toString(),
    text(t.leaseUntil),
    text(t.version),
    encodeBody(t),
  ];
}

/** The URL without its password, for messages. */
function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(the URL given)";
  }
}
