// A whole task lifecycle through the mcp-tasks component in Node: jco-transpiled, with the
// store (store.js) and the tool written in JavaScript. This file is the host: it feeds
// JSON-RPC messages to the router and carries out the actions it returns.
//
// Usage: node lifecycle.mjs   (after `npm run transpile`; see docs/wit.md)
import assert from "node:assert/strict";
import { router } from "./gen/tasks.js";
import { machine } from "./gen-machine/machine.js";

const ctx = () => ({ owner: "js", now: BigInt(Date.now()), session, executor: "node-example", push: false, client: "", transport: "node-example" });
let session = "";
let nextId = 1;
const sent = []; // Messages the server wrote to the client.
const runs = []; // Tools the router asked this host to start.

function carryOut(actions) {
  for (const action of actions) {
    switch (action.tag) {
      case "send": sent.push(JSON.parse(action.val.message)); break;
      case "set-session": session = action.val; break;
      case "run-tool": runs.push(action.val); break;
      case "log": console.error(`router: ${action.val}`); break;
      // stop-tool, wait, changed, reply-tool: this example's tools finish at once, and its
      // requests are repeated by hand instead of waiting.
      default: break;
    }
  }
}

/** Send one request; its response. */
function request(method, params) {
  const id = nextId++;
  carryOut(router.handle(JSON.stringify({ jsonrpc: "2.0", id, method, params }), ctx()));
  return sent.find((m) => m.id === id && !("method" in m));
}

/** Run the tools the router started: the `shout` tool upper-cases its text. */
function runTools() {
  while (runs.length > 0) {
    const run = runs.shift();
    const args = JSON.parse(run.arguments);
    const result = { content: [{ type: "text", text: args.text.toUpperCase() }] };
    carryOut(router.toolFinished(run.token, { tag: "success", val: JSON.stringify(result) }, undefined, ctx()));
  }
}

// The pure state machine, from its own component.
assert.equal(machine.canTransition("working", "input-required"), true);
assert.equal(machine.canTransition("completed", "working"), false);
assert.equal(machine.isTerminal("cancelled"), true);

const init = request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "js", version: "1" } });
assert.deepEqual(init.result.capabilities.tasks, { list: {}, cancel: {}, requests: { tools: { call: {} } } });

// Call as a task: created, then the tool runs and completes it.
const created = request("tools/call", { name: "shout", arguments: { text: "hello" }, task: { ttl: 60000 } });
const taskId = created.result.task.taskId;
assert.equal(created.result.task.status, "working");
assert.equal(request("tasks/get", { taskId }).result.status, "working");
runTools();
assert.ok(sent.some((m) => m.method === "notifications/tasks/status" && m.params.status === "completed"));
const result = request("tasks/result", { taskId }).result;
assert.equal(result.content[0].text, "HELLO");
assert.equal(result._meta["io.modelcontextprotocol/related-task"].taskId, taskId);

// Cancel a second task before its tool finishes: it stays cancelled.
const second = request("tools/call", { name: "shout", arguments: { text: "late" }, task: {} }).result.task.taskId;
assert.equal(request("tasks/cancel", { taskId: second }).result.status, "cancelled");
runTools(); // The tool's late result changes nothing.
assert.equal(request("tasks/get", { taskId: second }).result.status, "cancelled");
assert.equal(request("tasks/cancel", { taskId: second }).error.code, -32602);

// List, two per page (server.js sets pageSize 2): the three tasks in the store's order, by
// creation time and then id (tasks made in the same millisecond are ordered by id), then no
// cursor.
const third = request("tools/call", { name: "shout", arguments: { text: "x" }, task: {} }).result.task.taskId;
const byCreation = [taskId, second, third]
  .map((id) => [request("tasks/get", { taskId: id }).result.createdAt, id])
  .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
  .map(([, id]) => id);
const page1 = request("tasks/list", {}).result;
assert.deepEqual(page1.tasks.map((t) => t.taskId), byCreation.slice(0, 2));
const page2 = request("tasks/list", { cursor: page1.nextCursor }).result;
assert.deepEqual(page2.tasks.map((t) => t.taskId), byCreation.slice(2));
assert.equal(page2.nextCursor, undefined);

// Per-call cost of the router through jco (ping: no store) and of can-transition: the median
// of 7 rounds, each the mean of N calls.
const N = 20000;
const ping = JSON.stringify({ jsonrpc: "2.0", id: 0, method: "ping" });
function perCallUs(call) {
  const rounds = [];
  for (let r = 0; r < 8; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) call();
    rounds.push(Number(process.hrtime.bigint() - t0) / N / 1000);
  }
  rounds.shift(); // the first round warms up
  rounds.sort((a, b) => a - b);
  return rounds[3];
}
const pingUs = perCallUs(() => router.handle(ping, ctx()));
const canUs = perCallUs(() => machine.canTransition("working", "completed"));
console.log(`per call through jco (median of 7 rounds): router.handle(ping) ${pingUs.toFixed(2)} µs, can-transition ${canUs.toFixed(2)} µs`);
console.log("js lifecycle: ok");
