// The host around the component: it hands the router each message, carries out the actions the
// router returns (send, run a tool, wait, ...), runs the tools and sweeps. It decides nothing
// about tasks: that is the router's, as in the Rust host (host/src/hub/).
import { randomUUID } from "node:crypto";
import { instantiate } from "./component.js";
import { RunContext } from "./run.js";

/** How often the host sweeps (expiry, leases, claims), as the Rust host does. */
const SWEEP_EVERY_MS = 500;

/** The JSON-RPC error for a message the component could not handle (it trapped). */
const TRAPPED = -32603;

/**
 * One client connection: who it is, its session state, and where its messages go.
 * @typedef {object} Peer
 * @property {string} owner  tasks are created for, and shown to, this owner only
 * @property {string} client  names the client where request IDs of several may be equal
 * @property {boolean} push  whether a server-to-client request may be written at any time
 * @property {string} [transport]  how its messages come, for a task's history (the SDK
 *   transport's class name)
 * @property {string} session  the router's session state (its `set-session`)
 * @property {(message: object) => void} write  writes one JSON-RPC message to the client
 */

export class Host {
  #store;
  #server;
  #tools;
  #router;
  /** Set while a trapped instance is replaced; calls wait for it. */
  #restarting;
  #executor = randomUUID();
  /** Running tools by token: { run, peer, context }. */
  #runs = new Map();
  /** Requests waiting for a task to change, by task ID: resolvers. */
  #waiters = new Map();
  #sweeper;
  #closed = false;
  #log;

  constructor(store, server, tools, log) {
    this.#store = store;
    this.#server = server;
    this.#tools = tools;
    this.#log = log;
  }

  async start() {
    this.#router = (await instantiate(this.#store, this.#server)).router;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_EVERY_MS);
    // The sweep keeps no process alive on its own.
    this.#sweeper.unref();
  }

  /** Stop sweeping, stop the tools this host runs, let waiting requests go. */
  close() {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const { context } of this.#runs.values()) context.abort("the server is shutting down");
    this.#runs.clear();
    for (const resolvers of this.#waiters.values()) for (const resolve of resolvers) resolve();
    this.#waiters.clear();
  }

  /** The revisions the router speaks: [{ version, era }]. */
  versions() {
    return this.#router.versions();
  }

  /** The context of a call for `peer`. */
  context(peer) {
    return {
      owner: peer.owner,
      now: BigInt(Date.now()),
      session: peer.session,
      executor: this.#executor,
      push: peer.push,
      client: peer.client,
      transport: peer.transport ?? "typescript",
    };
  }

  /**
   * Call into the router. A trap costs the call (the error is thrown) and the instance, which is
   * replaced: the store holds all state, so nothing else is lost.
   */
  async #call(f) {
    if (this.#restarting) await this.#restarting;
    try {
      return f(this.#router);
    } catch (e) {
      this.#log(`the component failed (${e?.message ?? e}); starting a new instance`);
      this.#restarting = instantiate(this.#store, this.#server).then((i) => {
        this.#router = i.router;
        this.#restarting = undefined;
      });
      throw e;
    }
  }

  /**
   * Handle one incoming JSON-RPC message (text) from `peer`, re-delivered while the router says
   * to wait. Resolves when it has been answered (or needs no answer).
   */
  async handle(peer, message) {
    for (;;) {
      let actions;
      try {
        actions = await this.#call((r) => r.handle(message, this.context(peer)));
      } catch (e) {
        return answerError(peer, message, TRAPPED, `Internal error: ${e?.message ?? e}`);
      }
      const wait = this.#execute(actions, peer);
      if (wait === undefined || this.#closed) return;
      await this.#changedOrAfter(wait.taskId, Number(wait.recheckAfter));
      if (this.#closed) return;
    }
  }

  /** Resolve when the task changes or after `ms`, whichever is first. */
  #changedOrAfter(taskId, ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.get(taskId)?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (!this.#waiters.has(taskId)) this.#waiters.set(taskId, new Set());
      this.#waiters.get(taskId).add(done);
    });
  }

  /** Carry out the router's actions in order; the wait it asked for, if any. */
  #execute(actions, peer) {
    let wait;
    for (const action of actions) {
      const v = action.val;
      switch (action.tag) {
        case "send":
          peer.write(JSON.parse(v.message), v);
          break;
        case "set-session":
          peer.session = v;
          break;
        case "run-tool":
          this.#start(v, peer);
          break;
        case "stop-tool":
          this.#runs.get(v)?.context.abort("the task was cancelled");
          this.#runs.delete(v);
          break;
        case "update-run": {
          const entry = this.#runs.get(v.token);
          if (entry) entry.run.state = v.state;
          break;
        }
        case "rename-run": {
          const entry = this.#runs.get(v.from);
          if (entry === undefined) {
            // The run ended meanwhile: say so, as the WIT asks.
            const outcome = { tag: "error", val: { code: TRAPPED, message: "the run ended before it became a task" } };
            this.#finish(v.to, peer, outcome, undefined);
            break;
          }
          this.#runs.delete(v.from);
          entry.run.token = v.to;
          entry.run.state = v.state;
          // The request it answers now came from this peer.
          if (peer !== this.#sweepPeer) entry.peer = peer;
          this.#runs.set(v.to, entry);
          break;
        }
        case "reply-tool": {
          const entry = this.#runs.get(v.token);
          let answer;
          try {
            answer = JSON.parse(v.response);
          } catch {
            answer = { error: { code: -32700, message: "the answer is not JSON" } };
          }
          if (!entry?.context.answer(v.key, answer)) {
            this.#log(`an answer arrived for ${v.token}, but no tool here waits for it`);
          }
          break;
        }
        case "wait":
          wait = v;
          break;
        case "changed": {
          const resolvers = this.#waiters.get(v);
          if (resolvers) for (const resolve of [...resolvers]) resolve();
          break;
        }
        case "listen":
        case "unlisten":
          // subscriptions/listen is a method the SDK server answers; the router only asks for
          // these when it handles it itself.
          break;
        case "log":
          this.#log(v);
          break;
        default:
          this.#log(`unknown action ${action.tag}`);
      }
    }
    return wait;
  }

  /**
   * Start the tool of `run` for `peer`: its handler, with a context to report through. The run
   * reports to the peer it belongs to now: a 2026-07-28 plain call retried with its answers
   * comes on another connection, and the run moves to it (`rename-run`).
   */
  #start(run, peer) {
    const tool = this.#tools.get(run.tool);
    const entry = { run, peer, context: undefined };
    entry.context = new RunContext(run, {
      progress: (report) => this.#report(entry, report),
      ask: (questions) => this.#ask(entry, questions),
      detach: () => this.#detach(entry),
    });
    this.#runs.set(run.token, entry);
    const settle = async () => {
      if (tool === undefined) {
        return { tag: "error", val: { code: -32602, message: `Unknown tool: ${run.tool}` } };
      }
      try {
        let args = JSON.parse(run.arguments);
        if (tool.validate) {
          const checked = await tool.validate(args);
          if (checked.issues) {
            const why = checked.issues.map((i) => `${(i.path ?? []).join(".") || "arguments"}: ${i.message}`).join("; ");
            return { tag: "error", val: { code: -32602, message: `Invalid arguments for tool ${run.tool}: ${why}` } };
          }
          args = checked.value;
        }
        const result = await tool.handler(args, entry.context);
        return { tag: "success", val: JSON.stringify(result ?? { content: [] }) };
      } catch (e) {
        return outcomeOfError(e);
      }
    };
    settle().then(async (outcome) => {
      // Stopped (cancelled): its outcome changes nothing.
      if (this.#runs.get(run.token) !== entry || this.#closed) return;
      this.#runs.delete(run.token);
      entry.context.end();
      const message = outcome.tag === "error" ? outcome.val.message : outcome.statusMessage;
      await this.#finish(run.token, entry.peer, { tag: outcome.tag, val: outcome.val }, message);
    });
  }

  async #finish(token, peer, outcome, message) {
    try {
      const actions = await this.#call((r) => r.toolFinished(token, outcome, message, this.context(peer)));
      this.#execute(actions, peer);
    } catch (e) {
      this.#log(`a tool's end could not be recorded: ${e?.message ?? e}`);
    }
  }

  /** Whether `entry` still runs here (not stopped, not ended). */
  #live(entry) {
    return this.#runs.get(entry.run.token) === entry;
  }

  async #report(entry, report) {
    if (!this.#live(entry)) return;
    const { run, peer } = entry;
    const actions = await this.#call((r) => r.toolProgress(run.token, run.state, report, this.context(peer)));
    this.#execute(actions, peer);
  }

  async #ask(entry, questions) {
    if (!this.#live(entry)) throw new Error("the run has ended");
    const { run, peer } = entry;
    const actions = await this.#call((r) => r.toolInput(run.token, run.state, questions, this.context(peer)));
    this.#execute(actions, peer);
  }

  async #detach(entry) {
    if (!this.#live(entry)) return;
    const { run, peer } = entry;
    const actions = await this.#call((r) => r.toolDetached(run.token, run.state, this.context(peer)));
    this.#execute(actions, peer);
  }

  /** The periodic housekeeping: the router decides what it means (see the WIT's `sweep`). */
  async #sweep() {
    if (this.#closed || this.#sweeping) return;
    this.#sweeping = true;
    try {
      const peer = this.#sweepPeer;
      const actions = await this.#call((r) => r.sweep([...this.#runs.keys()], true, this.context(peer)));
      this.#execute(actions, peer);
    } catch (e) {
      this.#log(`sweep failed: ${e?.message ?? e}`);
    } finally {
      this.#sweeping = false;
    }
  }

  #sweeping = false;
  /** The sweep's own peer: what it sends has no client (runs it starts report to nobody). */
  #sweepPeer = {
    owner: "",
    client: "mcp-tasks-sweep",
    push: false,
    transport: "host",
    session: "",
    write: () => {},
  };
}

/** A handler's exception as a run's outcome: a JSON-RPC error if it carries a numeric `code`
 * (the SDK's `ProtocolError`), else a tool error result with its message. */
function outcomeOfError(e) {
  const message = e instanceof Error ? e.message : String(e);
  if (e && Number.isInteger(e.code)) {
    const data = e.data === undefined ? undefined : JSON.stringify(e.data);
    return { tag: "error", val: { code: e.code, message, data } };
  }
  const result = { content: [{ type: "text", text: message }], isError: true };
  return { tag: "success", val: JSON.stringify(result), statusMessage: message };
}

/** Answer the request in `message`, if it is one, with a JSON-RPC error. */
function answerError(peer, message, code, text) {
  let id;
  try {
    const parsed = JSON.parse(message);
    if (parsed.method === undefined || parsed.id === undefined) return;
    id = parsed.id;
  } catch {
    return;
  }
  peer.write({ jsonrpc: "2.0", id, error: { code, message: text } }, { kind: "response" });
}
