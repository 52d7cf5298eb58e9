"""An MCP server of the Python SDK 2.x (`MCPServer`) with tasks from mcp-tasks, over stdio: the
tools the interop tests drive (interop/tools.toml has the same ones as commands for
`mcp-tasks serve`).

Usage: python examples/server.py [STORE_URL] [OWNER] [PORT]
  (default memory:, owner "default", stdio; with a PORT, Streamable HTTP on 127.0.0.1:PORT/mcp)
"""

import asyncio
import json
import sys

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from mcp_tasks import Run, Tasks

store = sys.argv[1] if len(sys.argv) > 1 else "memory:"
owner = sys.argv[2] if len(sys.argv) > 2 else "default"
tasks = Tasks(store, owner=owner, name="mcp-tasks-example", poll_interval_ms=100, progress_interval_ms=0)
named = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def text(t):
    return {"content": [{"type": "text", "text": t}]}


# Arguments from the signature, as the SDK's @server.tool() takes them.
@tasks.tool("greet")
async def greet(name: str, run: Run):
    """Greet someone after a short pause"""
    await run.progress(message="warming up")
    await asyncio.sleep(0.3)
    return f"hello, {name}\n"


@tasks.tool("long", description="Sleep for five minutes (to be cancelled)", task_support="required")
async def long(run: Run):
    try:
        await asyncio.sleep(300)
    except asyncio.CancelledError:
        # What the cancel did, for the tests to see: the handler saw it.
        print(f"long: cancelled ({run.task_id})", file=sys.stderr, flush=True)
        raise
    return text("slept\n")


@tasks.tool("confirm", description="Ask the client to confirm, then print its answer", task_support="required")
async def confirm(run: Run):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    answer = await run.elicit("Proceed?", schema)
    return text(f"{compact(answer.get('content'))}\n")


@tasks.tool("interview", description="Ask two questions at once, then print both answers", task_support="required")
async def interview(run: Run):
    answers = await run.ask(
        {
            "name": {
                "method": "elicitation/create",
                "params": {
                    "mode": "form",
                    "message": "Your name?",
                    "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
                },
            },
            "poem": {
                "method": "sampling/createMessage",
                "params": {"messages": [{"role": "user", "content": {"type": "text", "text": "A short poem"}}], "maxTokens": 50},
            },
        }
    )
    return text(f"{compact(answers['name'])} {compact(answers['poem'])}\n")


@tasks.tool("limited", description="End with a JSON-RPC error")
async def limited(run: Run):
    raise MCPError(-32603, "API rate limit exceeded")


@tasks.tool("broken", description="Raise an exception")
async def broken(run: Run):
    raise RuntimeError("the disk is full")


@tasks.tool("queued", description="Greet someone, from whichever host claims the task", input_schema=named, queue=True)
async def queued(args, run):
    return text(f"hello from the queue, {args['name']}\n")


@tasks.tool(
    "shout",
    description="Upper-case the text",
    input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)
async def shout(args, run):
    return text(f"{args['text'].upper()}\n")


tasks.workflow("loud_greeting", ["greet", "shout"], description="Greet someone, then shout the greeting", input_schema=named)

server = MCPServer("mcp-tasks-example", middleware=[tasks.middleware])
if __name__ == "__main__":
    if len(sys.argv) > 3:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        server.run("stdio")
