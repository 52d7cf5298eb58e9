"""A whole task lifecycle through the mcp-tasks component in Python (wasmtime 50), with the
store written in Python (the package's MemoryStore, a dict). This file is the host: it feeds JSON-RPC messages to the
router and carries out the actions it returns.

Usage: python lifecycle.py TASKS_WASM MACHINE_WASM
"""

import json
import statistics
import sys
import time

from mcp_tasks import MemoryStore
from mcp_tasks_component import Context, Machine, Settings, Tasks, Tool

tasks_wasm, machine_wasm = sys.argv[1], sys.argv[2]

# The pure state machine, from its own component: no store needed.
machine = Machine(machine_wasm)
assert machine.can_transition("working", "input-required")
assert not machine.can_transition("completed", "working")
assert machine.is_terminal("cancelled")

shout = Tool(
    name="shout",
    description="Upper-case the text",
    input_schema=json.dumps({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
)
store = MemoryStore()
tasks = Tasks(tasks_wasm, store=store, settings=Settings(page_size=2), tools=[shout])
ctx = Context(owner="python")
sent, runs = [], []
next_id = 0


def carry_out(actions):
    for a in actions:
        if a.tag == "send":
            sent.append(json.loads(a.value["message"]))
        elif a.tag == "set-session":
            ctx.session = a.value
        elif a.tag == "run-tool":
            runs.append(a.value)
        elif a.tag == "log":
            print(f"router: {a.value}", file=sys.stderr)


def request(method, params):
    global next_id
    next_id += 1
    ctx.now = int(time.time() * 1000)
    message = {"jsonrpc": "2.0", "id": next_id, "method": method, "params": params}
    carry_out(tasks.handle(json.dumps(message), ctx))
    return next(m for m in sent if m.get("id") == next_id and "method" not in m)


def run_tools():
    while runs:
        run = runs.pop(0)
        text = json.loads(run["arguments"])["text"]
        result = {"content": [{"type": "text", "text": text.upper()}]}
        carry_out(tasks.tool_finished(run["token"], json.dumps(result), ctx))


init = request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "py", "version": "1"}})
assert init["result"]["capabilities"]["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}, init

created = request("tools/call", {"name": "shout", "arguments": {"text": "hello"}, "task": {"ttl": 60000}})
task_id = created["result"]["task"]["taskId"]
assert created["result"]["task"]["status"] == "working", created
assert store.get(task_id).status == "working"  # the Python store holds it
run_tools()
assert any(m.get("method") == "notifications/tasks/status" and m["params"]["status"] == "completed" for m in sent)
result = request("tasks/result", {"taskId": task_id})["result"]
assert result["content"][0]["text"] == "HELLO", result
assert result["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == task_id

second = request("tools/call", {"name": "shout", "arguments": {"text": "late"}, "task": {}})["result"]["task"]["taskId"]
assert request("tasks/cancel", {"taskId": second})["result"]["status"] == "cancelled"
run_tools()  # the late result changes nothing: the conditional update refuses it
assert request("tasks/get", {"taskId": second})["result"]["status"] == "cancelled"
assert request("tasks/cancel", {"taskId": second})["error"]["code"] == -32602

third = request("tools/call", {"name": "shout", "arguments": {"text": "x"}, "task": {}})["result"]["task"]["taskId"]
# Two per page: the three tasks in the store's order, by creation time and then id (tasks made
# in the same millisecond are ordered by id), then no cursor.
by_creation = [i for _, i in sorted((request("tasks/get", {"taskId": i})["result"]["createdAt"], i) for i in (task_id, second, third))]
page1 = request("tasks/list", {})["result"]
assert [t["taskId"] for t in page1["tasks"]] == by_creation[:2], page1
page2 = request("tasks/list", {"cursor": page1["nextCursor"]})["result"]
assert [t["taskId"] for t in page2["tasks"]] == by_creation[2:] and "nextCursor" not in page2, page2
assert request("tasks/list", {"cursor": "nonsense"})["error"]["code"] == -32602

# Per-call cost: one router call (ping: no store) and one can-transition, the median of 7
# rounds, each the mean of N calls.
N = 2000
ping = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "ping"})


def per_call_us(call) -> float:
    rounds = []
    for _ in range(8):
        t0 = time.perf_counter()
        for _ in range(N):
            call()
        rounds.append((time.perf_counter() - t0) / N * 1e6)
    return statistics.median(rounds[1:])  # the first round warms up


ping_us = per_call_us(lambda: tasks.handle(ping, ctx))
can_us = per_call_us(lambda: machine.can_transition("working", "completed"))
print(
    f"per call through wasmtime-py (median of 7 rounds): router.handle(ping) {ping_us:.2f} µs, "
    f"can-transition {can_us:.2f} µs"
)
print("python lifecycle: ok")
