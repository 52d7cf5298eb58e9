"""What the tests share: the example servers, a JSON-RPC peer over a child's stdio, PostgreSQL
schemas of their own, the mcp-tasks binary."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "conformance"))

BINARY = os.environ.get("MCP_TASKS_BIN", str(ROOT / "target/release/mcp-tasks"))
EXAMPLE = str(HERE.parent / "examples/server.py")
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "mcp-tasks-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {
        "elicitation": {"form": {}},
        "extensions": {"io.modelcontextprotocol/tasks": {}},
    },
}


class Lines:
    """A JSON-RPC peer over a child process's stdio: requests by id, and what else it wrote."""

    def __init__(self, *command, cwd=None):
        self.child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
        )
        self.answers = {}
        self.others = []
        self.stderr = ""
        self.next_id = 1
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self):
        for line in self.child.stdout:
            message = json.loads(line)
            with self.lock:
                if "method" not in message and "id" in message:
                    self.answers[message["id"]] = message
                else:
                    self.others.append(message)
                self.lock.notify_all()

    def _read_stderr(self):
        for line in self.child.stderr:
            self.stderr += line

    def write(self, message):
        self.child.stdin.write(json.dumps(message) + "\n")
        self.child.stdin.flush()

    def request(self, method, params=None):
        id = self.next_id
        self.next_id += 1
        self.write({"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}})
        with self.lock:
            if not self.lock.wait_for(lambda: id in self.answers, timeout=10):
                raise AssertionError(f"no answer to {method}; stderr: {self.stderr}")
            return self.answers.pop(id)

    def initialize(self, capabilities=None):
        init = self.request(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": capabilities or {}, "clientInfo": {"name": "t", "version": "1"}},
        )
        self.write({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return init

    def until(self, task_id, status, meta=None):
        params = {"taskId": task_id, **({"_meta": meta} if meta else {})}
        for _ in range(200):
            got = self.request("tasks/get", params)
            if got.get("result", {}).get("status") == status:
                return got["result"]
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} never became {status}; stderr: {self.stderr}")

    def wait_stderr(self, text):
        for _ in range(100):
            if text in self.stderr:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.child.kill()
        self.child.wait()


@pytest.fixture
def example():
    servers = []

    def start(*args):
        s = Lines(sys.executable, EXAMPLE, *args)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


_schemas = iter(range(1_000_000))


def postgres_url():
    """A PostgreSQL URL for a fresh schema of its own (MCP_TASKS_TEST_POSTGRES, else the local `test`)."""
    import psycopg

    base = os.environ.get("MCP_TASKS_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")
    schema = f"py_{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


class HttpServer:
    """An example server over Streamable HTTP on a free port of 127.0.0.1."""

    def __init__(self, script, *args):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.child = subprocess.Popen(
            [sys.executable, str(HERE.parent / "examples" / script), *args, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr = ""
        threading.Thread(target=self._read_stderr, daemon=True).start()
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"{script} did not start: {self.stderr}")

    def _read_stderr(self):
        for line in self.child.stderr:
            self.stderr += line

    def close(self):
        self.child.kill()
        self.child.wait()
