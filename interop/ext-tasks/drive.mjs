// The official Tasks extension client, `@modelcontextprotocol/ext-tasks` 0.2.2, drives
// `mcp-tasks serve` over stdio through the official SDK client 2.x, in both generations:
//
// - v2 (2026-07-28, the `io.modelcontextprotocol/tasks` extension): the SDK client negotiates the
//   modern era with `server/discover`; task traffic goes through `rawDispatch` on the same stdio
//   transport, as the package's adapter asks of its host.
// - v1 (2025-11-25): the SDK client's plain `initialize`; the server sends a task's questions as
//   requests after the tasks/get poll that shows them.
//
// Each drives a task to `completed`, one through `input_required` (two keyed questions in v2,
// answered by `onInputRequest`), one `cancelled`, and one `failed` with a JSON-RPC error.
//
// With a URL, the same runs over Streamable HTTP against a server that already runs there. With
// MCP_TASKS_SERVER_COMMAND (a JSON array: program and arguments), that server is started over
// stdio instead of `mcp-tasks serve` (the packages' example servers, which have the same tools).
//
// Usage: node drive.mjs MCP_TASKS_BINARY TOOLS_TOML (v1|v2) [URL]
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";

const [binary, tools, generation, url] = process.argv.slice(2);
assert.ok(generation === "v1" || generation === "v2", "generation: v1 or v2");
const clientInfo = { name: "mcp-tasks-ext-interop", version: "1.0.0" };
const capabilities = { elicitation: { form: {} }, sampling: {} };

const transport = url
  ? new StreamableHTTPClientTransport(new URL(url))
  : new StdioClientTransport({
      ...serverCommand(),
      stderr: "inherit",
    });

function serverCommand() {
  const given = process.env.MCP_TASKS_SERVER_COMMAND;
  if (given === undefined) {
    return { command: binary, args: ["serve", "--tools", tools, "--owner", `ext-tasks-${generation}`] };
  }
  const [command, ...args] = JSON.parse(given);
  return { command, args };
}
const client = new Client(clientInfo, {
  capabilities,
  ...(generation === "v2" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}),
});
await client.connect(transport);
assert.equal(client.getProtocolEra(), generation === "v2" ? "modern" : "legacy");

// The host's request coordinator for v2 task traffic: raw JSON-RPC on the client's own transport,
// with ids of its own, and their responses taken before the SDK client sees them.
const pending = new Map();
let rawIds = 0;
const sdkOnMessage = transport.onmessage;
transport.onmessage = (message, extra) => {
  const waiter = message.id !== undefined && message.method === undefined && pending.get(message.id);
  if (!waiter) return sdkOnMessage?.(message, extra);
  pending.delete(message.id);
  waiter(
    message.error !== undefined
      ? { kind: "error", error: message.error }
      : { kind: "result", result: message.result },
  );
};
const rawDispatch = (request) =>
  new Promise((resolve, reject) => {
    const id = `ext-tasks-${++rawIds}`;
    pending.set(id, resolve);
    transport.send({ jsonrpc: "2.0", id, method: request.method, params: request.params }).catch(reject);
  });

const asked = [];
const session = createTaskSessionFromClient(client, {
  endpointId: `mcp-tasks-${generation}`,
  ...(generation === "v2"
    ? { rawDispatch, v2RequestFraming: { protocolVersion: "2026-07-28", clientInfo, clientCapabilities: capabilities } }
    : {}),
  onInputRequest: async (request, context) => {
    asked.push({ kind: request.kind, delivery: context.delivery, inputId: context.inputId });
    if (request.kind === "elicitation") return { action: "accept", content: { ok: true, name: "Ada" } };
    if (request.kind === "sampling")
      return { role: "assistant", content: { type: "text", text: "roses" }, model: "interop" };
    return { roots: [] };
  },
});
assert.equal(session.capabilities.generation ?? generation, generation);

async function settle(name, args) {
  const execution = await session.callTool(name, args, { task: { preference: "require" } });
  assert.equal(execution.kind, "task", `${name} runs as a task`);
  return execution;
}

// completed
{
  const execution = await settle("greet", { name: "ext" });
  const { outcome } = await execution.settle();
  assert.equal(outcome.status, "completed", JSON.stringify(outcome));
  assert.match(resultFromTaskOutcome(outcome).content[0].text, /hello, ext/);
  console.log(`${generation} completed: ok`);
}

// input_required: v2 asks two keyed questions at once; v1 one, sent to the client as a request
// after the poll that shows it.
{
  const tool = generation === "v2" ? "interview" : "confirm";
  const execution = await settle(tool, {});
  const { outcome } = await execution.settle();
  assert.equal(outcome.status, "completed", JSON.stringify(outcome));
  const text = resultFromTaskOutcome(outcome).content[0].text;
  if (generation === "v2") {
    assert.deepEqual(asked.map((a) => a.kind).sort(), ["elicitation", "sampling"]);
    assert.ok(asked.every((a) => a.delivery === "task-update"), JSON.stringify(asked));
    assert.match(text, /Ada/);
    assert.match(text, /roses/);
  } else {
    assert.deepEqual(asked.map((a) => a.kind), ["elicitation"]);
    assert.match(text, /"ok":true/);
  }
  console.log(`${generation} input_required (${asked.map((a) => `${a.kind} via ${a.delivery}`).join(", ")}): ok`);
}

// cancelled
{
  const execution = await settle("long", {});
  await execution.cancel();
  const { outcome } = await execution.settle();
  assert.equal(outcome.status, "cancelled", JSON.stringify(outcome));
  console.log(`${generation} cancelled: ok`);
}

// failed, with a JSON-RPC error
{
  const execution = await settle("limited", {});
  const { outcome } = await execution.settle();
  assert.equal(outcome.status, "failed", JSON.stringify(outcome));
  assert.match(String(outcome.error?.message ?? outcome.error), /rate limit/);
  console.log(`${generation} failed: ok`);
}

// A queued task (its tool has run = "queue"), claimed by a host sharing the store (here the
// server's own sweep), and a workflow of two steps (greet, then shout the greeting).
{
  const execution = await settle("queued", { name: "ext" });
  const { outcome } = await execution.settle();
  assert.equal(outcome.status, "completed", JSON.stringify(outcome));
  assert.match(resultFromTaskOutcome(outcome).content[0].text, /hello from the queue, ext/);
  console.log(`${generation} queued: ok`);
}
{
  const execution = await settle("loud_greeting", { name: "ext" });
  const { outcome } = await execution.settle();
  assert.equal(outcome.status, "completed", JSON.stringify(outcome));
  assert.equal(resultFromTaskOutcome(outcome).content[0].text, "HELLO, EXT\n");
  console.log(`${generation} workflow: ok`);
}

await session.close();
await client.close();
console.log(`ext-tasks ${generation}${url ? " over HTTP" : ""}: ok`);
