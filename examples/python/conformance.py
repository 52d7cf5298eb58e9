"""Runs the store conformance cases (conformance/store.json) against the Python package's
MemoryStore and SqliteStore: the same cases the Rust stores pass. Usage: python conformance.py
"""

import sys
from pathlib import Path

import itertools
import tempfile

from mcp_tasks import MemoryStore, SqliteStore, StoreError, Task
from mcp_tasks.component import InputRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conformance"))
from store import check_store  # noqa: E402

cases, checked = check_store(MemoryStore, Task, InputRequest, StoreError)
with tempfile.TemporaryDirectory() as dir:
    n = itertools.count()
    check_store(lambda: SqliteStore(f"{dir}/{next(n)}.db"), Task, InputRequest, StoreError)
print(f"python store conformance: {cases} cases, {checked} steps: ok")
