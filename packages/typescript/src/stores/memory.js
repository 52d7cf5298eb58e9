// The memory store: tasks in a Map, gone with the process. It keeps the contract of the WIT's
// `mcp:tasks/store` (conformance/store.json): `update` is a compare-and-swap on `version`, `list`
// is one owner's tasks in (createdAt, id) order after the cursor, `expire` deletes exactly the
// tasks whose ttl has run out. Errors are thrown as the `store-error` variant itself.
import { cursorOf, isLive, order, parseCursor } from "./shared.js";

export class MemoryStore {
  #tasks = new Map();

  get(id) {
    const task = this.#tasks.get(id);
    return task === undefined ? undefined : structuredClone(task);
  }

  create(task) {
    if (this.#tasks.has(task.id)) throw { tag: "already-exists" };
    this.#tasks.set(task.id, structuredClone(task));
  }

  update(task, expectedVersion) {
    const stored = this.#tasks.get(task.id);
    if (stored === undefined) throw { tag: "not-found" };
    if (stored.version !== expectedVersion) throw { tag: "conflict", val: stored.version };
    this.#tasks.set(task.id, structuredClone(task));
  }

  list(owner, status, cursor, limit) {
    const after = cursor === undefined ? undefined : parseCursor(cursor);
    const matching = [...this.#tasks.values()]
      .filter((t) => t.owner === owner && (status === undefined || t.status === status))
      .filter((t) => after === undefined || order(t, after) > 0)
      .sort(order);
    const page = matching.slice(0, limit).map((t) => structuredClone(t));
    const nextCursor = matching.length > page.length ? cursorOf(page[page.length - 1]) : undefined;
    return { tasks: page, nextCursor };
  }

  delete(id) {
    if (!this.#tasks.delete(id)) throw { tag: "not-found" };
  }

  expire(now) {
    const gone = [];
    for (const t of this.#tasks.values()) {
      if (t.ttl !== undefined && t.createdAt + t.ttl <= now) gone.push(t.id);
    }
    for (const id of gone) this.#tasks.delete(id);
    return gone;
  }

  abandoned(now, limit) {
    return [...this.#tasks.values()]
      .filter((t) => isLive(t.status) && t.leaseUntil !== undefined && t.leaseUntil <= now)
      .slice(0, limit)
      .map((t) => t.id);
  }

  close() {}
}
