// The PostgreSQL store's worker thread: `pg` is asynchronous and the component calls its store
// synchronously, so the store (postgres.js) blocks on this worker (synckit) for each call.
// Queries and schema are the Rust host's (host/src/store/postgres.rs).
import pg from "pg";
import { runAsWorker } from "synckit";
import { migrations } from "./shared.js";

/** A key for pg_advisory_xact_lock, so that hosts starting together migrate one at a time. */
const MIGRATION_LOCK = "7882829484127020907"; // 0x6d63705f7461736b, "mcp_task"

/** The schema, one migration per entry; the table mcp_tasks_schema counts those applied. */
const MIGRATIONS = migrations("postgres");

let pool;

const SQL = {
  get: "SELECT body FROM mcp_tasks WHERE id = $1",
  insert: `INSERT INTO mcp_tasks (id, owner, status, created_at, expires_at, lease_until, version, body)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  update: `UPDATE mcp_tasks SET owner = $2, status = $3, created_at = $4, expires_at = $5,
               lease_until = $6, version = $7, body = $8
           WHERE id = $1 AND version = $9`,
  version: "SELECT version FROM mcp_tasks WHERE id = $1",
  // One statement per shape, each an index's prefix and order (as the Rust store).
  list: `SELECT body FROM mcp_tasks WHERE owner = $1 AND (created_at, id) > ($2, $3)
         ORDER BY created_at, id LIMIT $4`,
  listStatus: `SELECT body FROM mcp_tasks WHERE owner = $1 AND status = $2 AND (created_at, id) > ($3, $4)
               ORDER BY created_at, id LIMIT $5`,
  delete: "DELETE FROM mcp_tasks WHERE id = $1",
  expire: "DELETE FROM mcp_tasks WHERE expires_at <= $1 RETURNING id",
  abandoned: `SELECT id FROM mcp_tasks WHERE lease_until <= $1 AND status IN ('working', 'input_required')
              LIMIT $2`,
};

async function open(url) {
  pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
  pool.on("error", () => {}); // an idle connection that drops is replaced on the next query
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query("CREATE TABLE IF NOT EXISTS mcp_tasks_schema (applied INTEGER NOT NULL)");
    let applied = (await client.query("SELECT applied FROM mcp_tasks_schema")).rows[0]?.applied;
    if (applied === undefined) {
      await client.query("INSERT INTO mcp_tasks_schema (applied) VALUES (0)");
      applied = 0;
    }
    for (const migration of MIGRATIONS.slice(applied)) await client.query(migration);
    await client.query("UPDATE mcp_tasks_schema SET applied = $1", [MIGRATIONS.length]);
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** One store call; a store error comes back as `{ error }`, a database failure as `unavailable`. */
async function call(op, args) {
  try {
    switch (op) {
      case "open":
        await open(args[0]);
        return { ok: true };
      case "close":
        await pool?.end();
        return { ok: true };
      case "get":
        return { ok: (await pool.query(SQL.get, args)).rows[0]?.body };
      case "create":
        try {
          await pool.query(SQL.insert, args);
          return { ok: true };
        } catch (e) {
          if (e.code === "23505") return { error: { tag: "already-exists" } };
          throw e;
        }
      case "update": {
        if ((await pool.query(SQL.update, args)).rowCount === 1) return { ok: true };
        const stored = (await pool.query(SQL.version, [args[0]])).rows[0];
        if (stored === undefined) return { error: { tag: "not-found" } };
        return { error: { tag: "conflict", val: BigInt(stored.version) } };
      }
      case "list": {
        const [owner, status, createdAt, id, limit] = args;
        const rows = status === null
          ? (await pool.query(SQL.list, [owner, createdAt, id, limit])).rows
          : (await pool.query(SQL.listStatus, [owner, status, createdAt, id, limit])).rows;
        return { ok: rows.map((r) => r.body) };
      }
      case "delete":
        return (await pool.query(SQL.delete, args)).rowCount === 0 ? { error: { tag: "not-found" } } : { ok: true };
      case "expire":
        return { ok: (await pool.query(SQL.expire, args)).rows.map((r) => r.id) };
      case "abandoned":
        return { ok: (await pool.query(SQL.abandoned, args)).rows.map((r) => r.id) };
      default:
        throw new Error(`unknown store call ${op}`);
    }
  } catch (e) {
    return { error: { tag: "unavailable", val: String(e?.message ?? e) } };
  }
}

runAsWorker(call);
