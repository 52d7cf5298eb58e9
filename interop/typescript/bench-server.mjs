// The TypeScript SDK's own Streamable HTTP server (1.32.x) with its in-memory task store, as the
// baseline of `cargo bench -p mcp-tasks --bench http`: one tool, `greet`, that runs as a task and
// completes at once; sessions as the SDK's example keeps them; JSON responses.
//
// Usage: node bench-server.mjs PORT
import { randomUUID } from "node:crypto";
import * as z from "zod/v4";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import {
  InMemoryTaskMessageQueue,
  InMemoryTaskStore,
} from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";

const port = Number(process.argv[2] ?? 3000);
const taskStore = new InMemoryTaskStore();

function server() {
  const mcp = new McpServer(
    { name: "ts-sdk-bench", version: "1.0.0" },
    {
      capabilities: { tasks: { requests: { tools: { call: {} } }, list: {}, cancel: {} } },
      taskStore,
      taskMessageQueue: new InMemoryTaskMessageQueue(),
    },
  );
  mcp.experimental.tasks.registerToolTask(
    "greet",
    { description: "Greet, as a task", inputSchema: { name: z.string() } },
    {
      async createTask({ name }, { taskStore, taskRequestedTtl }) {
        const task = await taskStore.createTask({ ttl: taskRequestedTtl });
        await taskStore.storeTaskResult(task.taskId, "completed", {
          content: [{ type: "text", text: `hello, ${name}` }],
        });
        return { task };
      },
      async getTask(_args, { taskId, taskStore }) {
        return await taskStore.getTask(taskId);
      },
      async getTaskResult(_args, { taskId, taskStore }) {
        return await taskStore.getTaskResult(taskId);
      },
    },
  );
  return mcp;
}

const sessions = new Map();
const app = createMcpExpressApp();
app.post("/mcp", async (req, res) => {
  const id = req.headers["mcp-session-id"];
  let transport = id ? sessions.get(id) : undefined;
  if (!transport) {
    if (id || !isInitializeRequest(req.body)) {
      res.status(id ? 404 : 400).json({ jsonrpc: "2.0", error: { code: -32000, message: "no session" }, id: null });
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (sid) => sessions.set(sid, transport),
    });
    await server().connect(transport);
  }
  await transport.handleRequest(req, res, req.body);
});
app.listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));
