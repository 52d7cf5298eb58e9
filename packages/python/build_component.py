"""Writes the mcp-tasks component into the package (src/mcp_tasks/tasks.wasm), for the wheel.

The SQL stores' schema needs no step: src/mcp_tasks/schema is a link to the Rust host's own
files (host/src/store/schema/), which the wheel carries as files and an editable install of a
checkout reads in place.

The binary: $MCP_TASKS_BIN, else this checkout's target/release/mcp-tasks. No rule is written
by hand in Python: the wheel carries the component, which wasmtime-py runs.
"""

import os
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parent
binary = Path(os.environ.get("MCP_TASKS_BIN", root / "../../target/release/mcp-tasks"))
if not binary.exists():
    sys.exit(f"build: no mcp-tasks binary at {binary}: build it (cargo build --release) or set MCP_TASKS_BIN")
out = root / "src/mcp_tasks/tasks.wasm"
subprocess.run([str(binary), "component", "--out", str(out)], check=True)
print(f"build: {out.relative_to(root)} holds the component")
