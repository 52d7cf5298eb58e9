// A 2025-11-25 session served by two `mcp-tasks serve --http` replicas sharing PostgreSQL,
// through the official TypeScript SDK (1.32.x) behind interop/round-robin.mjs: the session's
// requests go to both replicas, its GET stream to one and the tool runs on the other. A task that
// asks a question completes, and its status notifications arrive on the GET stream.
//
// Usage: node replicas.mjs URL TOKEN
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  ElicitRequestSchema,
  TaskStatusNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [url, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { authorization: `Bearer ${token}` } },
});
const client = new Client(
  { name: "mcp-tasks-replicas", version: "1.0.0" },
  { capabilities: { elicitation: { form: {} } } },
);
const questions = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  questions.push(request.params);
  return { action: "accept", content: { ok: true } };
});
const notified = [];
client.setNotificationHandler(TaskStatusNotificationSchema, (n) => notified.push(n.params));
await client.connect(transport);
assert.ok(transport.sessionId, "a session was opened");

async function callConfirm() {
  let taskId;
  let result;
  for await (const message of client.experimental.tasks.callToolStream(
    { name: "confirm", arguments: {} },
    CallToolResultSchema,
    { task: { ttl: 60000 } },
  )) {
    if (message.type === "taskCreated") taskId = message.task.taskId;
    else if (message.type === "result") result = message.result;
    else if (message.type === "error") throw message.error;
  }
  assert.equal(result.content[0].text, '{"action":"accept","content":{"ok":true}}\n');
  return taskId;
}

const taskId = await callConfirm();
assert.equal(questions.length, 1, "the question was asked once");
assert.equal(questions[0].message, "Proceed?");
assert.equal(questions[0]._meta["io.modelcontextprotocol/related-task"].taskId, taskId);
assert.equal((await client.experimental.tasks.getTask(taskId)).status, "completed");
// The task's end reaches the GET stream (on the other replica) through the store.
for (let i = 0; i < 100 && !notified.some((t) => t.taskId === taskId && t.status === "completed"); i++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const statuses = notified.filter((t) => t.taskId === taskId).map((t) => t.status);
assert.ok(statuses.includes("completed"), `status notifications: ${JSON.stringify(notified)}`);
assert.ok(statuses.includes("input_required"), `status notifications: ${JSON.stringify(notified)}`);

await transport.terminateSession();
await client.close();
console.log(`statuses: ${statuses.join(" ")}`);
console.log("replicas: ok");
