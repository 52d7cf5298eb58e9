import { readdirSync, readFileSync } from "node:fs";

// What every store backend shares: the list cursor and the order it resumes in, and the task as
// the JSON `body` the Rust host's SQL stores keep (host/src/store/row.rs), so that a task
// written here is read there and the reverse.

/** The order `list` returns tasks in: by creation time, then ID. */
export const order = (a, b) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** The cursor after `task`: `createdAt:id`, as every backend of the Rust host hands out. */
export const cursorOf = (task) => `${task.createdAt}:${task.id}`;

/** The (createdAt, id) a cursor names; throws `invalid-cursor` if it names none. */
export function parseCursor(cursor) {
  const i = cursor.indexOf(":");
  if (i < 0 || !/^\d+$/.test(cursor.slice(0, i))) throw { tag: "invalid-cursor" };
  return { createdAt: BigInt(cursor.slice(0, i)), id: cursor.slice(i + 1) };
}

/** Whether a task of this status may still change (its lease matters). */
export const isLive = (status) => status === "working" || status === "input-required";

/** The status as the SQL columns keep it: the protocol's spelling. */
export const statusName = (status) => (status === "input-required" ? "input_required" : status);
const statusFrom = (name) => (name === "input_required" ? "input-required" : name);

const num = (v) => (v === undefined ? undefined : Number(v));
const big = (v) => (v === undefined || v === null ? undefined : BigInt(v));
const opt = (v) => (v === null ? undefined : v);

/** The task as the JSON text of the `body` column (field for field as the Rust host's). */
export function encodeBody(t) {
  return JSON.stringify({
    era: t.era,
    id: t.id,
    owner: t.owner,
    status: statusName(t.status),
    statusMessage: t.statusMessage,
    createdAt: num(t.createdAt),
    lastUpdatedAt: num(t.lastUpdatedAt),
    ttl: num(t.ttl) ?? null,
    pollInterval: num(t.pollInterval) ?? null,
    version: num(t.version),
    request: t.request,
    outcome:
      t.outcome === undefined
        ? null
        : t.outcome.tag === "success"
          ? { result: t.outcome.val }
          : { error: { code: t.outcome.val.code, message: t.outcome.val.message, data: t.outcome.val.data ?? null } },
    inputRequests: t.inputRequests.map((q) => ({
      key: q.key,
      method: q.method,
      params: q.params,
      state: q.state,
      response: q.response ?? null,
    })),
    executor: t.executor ?? null,
    leaseUntil: num(t.leaseUntil) ?? null,
    attempt: t.attempt,
    variables: t.variables ?? null,
    history: t.history.map((e) => ({
      at: num(e.at),
      event: e.event,
      status: statusName(e.status),
      attempt: e.attempt,
      host: e.host,
      by: e.by,
      detail: e.detail ?? null,
    })),
  });
}

/** The task a `body` column holds; `unavailable` if it is not one (a damaged row). */
export function decodeBody(text) {
  let b;
  try {
    b = JSON.parse(text);
  } catch (e) {
    throw { tag: "unavailable", val: `a stored task is damaged: ${e.message}` };
  }
  let outcome;
  if (b.outcome?.result !== undefined && b.outcome.result !== null) outcome = { tag: "success", val: b.outcome.result };
  else if (b.outcome?.error) {
    const e = b.outcome.error;
    outcome = { tag: "error", val: { code: e.code, message: e.message ?? "", data: opt(e.data) } };
  }
  return {
    // Rows written before the modern era are legacy tasks.
    era: b.era ?? "legacy",
    id: b.id,
    owner: b.owner,
    status: statusFrom(b.status),
    statusMessage: opt(b.statusMessage),
    createdAt: BigInt(b.createdAt),
    lastUpdatedAt: BigInt(b.lastUpdatedAt),
    ttl: big(b.ttl),
    pollInterval: big(b.pollInterval),
    version: BigInt(b.version),
    request: b.request,
    outcome,
    inputRequests: (b.inputRequests ?? []).map((q) => ({
      key: q.key,
      method: q.method,
      params: q.params,
      state: q.state,
      response: opt(q.response),
    })),
    executor: opt(b.executor),
    leaseUntil: big(b.leaseUntil),
    attempt: b.attempt ?? 1,
    variables: opt(b.variables),
    // Rows written before histories hold none.
    history: (b.history ?? []).map((e) => ({
      at: BigInt(e.at),
      event: e.event,
      status: statusFrom(e.status),
      attempt: e.attempt,
      host: e.host,
      by: e.by,
      detail: opt(e.detail),
    })),
  };
}

/**
 * The migrations of a SQL store (`sqlite` or `postgres`), in order: the Rust host's schema files
 * (host/src/store/schema/), which the package's build copies into schema/.
 */
export function migrations(dialect) {
  const dir = new URL(`../../schema/${dialect}/`, import.meta.url);
  return readdirSync(dir)
    .filter((f) => /^\d+\.sql$/.test(f))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .map((f) => readFileSync(new URL(f, dir), "utf8"));
}
