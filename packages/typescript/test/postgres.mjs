// A PostgreSQL URL for a schema of the test's own, fresh and empty, as the Rust tests make them
// (tests/src/lib.rs): the server on 127.0.0.1:5432, database `test` (MCP_TASKS_TEST_POSTGRES).
import pg from "pg";

let n = 0;

export async function postgresUrl() {
  const base = process.env.MCP_TASKS_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";
  const schema = `ts_${process.pid}_${n++}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
  return `${base}${base.includes("?") ? "&" : "?"}options=-csearch_path%3D${schema}`;
}
