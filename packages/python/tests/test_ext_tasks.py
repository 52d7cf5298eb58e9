"""The official Tasks extension client, @modelcontextprotocol/ext-tasks 0.2.2 over the SDK client
2.4.0, drives the example server over stdio in both generations (2026-07-28 and 2025-11-25): a
task completes, one asks two questions (v2) or one (v1) that are answered, one is cancelled and
its handler sees the cancel, one fails with a JSON-RPC error, a queued one and a workflow
complete. The driver is the one the Rust host passes: interop/ext-tasks/drive.mjs."""

import json
import os
import subprocess
import sys

import pytest
from conftest import EXAMPLE, ROOT, HttpServer

INTEROP = ROOT / "interop/ext-tasks"


@pytest.mark.parametrize("generation", ["v2", "v1"])
def test_the_ext_tasks_client_drives_a_python_sdk_server_with_these_tasks(generation):
    assert (INTEROP / "node_modules/@modelcontextprotocol/ext-tasks").exists(), "run .ci/setup"
    env = {**os.environ, "MCP_TASKS_SERVER_COMMAND": json.dumps([sys.executable, EXAMPLE])}
    out = subprocess.run(
        ["node", str(INTEROP / "drive.mjs"), "-", "-", generation], env=env, capture_output=True, text=True, timeout=120
    )
    assert f"ext-tasks {generation}: ok" in out.stdout, out.stdout + out.stderr
    assert f"{generation} cancelled: ok" in out.stdout
    assert "long: cancelled (" in out.stderr, "the handler saw the cancel"


def test_the_ext_tasks_client_drives_both_generations_over_streamable_http():
    server = HttpServer("server.py", "memory:", "default")
    try:
        for generation in ["v2", "v1"]:
            out = subprocess.run(
                ["node", str(INTEROP / "drive.mjs"), "-", "-", generation, server.url],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert f"ext-tasks {generation} over HTTP: ok" in out.stdout, out.stdout + out.stderr + server.stderr
        assert "long: cancelled (" in server.stderr, "the handler saw the cancel"
    finally:
        server.close()
