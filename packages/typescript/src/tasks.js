// MCP Tasks for a TypeScript SDK 2.x server. The SDK server answers what it always does
// (initialize, server/discover, tools/list, prompts, resources); the messages of tasks (a call of
// a task tool, tasks/*, the client's answers to a task's questions) are taken off the transport
// before the SDK sees them and handed to the mcp-tasks component, whose router decides
// everything, as in the Rust host.
import { randomBytes } from "node:crypto";
import { fromJsonSchema } from "@modelcontextprotocol/server";
import { Host } from "./host.js";
import { openStore } from "./stores/index.js";

const EXTENSION = "io.modelcontextprotocol/tasks";
const TASK_METHODS = new Set(["tasks/get", "tasks/result", "tasks/list", "tasks/cancel", "tasks/update"]);
const SUPPORT = new Set(["forbidden", "optional", "required"]);

/**
 * A tool's schema as JSON Schema, and how to validate against it: a JSON Schema object is taken
 * as it is (the component checks its `required` list); a Standard Schema that carries JSON Schema
 * (a zod 4 schema, as the SDK's `registerTool` takes) is converted, and validates (and parses)
 * the arguments before the handler runs.
 */
function jsonSchemaOf(schema, name, which) {
  if (schema === undefined) return { json: { type: "object" } };
  const standard = schema["~standard"];
  if (standard === undefined) return { json: schema };
  if (typeof standard.jsonSchema?.input !== "function") {
    throw new Error(`mcp-tasks: the ${which} schema of ${name} is a Standard Schema without JSON Schema; give a JSON Schema object or a zod 4 schema`);
  }
  const json = standard.jsonSchema.input({ target: "draft-2020-12" });
  return { json, validate: (value) => standard.validate(value) };
}

/** Milliseconds as the WIT's u64, `undefined` kept. */
const ms = (v) => (v === undefined || v === null ? undefined : BigInt(v));

export class Tasks {
  #options;
  #tools = new Map();
  #store;
  #host;
  #clients = 0;

  /**
   * Open the tasks of a server: its store (`memory:`, `file:PATH`, or a store object) and its
   * settings. Await it before serving.
   */
  static async open(options = {}) {
    const tasks = new Tasks(options);
    await tasks.#host.start();
    return tasks;
  }

  constructor(options) {
    this.#options = {
      name: "mcp-tasks",
      version: "0.9.0",
      owner: "default",
      defaultTtlMs: 3_600_000,
      maxTtlMs: 86_400_000,
      pollIntervalMs: 1_000,
      pageSize: 50,
      leaseMs: 30_000,
      progressIntervalMs: 100,
      log: (line) => process.stderr.write(`mcp-tasks: ${line}\n`),
      ...options,
    };
    this.#store = openStore(this.#options.store ?? "memory:");
    const stateKey = randomBytes(32).toString("hex");
    const o = this.#options;
    const server = {
      getSettings: () => ({
        name: o.name,
        version: o.version,
        instructions: o.instructions,
        defaultTtl: ms(o.defaultTtlMs),
        maxTtl: ms(o.maxTtlMs),
        pollInterval: BigInt(o.pollIntervalMs),
        pageSize: o.pageSize,
        lease: BigInt(o.leaseMs),
        stateKey,
        progressInterval: BigInt(o.progressIntervalMs),
        queue: false,
        claimLimit: o.claimLimit ?? 16,
      }),
      tools: () => [...this.#tools.values()].map((t) => t.wit),
      findTool: (name) => this.#tools.get(name)?.wit,
    };
    this.#host = new Host(this.#store, server, this.#tools, o.log);
  }

  /**
   * A tool whose calls the component handles: as tasks (`taskSupport` `optional` or `required`)
   * or as plain calls with progress and questions (`forbidden`). `inputSchema` is a JSON Schema
   * object. The handler gets the arguments and a run context (`progress`, `ask`, `elicit`,
   * `signal`, `taskId`) and returns a `CallToolResult`; an exception it throws ends the call with
   * a tool error carrying its message, or with a JSON-RPC error if it has a numeric `code` (the
   * SDK's `ProtocolError`).
   */
  tool(name, config, handler) {
    if (this.#tools.has(name)) throw new Error(`mcp-tasks: the tool ${name} is already registered`);
    const support = config.taskSupport ?? "optional";
    if (!SUPPORT.has(support)) throw new Error(`mcp-tasks: taskSupport of ${name} must be forbidden, optional or required`);
    const steps = config.steps ?? [];
    if (steps.length === 0 && typeof handler !== "function") throw new Error(`mcp-tasks: the tool ${name} needs a handler`);
    const input = jsonSchemaOf(config.inputSchema, name, "input");
    const inputSchema = input.json;
    const outputSchema = config.outputSchema === undefined ? undefined : jsonSchemaOf(config.outputSchema, name, "output").json;
    this.#tools.set(name, {
      name,
      config: { ...config, inputSchema, outputSchema, taskSupport: support },
      handler,
      validate: input.validate,
      wit: {
        name,
        title: config.title,
        description: config.description,
        inputSchema: JSON.stringify(inputSchema),
        outputSchema: outputSchema === undefined ? undefined : JSON.stringify(outputSchema),
        taskSupport: support,
        deferTask: config.deferTask ?? false,
        immediateResponse: config.immediateResponse,
        maxAttempts: config.maxAttempts ?? 1,
        retryBackoff: BigInt(config.retryBackoffMs ?? 1000),
        dedupWindow: ms(config.dedupWindowMs),
        queue: config.queue ?? false,
        steps,
      },
    });
    return this;
  }

  /** A workflow: these tools (by name) run one after the other as one task. */
  workflow(name, config, steps) {
    return this.tool(name, { ...config, taskSupport: config.taskSupport ?? "required", steps }, undefined);
  }

  /**
   * Give `mcp` (an `McpServer`) these tasks: lists the tools in its `tools/list`, declares the
   * tasks capabilities of both revisions, and takes the messages of tasks off whatever transport
   * it is connected to (stdio through `serveStdio`, Streamable HTTP through `createMcpHandler`, or
   * your own `mcp.connect(transport)`). Call it before connecting; return it from a factory.
   *
   * `owner`: whose tasks this connection sees: a string, or a function of the message's
   * `extra` (the SDK's `MessageExtraInfo`, with `authInfo`); default the `owner` of `open`.
   */
  attach(mcp, { owner } = {}) {
    for (const tool of this.#tools.values()) {
      const { config } = tool;
      const registered = mcp.registerTool(
        tool.name,
        {
          title: config.title,
          description: config.description,
          inputSchema: fromJsonSchema(config.inputSchema),
          ...(config.outputSchema ? { outputSchema: fromJsonSchema(config.outputSchema) } : {}),
        },
        // Never called: the transport hands these calls to the component.
        () => {
          throw new Error(`mcp-tasks: ${tool.name} was called around the tasks' transport`);
        },
      );
      // 2025-11-25 lists it (registerTool takes none); the 2026-07-28 codec leaves it out, as
      // that revision has no such field.
      registered.execution = { taskSupport: config.taskSupport };
    }
    mcp.server.registerCapabilities({
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      extensions: { [EXTENSION]: {} },
    });
    const connect = mcp.connect.bind(mcp);
    const ownerOf = typeof owner === "function" ? owner : () => owner ?? this.#options.owner;
    mcp.connect = (transport) =>
      connect(intercept(transport, this.#host, this.#tools, ownerOf, `c${++this.#clients}`));
    return mcp;
  }

  /** Stop the tools this server runs, and close the store. */
  async close() {
    this.#host.close();
    this.#store.close?.();
  }
}

/**
 * The SDK's transport `inner`, with the messages of tasks taken off for the component: every
 * other property is the transport's own (a proxy), so the SDK's serving entries treat it as theirs.
 */
function intercept(inner, host, tools, ownerOf, client) {
  /** The SDK's own `onmessage`, which gets every message the component does not take. */
  let downstream;
  /** IDs of the requests the component sent the client (a legacy task's questions). */
  const asked = new Set();
  const peer = {
    owner: undefined,
    // One client per transport: the request IDs are its own.
    client,
    push: true,
    // The SDK transport's class (StdioServerTransport, ...), for a task's history.
    transport: inner.constructor?.name ?? "typescript",
    session: "",
    write: (message, outgoing) => {
      if (outgoing?.kind === "request") asked.add(JSON.stringify(message.id));
      inner.send(message).catch((e) => inner.onerror?.(e));
    },
  };
  const isTasks = (message) => {
    if (message.id === undefined || typeof message.method !== "string") return false;
    if (TASK_METHODS.has(message.method)) return true;
    return message.method === "tools/call" && tools.has(message.params?.name);
  };
  /** A request whose handling failed is answered with the failure, not left hanging. */
  const handled = (handling, message) =>
    handling.catch((e) => {
      if (message.method !== undefined && message.id !== undefined) {
        const error = { code: -32603, message: `Internal error: ${e?.message ?? e}` };
        peer.write({ jsonrpc: "2.0", id: message.id, error }, { kind: "response" });
      }
    });
  inner.onmessage = (message, extra) => {
    peer.owner ??= ownerOf(extra);
    const text = () => JSON.stringify(message);
    if (message.method === "initialize") {
      // The SDK answers; the component keeps what it needs of the handshake (the client's
      // capabilities, the revision) as this connection's session. Its own answer is dropped.
      const handshake = {
        ...peer,
        write: () => {},
        get session() {
          return peer.session;
        },
        set session(s) {
          peer.session = s;
        },
      };
      host.handle(handshake, text());
    } else if (isTasks(message)) {
      return void handled(host.handle(peer, text()), message);
    } else if (message.method === undefined && message.id !== undefined && asked.delete(JSON.stringify(message.id))) {
      return void handled(host.handle(peer, text()), message);
    } else if (message.method === "notifications/cancelled") {
      // A plain call the component runs may be the one cancelled; the SDK may have one too.
      host.handle(peer, text());
    }
    downstream?.(message, extra);
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "onmessage") return downstream;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(target, prop, value) {
      if (prop === "onmessage") downstream = value;
      else Reflect.set(target, prop, value, target);
      return true;
    },
  });
}
