// The TypeScript SDK (1.32.x) with its in-memory task store, as the peer of the benches: one
// tool, `greet`, that runs as a task and completes at once. Over Streamable HTTP (`cargo bench -p
// mcp-tasks --bench http`; sessions as the SDK's example keeps them, JSON responses) or over stdio
// (`--bench peers`).
//
// Usage: node bench-server.mjs PORT | node bench-server.mjs stdio
import { randomUUID } from "node:crypto";
import * as z from "zod/v4";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import {
  InMemoryTaskMessageQueue,
  InMemoryTaskStore,
} from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";

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

if (process.argv[2] === "stdio") {
  await server().connect(new StdioServerTransport());
} else {
  serveHttp(Number(process.argv[2] ?? 3000));
}

function serveHttp(port) {
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
}
