"""A low-level `Server` of the Python SDK 2.x (no tools of its own) with one task tool from
mcp-tasks, over stdio: the middleware is appended to the server's own list.

Usage: python examples/lowlevel_server.py
"""

import asyncio

from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from mcp_tasks import Run, Tasks

tasks = Tasks()


@tasks.tool(description="Wait a tenth of a second, then say so")
async def pause(run: Run):
    await asyncio.sleep(0.1)
    return {"content": [{"type": "text", "text": "paused"}]}


server = Server("lowlevel-tasks")
server.middleware.append(tasks.middleware)


async def main():
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    asyncio.run(main())
