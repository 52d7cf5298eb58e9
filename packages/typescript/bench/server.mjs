// The benchmark's server: one TypeScript SDK 2.x McpServer over stdio with a plain SDK tool
// (`plain`, answered by the SDK alone) and the same tool as a task tool of this package
// (`tasked`), so both are measured through the same server, process and transport.
import { fromJsonSchema, McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { Tasks } from "mcp-tasks";

const tasks = await Tasks.open({ defaultTtlMs: 600_000 });
const echo = async ({ text }) => ({ content: [{ type: "text", text }] });
const schema = { type: "object", properties: { text: { type: "string" } }, required: ["text"] };
tasks.tool("tasked", { description: "Echo the text, as a task", inputSchema: schema }, echo);

serveStdio(() => {
  const mcp = new McpServer({ name: "bench", version: "1.0.0" });
  mcp.registerTool("plain", { description: "Echo the text", inputSchema: fromJsonSchema(schema) }, echo);
  return tasks.attach(mcp);
});
