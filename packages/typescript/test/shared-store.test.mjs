// One store, any language: the package's SQLite store is the Rust host's schema, so a task
// created through this package's server is read and cancelled through `mcp-tasks serve` on the
// same file, and a task created there is answered here.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Lines } from "./lines.mjs";
import { postgresUrl } from "./postgres.mjs";

const binary = process.env.MCP_TASKS_BIN ?? new URL("../../../target/release/mcp-tasks", import.meta.url).pathname;
const example = new URL("../examples/server.mjs", import.meta.url).pathname;

/** `mcp-tasks serve` on the file, the same owner, with tools of the same names. */
function rustServer(store, dir) {
  const tools = join(dir, "tools.toml");
  writeFileSync(
    tools,
    `[[tools]]
name = "long"
command = ["sleep", "300"]
task_support = "required"

[[tools]]
name = "confirm"
command = ["true"]
task_support = "required"

[[tools]]
name = "ask"
command = ["sh", "-c", "read args; echo '{\\"message\\":\\"Proceed?\\",\\"requestedSchema\\":{\\"type\\":\\"object\\",\\"properties\\":{\\"ok\\":{\\"type\\":\\"boolean\\"}}}}' >&3; read answer; echo \\"$answer\\""]
task_support = "required"
questions = true
`,
  );
  return new Lines(binary, ["serve", "--store", store, "--tools", tools, "--owner", "shared"]);
}

test("a task created through the TypeScript server is read and cancelled through mcp-tasks serve", async () => {
  assert.ok(existsSync(binary), `no mcp-tasks binary at ${binary}: set MCP_TASKS_BIN`);
  const dir = mkdtempSync(join(tmpdir(), "mcp-tasks-"));
  const store = `file:${join(dir, "tasks.db")}`;
  const ts = new Lines(process.execPath, [example, store, "shared"]);
  const rust = rustServer(store, dir);
  try {
    await ts.initialize();
    await rust.initialize();
    const created = await ts.request("tools/call", { name: "long", arguments: {}, task: { ttl: 60_000 } });
    const { taskId } = created.result.task;
    assert.equal((await rust.request("tasks/get", { taskId })).result.status, "working");
    const listed = (await rust.request("tasks/list", {})).result.tasks.map((t) => t.taskId);
    assert.deepEqual(listed, [taskId]);
    assert.equal((await rust.request("tasks/cancel", { taskId })).result.status, "cancelled");
    // The TypeScript server's sweep sees the task ended elsewhere and stops its handler.
    for (let i = 0; i < 100 && !ts.stderr.includes(`long: cancelled (${taskId})`); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(ts.stderr, /long: cancelled/);
    assert.equal((await ts.request("tasks/get", { taskId })).result.status, "cancelled");
  } finally {
    await ts.close();
    await rust.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a task whose tool runs in the TypeScript server is answered through mcp-tasks serve", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-tasks-"));
  const store = `file:${join(dir, "tasks.db")}`;
  const ts = new Lines(process.execPath, [example, store, "shared"]);
  const rust = rustServer(store, dir);
  try {
    await ts.initialize();
    await rust.initialize({ elicitation: {} });
    // A 2026-07-28 client: the questions are in the task, answered with tasks/update.
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "mcp-tasks-test", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} }, extensions: { "io.modelcontextprotocol/tasks": {} } },
    };
    const created = await ts.request("tools/call", { name: "confirm", arguments: {}, _meta: meta });
    assert.equal(created.result.resultType, "task", JSON.stringify(created));
    const { taskId } = created.result;
    const task = await rust.until(taskId, "input_required", meta);
    const [key] = Object.keys(task.inputRequests);
    const answered = await rust.request("tasks/update", {
      taskId,
      inputResponses: { [key]: { action: "accept", content: { ok: true } } },
      _meta: meta,
    });
    assert.equal(answered.error, undefined, JSON.stringify(answered));
    // The TypeScript server's sweep hands its tool the answer the other host took.
    const done = await ts.until(taskId, "completed", meta);
    assert.equal(done.result.content[0].text, '{"ok":true}\n');
  } finally {
    await ts.close();
    await rust.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a task created through mcp-tasks serve on PostgreSQL is answered through the TypeScript server", async () => {
  const store = await postgresUrl();
  const dir = mkdtempSync(join(tmpdir(), "mcp-tasks-"));
  const rust = rustServer(store, dir);
  const ts = new Lines(process.execPath, [example, store, "shared"]);
  try {
    // A 2025-11-25 client of mcp-tasks serve creates the task; its tool (`confirm`, a command
    // there) asks nothing: here the task is answered, through the TypeScript server, by a
    // 2026-07-28 client's tasks/update after the Rust host's tool asked through the store.
    await rust.initialize({ elicitation: {} });
    await ts.initialize({ elicitation: {} });
    const created = await rust.request("tools/call", { name: "ask", arguments: {}, task: { ttl: 60_000 } });
    const { taskId } = created.result.task;
    const asked = await ts.until(taskId, "input_required");
    assert.equal(asked.taskId, taskId);
    // The 2025-11-25 way to answer: tasks/result through the TypeScript server sends the
    // question to its client; the answer goes back to the Rust host's tool through the store.
    const pending = ts.request("tasks/result", { taskId });
    let question;
    for (let i = 0; i < 100 && !question; i++) {
      question = ts.others.find((m) => m.method === "elicitation/create");
      if (!question) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(question, `no question came; got ${JSON.stringify(ts.others)}`);
    ts.write({ jsonrpc: "2.0", id: question.id, result: { action: "accept", content: { ok: true } } });
    const result = await pending;
    assert.equal(result.error, undefined, JSON.stringify(result));
    assert.match(result.result.content[0].text, /"ok":true/);
    assert.equal((await rust.request("tasks/get", { taskId })).result.status, "completed");
  } finally {
    await ts.close();
    await rust.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
