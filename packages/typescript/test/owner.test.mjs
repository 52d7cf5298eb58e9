// Whose tasks a request sees: `attach(mcp, { owner })` as a function of the message's `extra`,
// here the HTTP request's X-User header (a stand-in for an identity from auth).
import assert from "node:assert/strict";
import { test } from "node:test";
import { startHttp } from "./http.mjs";

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "owners-test", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": { extensions: { "io.modelcontextprotocol/tasks": {} } },
};

async function call(url, user, method, params, name) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(name ? { "mcp-name": name } : {}),
      "x-user": user,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: META } }),
  });
  return response.json();
}

test("each owner sees only its own tasks", async () => {
  const server = await startHttp("../test/owner-server.mjs");
  try {
    const created = await call(server.url, "ada", "tools/call", { name: "hello", arguments: {} }, "hello");
    assert.equal(created.result?.resultType, "task", JSON.stringify(created));
    const { taskId } = created.result;
    const mine = await call(server.url, "ada", "tasks/get", { taskId }, taskId);
    assert.equal(mine.result?.taskId, taskId, JSON.stringify(mine));
    const theirs = await call(server.url, "bob", "tasks/get", { taskId }, taskId);
    assert.equal(theirs.error?.code, -32602, JSON.stringify(theirs));
  } finally {
    server.close();
  }
});
