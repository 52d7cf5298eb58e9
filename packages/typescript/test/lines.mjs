// A JSON-RPC peer over a child process's stdio, for the tests: requests by id, what else it wrote.
import { spawn } from "node:child_process";

export class Lines {
  #child;
  #buffer = "";
  #waiting = new Map();
  #nextId = 1;
  /** Messages that answered no request of ours (notifications, server requests). */
  others = [];
  stderr = "";

  constructor(command, args, options = {}) {
    this.#child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], ...options });
    this.#child.stdout.on("data", (chunk) => this.#read(chunk));
    this.#child.stderr.on("data", (chunk) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.#child.on("exit", (code) => resolve(code)));
  }

  #read(chunk) {
    this.#buffer += chunk;
    for (let i; (i = this.#buffer.indexOf("\n")) >= 0; ) {
      const message = JSON.parse(this.#buffer.slice(0, i));
      this.#buffer = this.#buffer.slice(i + 1);
      const waiter = message.method === undefined ? this.#waiting.get(message.id) : undefined;
      if (waiter) {
        this.#waiting.delete(message.id);
        waiter(message);
      } else {
        this.others.push(message);
      }
    }
  }

  write(message) {
    this.#child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  /** Send a request; its response (result or error), within 10 s. */
  request(method, params) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${method}; stderr: ${this.stderr}`)), 10_000);
      this.#waiting.set(id, (m) => (clearTimeout(timer), resolve(m)));
      this.write({ jsonrpc: "2.0", id, method, params });
    });
  }

  /** The 2025-11-25 handshake. */
  async initialize(capabilities = {}) {
    const init = await this.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities,
      clientInfo: { name: "mcp-tasks-test", version: "1" },
    });
    this.write({ jsonrpc: "2.0", method: "notifications/initialized" });
    return init;
  }

  /** Poll tasks/get (with `meta` as its `_meta`, if given) until the task's status is `status`. */
  async until(taskId, status, meta) {
    for (let i = 0; i < 200; i++) {
      const got = await this.request("tasks/get", { taskId, ...(meta ? { _meta: meta } : {}) });
      if (got.result?.status === status) return got.result;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`task ${taskId} never became ${status}; stderr: ${this.stderr}`);
  }

  close() {
    this.#child.kill();
    return this.exited;
  }
}
