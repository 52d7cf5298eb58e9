"""Drives the README's quick-start server (server.py in the directory given, with that
directory's .venv) as a client would, over stdio: a 2025-11-25 task of `countdown` from 2, polled
to its end, and its result; then a 2026-07-28 call that declares the extension, answered with a
task. Usage: python quickstart_drive.py DIR   (run by tests/tests/packages.rs)"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import META, Lines  # noqa: E402

dir = Path(sys.argv[1])
server = Lines(str(dir / ".venv/bin/python"), "server.py", cwd=str(dir))
try:
    server.initialize()
    assert [t["name"] for t in server.request("tools/list")["result"]["tools"]] == ["countdown"]
    created = server.request("tools/call", {"name": "countdown", "arguments": {"start": 2}, "task": {}})
    task_id = created["result"]["task"]["taskId"]
    server.until(task_id, "completed")
    assert server.request("tasks/result", {"taskId": task_id})["result"]["content"][0]["text"] == "lift-off"
finally:
    server.close()
# A 2026-07-28 client: no handshake, a connection of its own.
server = Lines(str(dir / ".venv/bin/python"), "server.py", cwd=str(dir))
try:
    modern = server.request("tools/call", {"name": "countdown", "arguments": {"start": 1}, "_meta": META})
    assert modern.get("result", {}).get("resultType") == "task", modern
    print("quick start: a 2025-11-25 task completed; a 2026-07-28 call became a task")
finally:
    server.close()
