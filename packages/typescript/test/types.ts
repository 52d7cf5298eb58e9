// Compiled by test/types.test.mjs with tsc --strict: the package's types, as a TypeScript server
// uses them, hold against the SDK's.
import { McpServer } from "@modelcontextprotocol/server";
import { MemoryStore, QuestionError, Tasks, type RunContext, type TaskStore } from "mcp-tasks";
import * as z from "zod/v4";

const tasks: Tasks = await Tasks.open({ store: "memory:", pollIntervalMs: 500 });
tasks.tool(
  "slow",
  { description: "Slow", inputSchema: { type: "object" }, taskSupport: "required", maxAttempts: 2 },
  async (args: { n?: number }, run: RunContext) => {
    await run.progress({ progress: 1, total: 2, message: "half" });
    const answers = await run.ask({ name: { method: "elicitation/create", params: { message: "?" } } });
    const name: unknown = answers.name;
    if (run.signal.aborted || run.taskId === undefined) throw new QuestionError("stopped");
    return { content: [{ type: "text", text: `${args.n ?? 0} ${String(name)}` }] };
  },
);
tasks.tool("zodded", { inputSchema: z.object({ n: z.number() }) }, async ({ n }: { n: number }) => ({
  content: [{ type: "text", text: String(n) }],
}));
tasks.workflow("twice", { description: "Twice" }, ["slow", "slow"]);
const mcp: McpServer = tasks.attach(new McpServer({ name: "typed", version: "1.0.0" }), { owner: "me" });
const store: TaskStore = new MemoryStore();
void mcp;
void store;
await tasks.close();
