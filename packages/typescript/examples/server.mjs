// An MCP server of the TypeScript SDK 2.x with tasks from mcp-tasks, over stdio or Streamable
// HTTP: the tools the interop tests drive (interop/tools.toml has the same ones as commands for
// `mcp-tasks serve`).
//
// Usage: node examples/server.mjs [STORE_URL] [OWNER] [PORT]
//   (default memory:, owner "default", stdio; with a PORT, HTTP on 127.0.0.1:PORT/mcp, 0: any)
import { createServer } from "node:http";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, McpServer, ProtocolError } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { Tasks } from "mcp-tasks";
import * as z from "zod/v4";

const [store = "memory:", owner = "default", port] = process.argv.slice(2);
const tasks = await Tasks.open({ store, owner, name: "mcp-tasks-example", pollIntervalMs: 100, progressIntervalMs: 0 });
const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
const text = (t) => ({ content: [{ type: "text", text: t }] });
const named = { type: "object", properties: { name: { type: "string" } }, required: ["name"] };

// A zod schema, as the SDK's registerTool takes: it validates the arguments before the handler.
tasks.tool("greet", { description: "Greet someone after a short pause", inputSchema: z.object({ name: z.string() }) }, async ({ name }, run) => {
  await run.progress({ message: "warming up" });
  await sleep(300, run.signal);
  return text(`hello, ${name}\n`);
});

tasks.tool("long", { description: "Sleep for five minutes (to be cancelled)", taskSupport: "required" }, async (_, run) => {
  try {
    await sleep(300_000, run.signal);
  } finally {
    // What the cancel did, for the tests to see: the handler saw its signal abort.
    if (run.signal.aborted) process.stderr.write(`long: cancelled (${run.taskId})\n`);
  }
  return text("slept\n");
});

tasks.tool("confirm", { description: "Ask the client to confirm, then print its answer", taskSupport: "required" }, async (_, run) => {
  const answer = await run.elicit("Proceed?", { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] });
  return text(`${JSON.stringify(answer.content)}\n`);
});

tasks.tool("interview", { description: "Ask two questions at once, then print both answers", taskSupport: "required" }, async (_, run) => {
  const { name, poem } = await run.ask({
    name: {
      method: "elicitation/create",
      params: { mode: "form", message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
    },
    poem: {
      method: "sampling/createMessage",
      params: { messages: [{ role: "user", content: { type: "text", text: "A short poem" } }], maxTokens: 50 },
    },
  });
  return text(`${JSON.stringify(name)} ${JSON.stringify(poem)}\n`);
});

tasks.tool("limited", { description: "End with a JSON-RPC error" }, async () => {
  throw new ProtocolError(-32603, "API rate limit exceeded");
});

tasks.tool("broken", { description: "Throw an exception" }, async () => {
  throw new Error("the disk is full");
});

tasks.tool("queued", { description: "Greet someone, from whichever host claims the task", inputSchema: named, queue: true }, async ({ name }) =>
  text(`hello from the queue, ${name}\n`),
);

tasks.tool("shout", { description: "Upper-case the text", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } }, async (args) =>
  text(`${args.text.toUpperCase()}\n`),
);

tasks.workflow("loud_greeting", { description: "Greet someone, then shout the greeting", inputSchema: named }, ["greet", "shout"]);

// Both eras from one factory; attach takes the tasks' messages off the SDK's transport.
const build = () => tasks.attach(new McpServer({ name: "mcp-tasks-example", version: "1.0.0" }));
if (port === undefined) {
  serveStdio(build);
} else {
  const handler = createMcpHandler(build);
  const server = createServer(toNodeHandler(handler));
  server.listen(Number(port), "127.0.0.1", () => {
    process.stderr.write(`listening on http://127.0.0.1:${server.address().port}/mcp\n`);
  });
}
