// Every store of the package keeps the contract the Rust stores keep: conformance/store.json.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MemoryStore, PostgresStore, SqliteStore, Tasks } from "mcp-tasks";
import { checkStore } from "../../../conformance/store.mjs";
import { postgresUrl } from "./postgres.mjs";

test("the memory store passes the store conformance cases", () => {
  const { cases, steps } = checkStore(() => new MemoryStore());
  assert.ok(cases > 0 && steps > cases);
});

test("the SQLite store passes the store conformance cases", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-tasks-"));
  let n = 0;
  try {
    const { cases } = checkStore(() => new SqliteStore(join(dir, `case-${n++}.db`)));
    assert.equal(n, cases);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the PostgreSQL store passes the store conformance cases", async () => {
  // A fresh schema per case: checkStore wants each store empty, and opens them synchronously.
  const fixture = JSON.parse(readFileSync(new URL("../../../conformance/store.json", import.meta.url), "utf8"));
  const urls = [];
  for (const _ of fixture.cases) urls.push(await postgresUrl());
  const { cases } = checkStore(() => new PostgresStore(urls.shift()));
  assert.ok(cases > 0);
});

test("a bad store URL is a clear error at start", async () => {
  await assert.rejects(Tasks.open({ store: "carrier-pigeon://coop" }), /unknown store 'carrier-pigeon:\/\/coop': use memory:, file:PATH or postgres:\/\/\.\.\./);
  await assert.rejects(Tasks.open({ store: "file:" }), /a file: store names its file/);
  await assert.rejects(Tasks.open({ store: "file:/no/such/dir/tasks.db" }), /cannot open the store file \/no\/such\/dir\/tasks.db/);
  await assert.rejects(
    Tasks.open({ store: "postgres://nobody:secret@127.0.0.1:1/test" }),
    /cannot open the store postgres:\/\/nobody:\*\*\*@127.0.0.1:1\/test: .*ECONNREFUSED/,
  );
});
