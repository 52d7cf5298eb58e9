"""One store, any language: the package's SQLite and PostgreSQL stores are the Rust host's
schema, so a task created through this package's server is read and cancelled through
`mcp-tasks serve` on the same file, and one created there is answered here."""

import time
from pathlib import Path

from conftest import BINARY, Lines, postgres_url

TOOLS = r"""
[[tools]]
name = "long"
command = ["sleep", "300"]
task_support = "required"

[[tools]]
name = "ask"
command = ["sh", "-c", "read args; echo '{\"message\":\"Proceed?\",\"requestedSchema\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}}' >&3; read answer; echo \"$answer\""]
task_support = "required"
questions = true
"""


def rust_server(store: str, dir: Path) -> Lines:
    assert Path(BINARY).exists(), f"no mcp-tasks binary at {BINARY}: set MCP_TASKS_BIN"
    tools = dir / "tools.toml"
    tools.write_text(TOOLS)
    return Lines(BINARY, "serve", "--store", store, "--tools", str(tools), "--owner", "shared")


def test_a_task_created_through_the_python_server_is_read_and_cancelled_through_mcp_tasks_serve(example, tmp_path):
    store = f"file:{tmp_path / 'tasks.db'}"
    py = example(store, "shared")
    rust = rust_server(store, tmp_path)
    try:
        py.initialize()
        rust.initialize()
        task_id = py.request("tools/call", {"name": "long", "arguments": {}, "task": {"ttl": 60000}})["result"]["task"]["taskId"]
        assert rust.request("tasks/get", {"taskId": task_id})["result"]["status"] == "working"
        assert [t["taskId"] for t in rust.request("tasks/list")["result"]["tasks"]] == [task_id]
        assert rust.request("tasks/cancel", {"taskId": task_id})["result"]["status"] == "cancelled"
        # The Python server's sweep sees the task ended elsewhere and cancels its handler.
        assert py.wait_stderr(f"long: cancelled ({task_id})"), py.stderr
        assert py.request("tasks/get", {"taskId": task_id})["result"]["status"] == "cancelled"
    finally:
        rust.close()


def test_a_task_created_through_mcp_tasks_serve_on_postgres_is_answered_through_the_python_server(example, tmp_path):
    store = postgres_url()
    rust = rust_server(store, tmp_path)
    py = example(store, "shared")
    try:
        rust.initialize({"elicitation": {}})
        py.initialize({"elicitation": {}})
        task_id = rust.request("tools/call", {"name": "ask", "arguments": {}, "task": {"ttl": 60000}})["result"]["task"]["taskId"]
        py.until(task_id, "input_required")
        # The 2025-11-25 way to answer: tasks/result through the Python server sends the question
        # to its client; the answer goes back to the Rust host's tool through the store.
        import threading

        pending = {}
        waiter = threading.Thread(target=lambda: pending.update(py.request("tasks/result", {"taskId": task_id})))
        waiter.start()
        question = None
        for _ in range(100):
            question = next((m for m in py.others if m.get("method") == "elicitation/create"), None)
            if question:
                break
            time.sleep(0.05)
        assert question, f"no question came; got {py.others}"
        py.write({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"ok": True}}})
        waiter.join(10)
        assert '"ok":true' in pending["result"]["content"][0]["text"], pending
        done = rust.until(task_id, "completed")
        assert done["taskId"] == task_id
        result = rust.request("tasks/result", {"taskId": task_id})["result"]
        assert '"ok":true' in result["content"][0]["text"]
    finally:
        rust.close()
