"""mcp-tasks for Python: MCP Tasks (2025-11-25, and the 2026-07-28 extension
io.modelcontextprotocol/tasks) for servers built with the Python SDK `mcp` 2.x, every rule in the
mcp-tasks WebAssembly component.

    tasks = Tasks(store="file:tasks.db")

    @tasks.tool(description="...", input_schema={...})
    async def slow(arguments, run): ...

    server = MCPServer("demo", middleware=[tasks.middleware])
"""

from .component import AlreadyExists, Conflict, InvalidCursor, NotFound, StoreError, Task, Unavailable
from .run import QuestionError, Run
from .stores import MemoryStore, PostgresStore, SqliteStore, open_store
from .tasks import Tasks

__all__ = [
    "AlreadyExists",
    "Conflict",
    "InvalidCursor",
    "MemoryStore",
    "NotFound",
    "PostgresStore",
    "QuestionError",
    "Run",
    "SqliteStore",
    "StoreError",
    "Task",
    "Tasks",
    "Unavailable",
    "open_store",
]
