// The store cases of conformance/store.json, for a store written in JavaScript (the WIT's
// `mcp:tasks/store` as jco passes it: camelCase fields, u64 as BigInt, errors thrown as the
// `store-error` variant). The Rust stores run the same cases (host/tests/store_conformance.rs).
//
// checkStore(newStore): newStore() gives an empty store for each case; returns the steps checked.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const fixture = JSON.parse(readFileSync(new URL("./store.json", import.meta.url), "utf8"));
const U64 = ["created-at", "ttl", "poll-interval", "version", "lease-until"];
const camel = (name) => name.replace(/-(.)/g, (_, c) => c.toUpperCase());

/** A task as jco passes it: camelCase fields, u64 as BigInt, absent options undefined. */
function makeTask(partial) {
  const fields = { ...fixture.defaults, ...partial, "last-updated-at": partial["created-at"] };
  const task = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === null) continue;
    task[camel(name)] = U64.includes(name) || name === "last-updated-at" ? BigInt(value) : value;
  }
  // input-request records: absent options are undefined too.
  task.inputRequests = task.inputRequests.map((q) =>
    Object.fromEntries(Object.entries(q).filter(([, v]) => v !== null)),
  );
  return task;
}

export function checkStore(newStore) {
  let checked = 0;
  for (const testCase of fixture.cases) {
    const store = newStore();
    let next;
    testCase.steps.forEach((step, n) => {
      const at = `${testCase.name}, step ${n}: ${JSON.stringify(step)}`;
      let got;
      try {
        switch (step.op) {
          case "create": store.create(makeTask(step.task)); break;
          case "update": store.update(makeTask(step.task), BigInt(step["expected-version"])); break;
          case "delete": store.delete(step.id); break;
          case "get": {
            const t = store.get(step.id);
            got = {
              task: t === undefined ? null : {
                id: t.id, owner: t.owner, status: t.status, version: Number(t.version), era: t.era,
                variables: t.variables ?? null,
                "input-requests": t.inputRequests.map((q) => ({ key: q.key, state: q.state })),
              },
            };
            break;
          }
          case "list": {
            const cursor = step.cursor === "$next" ? next : step.cursor ?? undefined;
            const page = store.list(step.owner, step.status ?? undefined, cursor, step.limit);
            next = page.nextCursor;
            got = { ids: page.tasks.map((t) => t.id), more: page.nextCursor !== undefined };
            break;
          }
          case "expire": got = { ids: store.expire(BigInt(step.now)).sort() }; break;
          case "abandoned": got = { ids: store.abandoned(BigInt(step.now), step.limit).sort() }; break;
          default: throw new Error(`unknown op ${step.op}`);
        }
      } catch (e) {
        assert.ok(e && typeof e.tag === "string", `${at}: threw ${e?.stack ?? e}`);
        assert.ok(step.expect.error, `${at}: failed with ${JSON.stringify(e, (_, v) => (typeof v === "bigint" ? Number(v) : v))}`);
        assert.equal(e.tag, step.expect.error, at);
        if (step.expect.version !== undefined) assert.equal(e.val, BigInt(step.expect.version), at);
        checked++;
        return;
      }
      assert.ok(!step.expect.error, `${at}: succeeded`);
      if (step.expect === "ok") {
        checked++;
        return;
      }
      for (const [key, want] of Object.entries(step.expect)) {
        if (key === "task" && want !== null) {
          for (const [field, value] of Object.entries(want)) assert.deepEqual(got.task?.[field], value, at);
        } else if (key === "ids" && step.op !== "list") {
          assert.deepEqual(got.ids, [...want].sort(), at);
        } else {
          assert.deepEqual(got[key], want, at);
        }
      }
      checked++;
    });
    store.close?.();
  }
  return { cases: fixture.cases.length, steps: checked };
}
