"""The store cases of conformance/store.json, for a store written in Python (the WIT's
`mcp:tasks/store` with tasks as a dataclass of snake_case fields, errors raised as exceptions with
a `tag` and a `payload`). The Rust stores run the same cases (host/tests/store_conformance.rs).

check_store(new_store, Task, InputRequest, StoreError): new_store() gives an empty store for
each case; returns (cases, steps checked).
"""

import json
from pathlib import Path

fixture = json.loads((Path(__file__).parent / "store.json").read_text())


def check_store(new_store, Task, InputRequest, StoreError):
    def make_task(partial):
        fields = {**fixture["defaults"], **partial}
        fields["last-updated-at"] = partial["created-at"]
        fields["input-requests"] = [InputRequest(**q) for q in fields["input-requests"]]
        return Task(**{name.replace("-", "_"): value for name, value in fields.items()})

    checked = 0
    for case in fixture["cases"]:
        store = new_store()
        next_cursor = None
        for n, step in enumerate(case["steps"]):
            at = f"{case['name']}, step {n}: {json.dumps(step)}"
            expect = step["expect"]
            op = step["op"]
            got = None
            try:
                if op == "create":
                    store.create(make_task(step["task"]))
                elif op == "update":
                    store.update(make_task(step["task"]), step["expected-version"])
                elif op == "delete":
                    store.delete(step["id"])
                elif op == "get":
                    t = store.get(step["id"])
                    got = {"task": None if t is None else {
                        "id": t.id, "owner": t.owner, "status": t.status, "version": t.version, "era": t.era,
                        "variables": t.variables,
                        "input-requests": [{"key": q.key, "state": q.state} for q in t.input_requests],
                    }}
                elif op == "list":
                    cursor = next_cursor if step["cursor"] == "$next" else step["cursor"]
                    page, next_cursor = store.list(step["owner"], step["status"], cursor, step["limit"])
                    got = {"ids": [t.id for t in page], "more": next_cursor is not None}
                elif op == "expire":
                    got = {"ids": sorted(store.expire(step["now"]))}
                elif op == "abandoned":
                    got = {"ids": sorted(store.abandoned(step["now"], step["limit"]))}
                else:
                    raise AssertionError(f"{at}: unknown op")
            except StoreError as e:
                assert isinstance(expect, dict) and "error" in expect, f"{at}: failed with {e.tag}"
                assert e.tag == expect["error"], f"{at}: got {e.tag}"
                if "version" in expect:
                    assert e.payload == expect["version"], f"{at}: got version {e.payload}"
                checked += 1
                continue
            assert expect == "ok" or "error" not in expect, f"{at}: succeeded"
            if expect != "ok":
                for key, want in expect.items():
                    if key == "task" and want is not None:
                        for field, value in want.items():
                            assert (got["task"] or {}).get(field) == value, f"{at}: got {got}"
                    elif key == "ids" and op != "list":
                        assert got["ids"] == sorted(want), f"{at}: got {got}"
                    else:
                        assert got[key] == want, f"{at}: got {got}"
            checked += 1
        close = getattr(store, "close", None)
        if close:
            close()
    return len(fixture["cases"]), checked
