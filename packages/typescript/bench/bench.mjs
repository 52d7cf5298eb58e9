// Benchmark of the package (medians of repeated runs; figures, not limits):
// - through the SDK server over stdio, pipelined: plain tool calls the SDK answers alone, task
//   creations and tasks/get through this package, in the same process and run;
// - the per-call cost of crossing into the component from jco (in process).
// Usage: node bench/bench.mjs [RUNS]   (after npm run build)
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { instantiate } from "../src/component.js";
import { MemoryStore } from "../src/stores/memory.js";

const RUNS = Number(process.argv[2] ?? 5);
const N = 2_000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A server over stdio; `pipeline(messages)` writes them all and resolves when all are answered. */
function server() {
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean), new URL("./server.mjs", import.meta.url).pathname], { stdio: ["pipe", "pipe", "inherit"] });
  let buffer = "";
  let waiting;
  child.stdout.on("data", (chunk) => {
    buffer += chunk;
    for (let i; (i = buffer.indexOf("\n")) >= 0; ) {
      const message = JSON.parse(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
      if (message.id !== undefined && message.method === undefined) waiting?.(message);
    }
  });
  let nextId = 1;
  return {
    async pipeline(method, params, count) {
      const answers = [];
      const done = new Promise((resolve) => {
        waiting = (m) => {
          answers.push(m);
          if (answers.length === count) resolve();
        };
      });
      const lines = [];
      for (let i = 0; i < count; i++) lines.push(JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params: params(i) }));
      const start = performance.now();
      child.stdin.write(`${lines.join("\n")}\n`);
      await done;
      const seconds = (performance.now() - start) / 1000;
      const errors = answers.filter((a) => a.error);
      if (errors.length) throw new Error(`${method}: ${JSON.stringify(errors[0])}`);
      return { rate: count / seconds, answers };
    },
    // End of input: the server ends as stdio servers do (and writes a --cpu-prof profile).
    close: () => {
      child.stdin.end();
      setTimeout(() => child.kill(), 2_000).unref();
    },
  };
}

const s = server();
await s.pipeline("initialize", () => ({ protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } }), 1);
const rates = { plain: [], created: [], gets: [] };
let taskId;
for (let run = 0; run < RUNS; run++) {
  rates.plain.push((await s.pipeline("tools/call", (i) => ({ name: "plain", arguments: { text: `p${i}` } }), N)).rate);
  const created = await s.pipeline("tools/call", (i) => ({ name: "tasked", arguments: { text: `t${i}` }, task: {} }), N);
  rates.created.push(created.rate);
  taskId ??= created.answers[0].result.task.taskId;
  rates.gets.push((await s.pipeline("tasks/get", () => ({ taskId }), N)).rate);
}
s.close();

// The crossing: the cheapest export (versions) and a tasks/get of a stored task, in process.
const store = new MemoryStore();
const bound = Object.fromEntries(["get", "create", "update", "list", "delete", "expire", "abandoned"].map((m) => [m, store[m].bind(store)]));
const settings = { name: "bench", version: "1", defaultTtl: 600_000n, maxTtl: 600_000n, pollInterval: 1000n, pageSize: 50, lease: 30_000n, stateKey: "k".repeat(64), progressInterval: 100n, queue: false, claimLimit: 16 };
const tool = { name: "echo", inputSchema: '{"type":"object"}', taskSupport: "optional", deferTask: false, maxAttempts: 1, retryBackoff: 1000n, queue: false, steps: [] };
const { router } = await instantiate(bound, { getSettings: () => settings, tools: () => [tool], findTool: (n) => (n === "echo" ? tool : undefined) });
const ctx = { owner: "bench", now: BigInt(Date.now()), session: JSON.stringify({ protocolVersion: "2025-11-25", clientCapabilities: {} }), executor: "bench", push: false, client: "" };
const createdActions = router.handle(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: {}, task: {} } }), ctx);
const stored = JSON.parse(createdActions.find((a) => a.tag === "send").val.message).result.task.taskId;
const get = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tasks/get", params: { taskId: stored } });
const perCall = (f, count) => {
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    for (let i = 0; i < count; i++) f();
    runs.push(((performance.now() - start) * 1000) / count);
  }
  return median(runs);
};
const versionsUs = perCall(() => router.versions(), 20_000);
const getUs = perCall(() => router.handle(get, ctx), 5_000);

const fmt = (x) => Math.round(x).toLocaleString("en-US");
const plain = median(rates.plain);
console.log(`runs: ${RUNS} of ${N} pipelined requests each, over stdio, one server process`);
console.log(`plain tool calls (the SDK alone): ${fmt(plain)}/s`);
console.log(`task creations (this package): ${fmt(median(rates.created))}/s (${(median(rates.created) / plain).toFixed(2)}x plain)`);
console.log(`tasks/get (this package): ${fmt(median(rates.gets))}/s (${(median(rates.gets) / plain).toFixed(2)}x plain)`);
console.log(`crossing into the component from jco: versions() ${versionsUs.toFixed(2)} us, tasks/get ${getUs.toFixed(2)} us per call`);
