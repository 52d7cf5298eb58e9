// The example server (a TypeScript SDK 2.x McpServer with tasks from this package) over stdio,
// driven by raw JSON-RPC lines: what a client sees, errors included.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Lines } from "./lines.mjs";

const server = () => new Lines(process.execPath, [new URL("../examples/server.mjs", import.meta.url).pathname]);

test("a 2025-11-25 client: task tools listed, a task completed, a plain call answered", async () => {
  const s = server();
  try {
    const init = await s.initialize();
    assert.deepEqual(init.result.capabilities.tasks, { list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const tools = (await s.request("tools/list", {})).result.tools;
    assert.deepEqual(tools.find((t) => t.name === "long").execution, { taskSupport: "required" });
    const created = await s.request("tools/call", { name: "greet", arguments: { name: "Ada" }, task: { ttl: 60_000 } });
    const { taskId } = created.result.task;
    await s.until(taskId, "completed");
    const result = await s.request("tasks/result", { taskId });
    assert.equal(result.result.content[0].text, "hello, Ada\n");
    const plain = await s.request("tools/call", { name: "shout", arguments: { text: "hi" } });
    assert.equal(plain.result.content[0].text, "HI\n");
  } finally {
    await s.close();
  }
});

test("bad input gets a JSON-RPC error, as from the Rust host", async () => {
  const s = server();
  try {
    await s.initialize();
    const missing = await s.request("tools/call", { name: "greet", arguments: {}, task: {} });
    assert.equal(missing.error.code, -32602);
    assert.match(missing.error.message, /name/);
    const unknown = await s.request("tasks/get", { taskId: "no-such-task" });
    assert.equal(unknown.error.code, -32602);
    const forbidden = await s.request("tools/call", { name: "long", arguments: {} });
    assert.equal(forbidden.error.code, -32601);
    // greet's zod schema refuses a number for the name: the handler never runs.
    const wrong = await s.request("tools/call", { name: "greet", arguments: { name: 42 }, task: {} });
    const failed = await s.until(wrong.result.task.taskId, "failed");
    assert.match(failed.statusMessage, /Invalid arguments for tool greet: name: /);
    const plain = await s.request("tools/call", { name: "greet", arguments: { name: 42 } });
    assert.equal(plain.error.code, -32602);
    assert.match(plain.error.message, /Invalid arguments for tool greet/);
  } finally {
    await s.close();
  }
});

test("a handler's exception fails its task with the message; a ProtocolError is a JSON-RPC error", async () => {
  const s = server();
  try {
    await s.initialize();
    const broken = await s.request("tools/call", { name: "broken", arguments: {}, task: {} });
    const failed = await s.until(broken.result.task.taskId, "failed");
    assert.equal(failed.statusMessage, "the disk is full");
    const result = await s.request("tasks/result", { taskId: failed.taskId });
    assert.deepEqual(result.result.content, [{ type: "text", text: "the disk is full" }]);
    assert.equal(result.result.isError, true);

    const limited = await s.request("tools/call", { name: "limited", arguments: {}, task: {} });
    await s.until(limited.result.task.taskId, "failed");
    const error = await s.request("tasks/result", { taskId: limited.result.task.taskId });
    assert.deepEqual(error.error, { code: -32603, message: "API rate limit exceeded" });

    // A plain call: the exception is a tool error result.
    const plain = await s.request("tools/call", { name: "broken", arguments: {} });
    assert.equal(plain.result.isError, true);
    assert.equal(plain.result.content[0].text, "the disk is full");
  } finally {
    await s.close();
  }
});

test("a cancel reaches the handler's signal", async () => {
  const s = server();
  try {
    await s.initialize();
    const created = await s.request("tools/call", { name: "long", arguments: {}, task: {} });
    const { taskId } = created.result.task;
    const cancelled = await s.request("tasks/cancel", { taskId });
    assert.equal(cancelled.result.status, "cancelled");
    for (let i = 0; i < 100 && !s.stderr.includes(`long: cancelled (${taskId})`); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(s.stderr, new RegExp(`long: cancelled \\(${taskId}\\)`));
  } finally {
    await s.close();
  }
});
