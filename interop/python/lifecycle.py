"""A whole task lifecycle against `mcp-tasks serve`, through the official MCP Python SDK (1.x).

Usage: python lifecycle.py MCP_TASKS_BINARY TOOLS_TOML
"""

import asyncio
import sys
import warnings

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError
from mcp.types import CallToolResult, ElicitResult

# mcp 1.x marks these experimental APIs deprecated in favour of 2.x; 1.x is the line we test.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)

TERMINAL = {"completed", "failed", "cancelled"}


async def until_terminal(session: ClientSession, task_id: str):
    for _ in range(400):
        task = await session.experimental.get_task(task_id)
        if task.status in TERMINAL:
            return task
        await asyncio.sleep((task.pollInterval or 100) / 1000)
    raise AssertionError(f"task {task_id} never ended: {task}")


async def lifecycle(binary: str, tools: str) -> None:
    server = StdioServerParameters(command=binary, args=["serve", "--tools", tools, "--owner", "python-sdk"])
    questions = []

    async def answer(context, params):
        # The SDK declares the elicitation capability because this callback exists.
        questions.append(params.model_dump(by_alias=True))
        return ElicitResult(action="accept", content={"ok": True})

    async with stdio_client(server) as (read, write), ClientSession(
        read, write, elicitation_callback=answer
    ) as session:
        init = await session.initialize()
        assert init.protocolVersion == "2025-11-25", init.protocolVersion
        caps = init.capabilities.tasks
        assert caps is not None and caps.requests.tools.call is not None, caps

        listed = await session.list_tools()
        support = {t.name: t.execution.taskSupport for t in listed.tools}
        assert support == {
            "greet": "optional",
            "long": "required",
            "confirm": "required",
            "interview": "required",
            "limited": "optional",
            "steps": "optional",
            "queued": "optional",
            "shout": "optional",
            "loud_greeting": "required",
        }, support

        # Call as a task, poll until terminal, fetch the result.
        created = await session.experimental.call_tool_as_task("greet", {"name": "python"}, ttl=60_000)
        task_id = created.task.taskId
        assert created.task.status == "working", created
        assert created.task.ttl == 60_000, created
        for _ in range(400):
            task = await session.experimental.get_task(task_id)
            if task.status in TERMINAL:
                break
            await asyncio.sleep((task.pollInterval or 100) / 1000)
        assert task.status == "completed", task
        result = await session.experimental.get_task_result(task_id, CallToolResult)
        assert result.content[0].text == "hello, python\n", result
        assert result.meta["io.modelcontextprotocol/related-task"]["taskId"] == task_id, result.meta

        # List: the task is there.
        tasks = await session.experimental.list_tasks()
        assert task_id in [t.taskId for t in tasks.tasks], tasks

        # Cancel a long task; it stays cancelled, and a second cancel is refused with -32602.
        long = await session.experimental.call_tool_as_task("long", {})
        cancelled = await session.experimental.cancel_task(long.task.taskId)
        assert cancelled.status == "cancelled", cancelled
        again = await session.experimental.get_task(long.task.taskId)
        assert again.status == "cancelled", again
        try:
            await session.experimental.cancel_task(long.task.taskId)
        except McpError as e:
            assert e.error.code == -32602, e.error
        else:
            raise AssertionError("cancelling a cancelled task was accepted")

        # input_required: the tool asks; the server sends the question with tasks/result (or, on
        # stdio, after a tasks/get that shows it), the SDK's elicitation callback answers it, and
        # tasks/result returns the result; the question is never asked twice.
        confirm = await session.experimental.call_tool_as_task("confirm", {})
        confirm_id = confirm.task.taskId
        result = await session.experimental.get_task_result(confirm_id, CallToolResult)
        assert len(questions) == 1, questions
        assert questions[0]["message"] == "Proceed?", questions
        assert questions[0]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == confirm_id, questions
        assert result.content[0].text == '{"action":"accept","content":{"ok":true}}\n', result
        done = await session.experimental.get_task(confirm_id)
        assert done.status == "completed", done

        # A queued task (its tool has run = "queue"): created without running, claimed by a host
        # sharing the store (here the server's own sweep), run, and completed like any other.
        queued = await session.experimental.call_tool_as_task("queued", {"name": "python"})
        assert queued.task.statusMessage == "Queued: waiting for a host to run it.", queued
        task = await until_terminal(session, queued.task.taskId)
        assert task.status == "completed", task
        result = await session.experimental.get_task_result(queued.task.taskId, CallToolResult)
        assert result.content[0].text == "hello from the queue, python\n", result

        # A workflow: greet, then shout the greeting; tasks/get shows its steps in _meta.
        workflow = await session.experimental.call_tool_as_task("loud_greeting", {"name": "python"})
        task = await until_terminal(session, workflow.task.taskId)
        assert task.status == "completed", task
        steps = task.meta["mcp-tasks/workflow"]["steps"]
        assert [(s["tool"], s["status"]) for s in steps] == [("greet", "completed"), ("shout", "completed")], steps
        assert steps[0]["output"] == {"text": "hello, python"}, steps
        result = await session.experimental.get_task_result(workflow.task.taskId, CallToolResult)
        assert result.content[0].text == "HELLO, PYTHON\n", result

        # A plain call of an optional tool answers directly.
        plain = await session.call_tool("greet", {"name": "plain"})
        assert plain.content[0].text == "hello, plain\n", plain
    print("python sdk lifecycle: ok")


if __name__ == "__main__":
    asyncio.run(lifecycle(sys.argv[1], sys.argv[2]))
