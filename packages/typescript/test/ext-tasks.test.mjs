// The official Tasks extension client, @modelcontextprotocol/ext-tasks 0.2.2 over the SDK client
// 2.4.0, drives the example server over stdio in both generations (2026-07-28 and 2025-11-25):
// a task completes, one asks two questions (v2) or one (v1) that are answered, one is cancelled
// and its handler sees the cancel, one fails with a JSON-RPC error, a queued one and a workflow
// complete. The driver is the one the Rust host passes: interop/ext-tasks/drive.mjs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { promisify } from "node:util";
import { startHttp } from "./http.mjs";

const interop = new URL("../../../interop/ext-tasks/", import.meta.url);
const example = new URL("../examples/server.mjs", import.meta.url).pathname;

for (const generation of ["v2", "v1"]) {
  test(`the ext-tasks client (${generation}) drives a TypeScript SDK server with these tasks`, async () => {
    assert.ok(
      existsSync(new URL("node_modules/@modelcontextprotocol/ext-tasks", interop)),
      "interop/ext-tasks/node_modules is missing: run .ci/setup",
    );
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [new URL("drive.mjs", interop).pathname, "-", "-", generation],
      { env: { ...process.env, MCP_TASKS_SERVER_COMMAND: JSON.stringify([process.execPath, example]) }, timeout: 60_000 },
    );
    assert.match(stdout, new RegExp(`ext-tasks ${generation}: ok`), stderr);
    assert.match(stdout, new RegExp(`${generation} cancelled: ok`));
    assert.match(stderr, /long: cancelled \(/, "the handler saw the cancel");
  });
}

// Only v2: createMcpHandler serves 2025-11-25 statelessly, so a later request of a v1 client
// carries none of the capabilities it declared at initialize, and a task's question fails (see
// the package README).
test("the ext-tasks client (v2) drives the example server over Streamable HTTP", async () => {
  const server = await startHttp("server.mjs", ["memory:", "default", "0"]);
  try {
    for (const generation of ["v2"]) {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [new URL("drive.mjs", interop).pathname, "-", "-", generation, server.url],
        { timeout: 60_000 },
      );
      assert.match(stdout, new RegExp(`ext-tasks ${generation} over HTTP: ok`), `${stderr}\n${server.stderr}`);
    }
    assert.match(server.stderr, /long: cancelled \(/, "the handler saw the cancel");
  } finally {
    server.close();
  }
});
