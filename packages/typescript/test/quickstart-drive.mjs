// Drives the README's quick-start server (server.js in the directory given) as a client would:
// over stdio, a 2025-11-25 task of `countdown` from 2, polled to its end, and its result; then a
// 2026-07-28 call that declares the extension, answered with a task.
// Usage: node quickstart-drive.mjs DIR   (run by tests/tests/packages.rs)
import assert from "node:assert/strict";
import { join } from "node:path";
import { Lines } from "./lines.mjs";

const dir = process.argv[2];
const server = new Lines(process.execPath, [join(dir, "server.js")], { cwd: dir });
try {
  await server.initialize();
  const tools = (await server.request("tools/list", {})).result.tools;
  assert.deepEqual(tools.map((t) => t.name), ["countdown"]);
  const created = await server.request("tools/call", { name: "countdown", arguments: { from: 2 }, task: {} });
  const { taskId } = created.result.task;
  await server.until(taskId, "completed");
  const result = await server.request("tasks/result", { taskId });
  assert.equal(result.result.content[0].text, "lift-off");
  // A 2026-07-28 call that declares the extension: a task at once.
  const meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "quick-start", version: "1" },
    "io.modelcontextprotocol/clientCapabilities": { extensions: { "io.modelcontextprotocol/tasks": {} } },
  };
  const modern = await server.request("tools/call", { name: "countdown", arguments: { from: 1 }, _meta: meta });
  assert.equal(modern.result?.resultType, "task", JSON.stringify(modern));
  assert.equal(modern.result.status, "working");
  console.log("quick start: a 2025-11-25 task completed; a 2026-07-28 call became a task");
} finally {
  await server.close();
}
