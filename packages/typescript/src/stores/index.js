// A store chosen by a URL, as `mcp-tasks serve --store` chooses one: `memory:`, `file:PATH` or
// `postgres://...`.
import { MemoryStore } from "./memory.js";
import { PostgresStore } from "./postgres.js";
import { SqliteStore } from "./sqlite.js";

const METHODS = ["get", "create", "update", "list", "delete", "expire", "abandoned"];

/**
 * The store a URL names, or `store` itself if it is an object with the WIT's store functions
 * (synchronous: the component calls them from inside a call).
 */
export function openStore(store) {
  if (typeof store === "object" && store !== null) {
    const missing = METHODS.filter((m) => typeof store[m] !== "function");
    if (missing.length > 0) throw new Error(`mcp-tasks: the store lacks ${missing.join(", ")}`);
    // Bound: the component calls them as plain functions.
    return Object.fromEntries([...METHODS, "close"].filter((m) => store[m]).map((m) => [m, store[m].bind(store)]));
  }
  if (store === "memory:") return bound(new MemoryStore());
  if (typeof store === "string" && store.startsWith("file:")) {
    const path = store.slice("file:".length);
    if (path === "") throw new Error("mcp-tasks: a file: store names its file (file:tasks.db)");
    return bound(new SqliteStore(path));
  }
  if (typeof store === "string" && /^postgres(ql)?:\/\//.test(store)) return bound(new PostgresStore(store));
  throw new Error(`mcp-tasks: unknown store '${store}': use memory:, file:PATH or postgres://...`);
}

function bound(store) {
  return openStore(store);
}
