// The component's `mcp:tasks/store` import, written in JavaScript: tasks in a Map.
// It keeps the contract in wit/tasks.wit: `update` is a compare-and-swap on `version`, `list`
// is one owner's tasks in (createdAt, id) order after the cursor, `expire` deletes exactly the
// tasks whose ttl has run out. An error is thrown as the `store-error` variant itself.
const tasks = new Map();

/** Empty the store (conformance.mjs runs each case on an empty store). */
export function reset() {
  tasks.clear();
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const order = (a, b) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
const cursorOf = (t) => `${t.createdAt}:${t.id}`;

export function get(id) {
  return tasks.get(id);
}

export function create(task) {
  if (tasks.has(task.id)) throw { tag: "already-exists" };
  tasks.set(task.id, structuredClone(task));
}

export function update(task, expectedVersion) {
  const stored = tasks.get(task.id);
  if (!stored) throw { tag: "not-found" };
  if (stored.version !== expectedVersion) throw { tag: "conflict", val: stored.version };
  tasks.set(task.id, structuredClone(task));
}

export function list(owner, status, cursor, limit) {
  let after = null;
  if (cursor !== undefined) {
    const i = cursor.indexOf(":");
    if (i < 0 || !/^\d+$/.test(cursor.slice(0, i))) throw { tag: "invalid-cursor" };
    after = { createdAt: BigInt(cursor.slice(0, i)), id: cursor.slice(i + 1) };
  }
  const matching = [...tasks.values()]
    .filter((t) => t.owner === owner && (status === undefined || t.status === status))
    .filter((t) => after === null || order(t, after) > 0)
    .sort(order);
  const page = matching.slice(0, limit);
  const nextCursor = matching.length > page.length ? cursorOf(page[page.length - 1]) : undefined;
  return { tasks: page, nextCursor };
}

function _delete(id) {
  if (!tasks.delete(id)) throw { tag: "not-found" };
}
export { _delete as delete };

export function expire(now) {
  const gone = [];
  for (const t of tasks.values()) {
    if (t.ttl !== undefined && t.createdAt + t.ttl <= now) gone.push(t.id);
  }
  for (const id of gone) tasks.delete(id);
  return gone;
}

export function abandoned(now, limit) {
  return [...tasks.values()]
    .filter((t) => !TERMINAL.has(t.status) && t.leaseUntil !== undefined && t.leaseUntil <= now)
    .slice(0, limit)
    .map((t) => t.id);
}
