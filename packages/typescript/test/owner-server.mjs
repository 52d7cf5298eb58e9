// A server whose owners come from each HTTP request (here the X-User header, a stand-in for an
// identity from auth), for test/owner.test.mjs. Usage: node test/owner-server.mjs
import { createServer } from "node:http";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { Tasks } from "mcp-tasks";

const tasks = await Tasks.open();
tasks.tool("hello", { description: "Say hello" }, async () => ({ content: [{ type: "text", text: "hello" }] }));
const owner = (extra) => extra?.request?.headers.get("x-user") ?? "anonymous";
const handler = createMcpHandler(() => tasks.attach(new McpServer({ name: "owners", version: "1.0.0" }), { owner }));
const server = createServer(toNodeHandler(handler));
server.listen(0, "127.0.0.1", () => process.stderr.write(`listening on http://127.0.0.1:${server.address().port}/mcp\n`));
