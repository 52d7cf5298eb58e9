// A whole task lifecycle against `mcp-tasks serve`, through the official TypeScript SDK (1.32.x),
// over stdio, or over Streamable HTTP when a URL is given (the server then already runs).
//
// Usage: node lifecycle.mjs MCP_TASKS_BINARY TOOLS_TOML [URL]
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ElicitRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";

const [binary, tools, url] = process.argv.slice(2);
const transport = url
  ? new StreamableHTTPClientTransport(new URL(url))
  : new StdioClientTransport({
      command: binary,
      args: ["serve", "--tools", tools, "--owner", "typescript-sdk"],
      stderr: "inherit",
    });
const client = new Client(
  { name: "mcp-tasks-interop", version: "1.0.0" },
  { capabilities: { elicitation: { form: {} } } },
);
// Questions a task asks (elicitation/create) are answered here.
const questions = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  questions.push(request.params);
  return { action: "accept", content: { ok: true } };
});
await client.connect(transport);

const caps = client.getServerCapabilities();
assert.ok(caps?.tasks?.requests?.tools?.call, "tasks.requests.tools.call declared");
const { tools: listed } = await client.listTools();
assert.deepEqual(
  Object.fromEntries(listed.map((t) => [t.name, t.execution?.taskSupport])),
  {
    greet: "optional",
    long: "required",
    confirm: "required",
    interview: "required",
    limited: "optional",
    steps: "optional",
    queued: "optional",
    shout: "optional",
    loud_greeting: "required",
  },
);

// Poll a task until it ends.
async function untilTerminal(id) {
  for (let i = 0; i < 400; i++) {
    const task = await client.experimental.tasks.getTask(id);
    if (!["working", "input_required"].includes(task.status)) return task;
    await new Promise((resolve) => setTimeout(resolve, task.pollInterval ?? 100));
  }
  throw new Error(`task ${id} never ended`);
}

// Call as a task through the SDK's stream: task created, (status), result.
const stream = client.experimental.tasks.callToolStream(
  { name: "greet", arguments: { name: "typescript" } },
  CallToolResultSchema,
  { task: { ttl: 60000 } },
);
let taskId;
let result;
for await (const message of stream) {
  if (message.type === "taskCreated") taskId = message.task.taskId;
  else if (message.type === "result") result = message.result;
  else if (message.type === "error") throw message.error;
}
assert.ok(taskId, "a task was created");
assert.equal(result.content[0].text, "hello, typescript\n");

// Poll, fetch the result again, list.
const task = await client.experimental.tasks.getTask(taskId);
assert.equal(task.status, "completed");
assert.equal(task.ttl, 60000);
const again = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
assert.equal(again.content[0].text, "hello, typescript\n");
assert.equal(again._meta["io.modelcontextprotocol/related-task"].taskId, taskId);
const { tasks } = await client.experimental.tasks.listTasks();
assert.ok(tasks.some((t) => t.taskId === taskId), "the task is listed");

// Cancel a long task; a second cancel is refused with -32602.
const long = await client.request(
  { method: "tools/call", params: { name: "long", arguments: {}, task: { ttl: 60000 } } },
  CreateTaskResultSchema,
);
const cancelled = await client.experimental.tasks.cancelTask(long.task.taskId);
assert.equal(cancelled.status, "cancelled");
assert.equal((await client.experimental.tasks.getTask(long.task.taskId)).status, "cancelled");
await assert.rejects(client.experimental.tasks.cancelTask(long.task.taskId), (e) => e instanceof McpError && e.code === -32602);

// input_required: on stdio the server sends the task's question after the first tasks/get that
// shows it, or with tasks/result, whichever comes first (the spec lets a task's messages arrive
// on any stream); the handler above answers it, the tool prints the answer, and the stream's
// tasks/result gets the result; the question is never asked twice.
const statuses = [];
let confirmId;
let confirmed;
for await (const message of client.experimental.tasks.callToolStream(
  { name: "confirm", arguments: {} },
  CallToolResultSchema,
  { task: { ttl: 60000 } },
)) {
  if (message.type === "taskCreated") confirmId = message.task.taskId;
  else if (message.type === "taskStatus") statuses.push(message.task);
  else if (message.type === "result") confirmed = message.result;
  else if (message.type === "error") throw message.error;
}
// The answer may come back before a poll sees input_required; if one did, it says what it awaits.
const asked = statuses.find((t) => t.status === "input_required");
if (asked) assert.equal(asked.statusMessage, "Waiting for input: Proceed?");
assert.equal(questions.length, 1);
assert.equal(questions[0].message, "Proceed?");
assert.equal(questions[0]._meta["io.modelcontextprotocol/related-task"].taskId, confirmId);
assert.equal(confirmed.content[0].text, '{"action":"accept","content":{"ok":true}}\n');
assert.equal((await client.experimental.tasks.getTask(confirmId)).status, "completed");

// Progress: the SDK asks for it with onprogress (it sends a progressToken) and hears each
// notifications/progress. A plain call's come before its result; a task's keep coming after the
// CreateTaskResult, on the same token, until the task ends.
const steps = Array.from({ length: 10 }, (_, i) => i + 1);
const plainProgress = [];
const stepped = await client.callTool({ name: "steps", arguments: {} }, CallToolResultSchema, {
  onprogress: (p) => plainProgress.push(p),
});
assert.equal(stepped.content[0].text, "done\n");
assert.deepEqual(plainProgress.map((p) => p.progress), steps);
assert.deepEqual(plainProgress[2], { progress: 3, total: 10, message: "step 3 of 10" });
const taskProgress = [];
const steppedTask = await client.request(
  { method: "tools/call", params: { name: "steps", arguments: {}, task: { ttl: 60000 } } },
  CreateTaskResultSchema,
  { onprogress: (p) => taskProgress.push(p) },
);
let stepsTask;
do {
  await new Promise((resolve) => setTimeout(resolve, 100));
  stepsTask = await client.experimental.tasks.getTask(steppedTask.task.taskId);
} while (stepsTask.status === "working");
assert.equal(stepsTask.status, "completed");
// Over HTTP the notifications travel on the session's GET stream, beside the polls' answers:
// the last may land just after the poll that sees the task completed.
for (let i = 0; i < 50 && taskProgress.length < steps.length; i++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
assert.deepEqual(taskProgress.map((p) => p.progress), steps);
assert.equal(taskProgress[9].message, "step 10 of 10");

// A queued task (its tool has run = "queue"): claimed by a host sharing the store (here the
// server's own sweep), run, and completed like any other.
const queued = await client.request(
  { method: "tools/call", params: { name: "queued", arguments: { name: "typescript" }, task: { ttl: 60000 } } },
  CreateTaskResultSchema,
);
assert.equal(queued.task.statusMessage, "Queued: waiting for a host to run it.");
assert.equal((await untilTerminal(queued.task.taskId)).status, "completed");
const fromQueue = await client.experimental.tasks.getTaskResult(queued.task.taskId, CallToolResultSchema);
assert.equal(fromQueue.content[0].text, "hello from the queue, typescript\n");

// A workflow: greet, then shout the greeting; tasks/get shows its steps in _meta.
const workflow = await client.request(
  { method: "tools/call", params: { name: "loud_greeting", arguments: { name: "typescript" }, task: { ttl: 60000 } } },
  CreateTaskResultSchema,
);
const ended = await untilTerminal(workflow.task.taskId);
assert.equal(ended.status, "completed");
assert.deepEqual(
  ended._meta["mcp-tasks/workflow"].steps.map((s) => [s.tool, s.status]),
  [["greet", "completed"], ["shout", "completed"]],
);
assert.deepEqual(ended._meta["mcp-tasks/workflow"].steps[0].output, { text: "hello, typescript" });
const loud = await client.experimental.tasks.getTaskResult(workflow.task.taskId, CallToolResultSchema);
assert.equal(loud.content[0].text, "HELLO, TYPESCRIPT\n");

// A plain call of an optional tool answers directly.
const plain = await client.callTool({ name: "greet", arguments: { name: "plain" } });
assert.equal(plain.content[0].text, "hello, plain\n");

await client.close();
console.log(`typescript sdk lifecycle${url ? " over HTTP" : ""}: ok`);
