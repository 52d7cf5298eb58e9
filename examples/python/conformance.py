"""Runs the store conformance cases (conformance/store.json) against DictStore: the same cases
the Rust stores pass. Usage: python conformance.py
"""

import sys
from pathlib import Path

from mcp_tasks_component import DictStore, InputRequest, StoreError, Task

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conformance"))
from store import check_store  # noqa: E402

cases, checked = check_store(DictStore, Task, InputRequest, StoreError)
print(f"python store conformance: {cases} cases, {checked} steps: ok")
