"""A 2025-11-25 session served by two `mcp-tasks serve --http` replicas sharing PostgreSQL,
through the official MCP Python SDK (1.x) behind interop/round-robin.mjs: the session's requests
go to both replicas, its GET stream to one and the tool runs on the other. A task that asks a
question completes, and its status notifications arrive on the GET stream.

Usage: python replicas.py URL TOKEN
"""

import asyncio
import sys
import warnings

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.types import CallToolResult, ElicitResult, ServerNotification, TaskStatusNotification

# mcp 1.x marks these experimental APIs deprecated in favour of 2.x; 1.x is the line we test.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)


async def replicas(url: str, token: str) -> None:
    questions = []
    statuses = []

    async def answer(context, params):
        questions.append(params.model_dump(by_alias=True))
        return ElicitResult(action="accept", content={"ok": True})

    async def hear(message) -> None:
        if isinstance(message, ServerNotification) and isinstance(message.root, TaskStatusNotification):
            statuses.append((message.root.params.taskId, message.root.params.status))

    headers = {"Authorization": f"Bearer {token}"}
    async with streamablehttp_client(url, headers=headers) as (read, write, session_id), ClientSession(
        read, write, elicitation_callback=answer, message_handler=hear
    ) as session:
        init = await session.initialize()
        assert init.protocolVersion == "2025-11-25", init.protocolVersion
        assert session_id(), "a session was opened"

        confirm = await session.experimental.call_tool_as_task("confirm", {})
        task_id = confirm.task.taskId
        result = await session.experimental.get_task_result(task_id, CallToolResult)
        assert len(questions) == 1, questions
        assert questions[0]["message"] == "Proceed?", questions
        assert questions[0]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == task_id, questions
        assert result.content[0].text == '{"action":"accept","content":{"ok":true}}\n', result
        done = await session.experimental.get_task(task_id)
        assert done.status == "completed", done

        # The task's end reaches the GET stream (on the other replica) through the store.
        for _ in range(100):
            if (task_id, "completed") in statuses:
                break
            await asyncio.sleep(0.05)
        heard = [status for (task, status) in statuses if task == task_id]
        assert "completed" in heard, statuses
        assert "input_required" in heard, statuses
        print("statuses:", " ".join(heard))
    print("replicas: ok")


if __name__ == "__main__":
    asyncio.run(replicas(sys.argv[1], sys.argv[2]))
