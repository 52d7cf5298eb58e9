// The component's `mcp:tasks/server` import: this host's identity, limits and tools.
import { randomBytes } from "node:crypto";

const STATE_KEY = randomBytes(32).toString("hex");
const TOOLS = [
  {
    name: "shout",
    title: "Shout",
    description: "Upper-case the text",
    inputSchema: JSON.stringify({
      type: "object",
      properties: { text: { type: "string" } },
      required: ["text"],
    }),
    outputSchema: undefined,
    taskSupport: "optional",
    deferTask: false,
    // 2025-11-25: a sentence for the model in the CreateTaskResult's _meta while the task works.
    immediateResponse: undefined,
    // How many times a task of it runs at most, and the wait (ms) before the second attempt.
    maxAttempts: 1,
    retryBackoff: 1000n,
    // A window (ms) in which an equal call of the same owner gets the same task.
    dedupWindow: undefined,
    // Queue its tasks for a host that claims them, whatever the host's mode.
    queue: false,
    // A workflow's steps (other tools, run one after the other as one task); empty: a tool.
    steps: [],
  },
];

export function getSettings() {
  return {
    name: "mcp-tasks-js",
    version: "0.1.0",
    instructions: undefined,
    defaultTtl: 60_000n,
    maxTtl: 3_600_000n,
    pollInterval: 100n,
    pageSize: 2,
    lease: 15_000n,
    // Signs the requestState of a plain call waiting for input: random per process.
    stateKey: STATE_KEY,
    // The least time (ms) between two notifications/progress of one request.
    progressInterval: 100n,
    // Queue new tasks for another host to claim; how many runs this host may have when it claims.
    queue: false,
    claimLimit: 4294967295,
  };
}

export function tools() {
  return TOOLS;
}

export function findTool(name) {
  return TOOLS.find((t) => t.name === name);
}
