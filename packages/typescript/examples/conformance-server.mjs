// The fixture tools of the official conformance suite's tasks-* and input-required-result-*
// scenarios, on a TypeScript SDK 2.x server with tasks from mcp-tasks, over Streamable HTTP (the
// Rust host runs the same tools as commands: tests/conformance/tools.toml).
//
// Usage: node examples/conformance-server.mjs [PORT]   (127.0.0.1:PORT/mcp; 0 or none: any port)
import { createServer } from "node:http";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, McpServer, ProtocolError } from "@modelcontextprotocol/server";
import { Tasks } from "mcp-tasks";

const tasks = await Tasks.open({ name: "mcp-tasks-conformance", pollIntervalMs: 100, progressIntervalMs: 20 });
const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
const text = (t) => ({ content: [{ type: "text", text: t }] });
const json = (v) => JSON.stringify(v);
const object = (properties, required) => ({ type: "object", properties, ...(required ? { required } : {}) });
const elicit = (message, requestedSchema) => ({ method: "elicitation/create", params: { mode: "form", message, requestedSchema } });
const sample = (prompt, maxTokens = 100) => ({
  method: "sampling/createMessage",
  params: { messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens },
});
const roots = { method: "roots/list", params: {} };
const askName = () => ({ user_name: elicit("What is your name?", object({ name: { type: "string" } }, ["name"])) });
const capital = () => ({ capital_question: sample("What is the capital of France?") });

tasks.tool("test_simple_text", { description: "Tests simple text content response", taskSupport: "forbidden" }, async () =>
  text("This is a simple text response for testing.\n"),
);

tasks.tool(
  "greet",
  { description: "Say hello (sync only)", taskSupport: "forbidden", inputSchema: object({ name: { type: "string" } }, ["name"]) },
  async ({ name }) => text(`Hello, ${name}!`),
);

tasks.tool(
  "slow_compute",
  { description: "Sleep `seconds` seconds, then answer", inputSchema: object({ seconds: { type: "number" } }, ["seconds"]) },
  async ({ seconds }, run) => {
    await sleep(seconds * 1000, run.signal);
    return text(`computed after ${seconds} seconds`);
  },
);

tasks.tool("failing_job", { description: "Fail as a tool (isError) after a second", taskSupport: "required" }, async (_, run) => {
  await sleep(1000, run.signal);
  throw new Error("the job failed");
});

tasks.tool("protocol_error_job", { description: "End with a JSON-RPC error" }, async () => {
  throw new ProtocolError(-32603, "the job hit an internal error");
});

tasks.tool(
  "confirm_delete",
  { description: "Ask whether to delete a file, then say what was decided", inputSchema: object({ filename: { type: "string" } }, ["filename"]) },
  async ({ filename }, run) => {
    const answer = await run.elicit(`Delete ${filename}?`, object({ confirm: { type: "boolean" } }, ["confirm"]));
    return text(`${json(answer)}\n`);
  },
);

tasks.tool("multi_input", { description: "Ask two questions at once, then print both answers" }, async (_, run) => {
  const schema = object({ name: { type: "string" }, confirm: { type: "boolean" } });
  const { first, second } = await run.ask({ first: elicit("First?", schema), second: elicit("Second?", schema) });
  return text(`${json(first)} ${json(second)}\n`);
});

tasks.tool("test_input_required_result_elicitation", { description: "Ask for the user's name, then greet them", taskSupport: "forbidden" }, async (_, run) => {
  const { user_name } = await run.ask(askName());
  return text(`Hello: ${json(user_name)}\n`);
});

tasks.tool("test_input_required_result_request_state", { description: "Ask for the user's name, keeping the call's state in requestState", taskSupport: "forbidden" }, async (_, run) => {
  const { user_name } = await run.ask(askName());
  return text(`state checked: ${json(user_name)}\n`);
});

tasks.tool("test_input_required_result_tampered_state", { description: "Ask for the user's name; a tampered requestState is refused", taskSupport: "forbidden" }, async (_, run) => {
  const { user_name } = await run.ask(askName());
  return text(`${json(user_name)}\n`);
});

tasks.tool("test_input_required_result_sampling", { description: "Ask the client's model a question", taskSupport: "forbidden" }, async (_, run) => {
  const { capital_question } = await run.ask(capital());
  return text(`Model said: ${json(capital_question)}\n`);
});

tasks.tool("test_input_required_result_list_roots", { description: "Ask the client for its roots, then list them", taskSupport: "forbidden" }, async (_, run) => {
  const { client_roots } = await run.ask({ client_roots: roots });
  return text(`Roots: ${json(client_roots)}\n`);
});

tasks.tool("test_input_required_result_multiple_inputs", { description: "Ask for a name, a model's answer and the roots at once", taskSupport: "forbidden" }, async (_, run) => {
  const a = await run.ask({ ...askName(), ...capital(), client_roots: roots });
  return text(`Answers: ${json(a.user_name)} ${json(a.capital_question)} ${json(a.client_roots)}\n`);
});

tasks.tool("test_input_required_result_multi_round", { description: "Ask one question, then another, then answer", taskSupport: "forbidden" }, async (_, run) => {
  const { user_name } = await run.ask(askName());
  const { user_age } = await run.ask({ user_age: elicit("How old are you?", object({ age: { type: "number" } }, ["age"])) });
  return text(`Rounds: ${json(user_name)} ${json(user_age)}\n`);
});

tasks.tool("test_input_required_result_capabilities", { description: "Ask the client's model, which it must have declared", taskSupport: "forbidden" }, async (_, run) => {
  const { capital_question } = await run.ask(capital());
  return text(`${json(capital_question)}\n`);
});

tasks.tool(
  "test_tool_with_task",
  { description: "Ask for the user's name, then go on as a task that greets them", taskSupport: "required", deferTask: true },
  async (_, run) => {
    const { user_name } = await run.ask(askName());
    await run.detach();
    await sleep(300, run.signal);
    return text(`Hello: ${json(user_name)}\n`);
  },
);

const handler = createMcpHandler(() => tasks.attach(new McpServer({ name: "mcp-tasks-conformance", version: "1.0.0" })));
const server = createServer(toNodeHandler(handler));
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stderr.write(`listening on http://127.0.0.1:${server.address().port}/mcp\n`);
});
