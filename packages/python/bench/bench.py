"""Benchmark of the package (medians of repeated runs; figures, not limits):
- through the SDK server over stdio, pipelined: plain tool calls the SDK answers alone, task
  creations and tasks/get through this package, in the same process and run;
- the per-call cost of crossing into the component from wasmtime-py (in process).
Usage: python bench/bench.py [RUNS]   (after build_component.py)"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mcp_tasks.component import Router, record
from mcp_tasks.stores import MemoryStore

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
N = 1_000

child = subprocess.Popen(
    [sys.executable, str(Path(__file__).parent / "server.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
)
next_id = 1


def pipeline(method, params, count):
    global next_id
    first = next_id
    lines = []
    for i in range(count):
        lines.append(json.dumps({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params(i)}))
        next_id += 1
    start = time.perf_counter()
    child.stdin.write("\n".join(lines) + "\n")
    child.stdin.flush()
    answers = []
    while len(answers) < count:
        message = json.loads(child.stdout.readline())
        if "method" not in message and message.get("id", -1) >= first:
            answers.append(message)
    seconds = time.perf_counter() - start
    errors = [a for a in answers if "error" in a]
    assert not errors, f"{method}: {errors[0]}"
    return count / seconds, answers


pipeline("initialize", lambda i: {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "b", "version": "1"}}, 1)
child.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
rates = {"plain": [], "created": [], "gets": []}
task_id = None
for _ in range(RUNS):
    rates["plain"].append(pipeline("tools/call", lambda i: {"name": "plain", "arguments": {"text": f"p{i}"}}, N)[0])
    rate, answers = pipeline("tools/call", lambda i: {"name": "tasked", "arguments": {"text": f"t{i}"}, "task": {}}, N)
    rates["created"].append(rate)
    task_id = task_id or answers[0]["result"]["task"]["taskId"]
    rates["gets"].append(pipeline("tasks/get", lambda i: {"taskId": task_id}, N)[0])
child.stdin.close()
child.wait(timeout=10)

# The crossing: the cheapest export (versions) and a tasks/get of a stored task, in process.
settings = record(
    name="bench", version="1", instructions=None, default_ttl=600_000, max_ttl=600_000, poll_interval=1000,
    page_size=50, lease=30_000, state_key="k" * 64, progress_interval=100, queue=False, claim_limit=16,
)
tool = record(
    name="echo", title=None, description=None, input_schema='{"type":"object"}', output_schema=None,
    task_support="optional", defer_task=False, immediate_response=None, max_attempts=1, retry_backoff=1000,
    dedup_window=None, queue=False, steps=[],
)
router = Router(MemoryStore(), lambda: settings, lambda: [tool], lambda n: tool if n == "echo" else None)
session = json.dumps({"protocolVersion": "2025-11-25", "clientCapabilities": {}})
ctx = record(owner="bench", now=int(time.time() * 1000), session=session, executor="bench", push=False, client="")
created = router.handle(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}, "task": {}}}), ctx)
stored = json.loads(next(a for a in created if a.tag == "send").value["message"])["result"]["task"]["taskId"]
get = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"taskId": stored}})


def per_call(f, count):
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(count):
            f()
        runs.append((time.perf_counter() - start) * 1e6 / count)
    return statistics.median(runs)


versions_us = per_call(router.versions, 5_000)
get_us = per_call(lambda: router.handle(get, ctx), 2_000)
plain = statistics.median(rates["plain"])
created, gets = statistics.median(rates["created"]), statistics.median(rates["gets"])
print(f"runs: {RUNS} of {N} pipelined requests each, over stdio, one server process")
print(f"plain tool calls (the SDK alone): {plain:,.0f}/s")
print(f"task creations (this package): {created:,.0f}/s ({created / plain:.2f}x plain)")
print(f"tasks/get (this package): {gets:,.0f}/s ({gets / plain:.2f}x plain)")
print(f"crossing into the component from wasmtime-py: versions() {versions_us:.1f} us, tasks/get {get_us:.1f} us per call")
