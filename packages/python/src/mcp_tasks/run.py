"""What a tool's handler gets with its arguments: its task, a way to report progress, to ask the
client questions (several at once), to go on as a task; a cancel reaches it as the asyncio
cancellation of the handler."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Awaitable, Callable, Optional


class QuestionError(Exception):
    """A question was answered with an error, or the run ended before its answer came."""

    def __init__(self, message: str, code: Optional[int] = None):
        super().__init__(message)
        self.code = code


class Run:
    """The run of one tool call."""

    def __init__(self, task_id: Optional[str], host: dict[str, Callable[..., Awaitable[None]]]):
        self.task_id = task_id
        self._host = host
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._asked = itertools.count(1)

    async def progress(self, progress: Optional[float] = None, total: Optional[float] = None, message: Optional[str] = None) -> None:
        """The task's status message, and a `notifications/progress` where the request asked."""
        await self._host["progress"](progress, total, message)

    async def ask(self, questions: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Ask several questions at once (`{key: {"method": ..., "params": ...}}`: elicitation,
        sampling, roots); the answers (the client's results) by key. A task waits in
        `input_required` until every answer is in."""
        loop = asyncio.get_running_loop()
        futures = {key: loop.create_future() for key in questions}
        self._pending.update(futures)
        try:
            await self._host["ask"](questions)
        except BaseException:
            for key in questions:
                self._pending.pop(key, None)
            raise
        return {key: await future for key, future in futures.items()}

    async def elicit(self, message: str, requested_schema: dict[str, Any]) -> dict[str, Any]:
        """Ask the user through the client (`elicitation/create`, form mode); its `ElicitResult`."""
        key = f"elicit-{next(self._asked)}"
        params = {"message": message, "requestedSchema": requested_schema}
        answers = await self.ask({key: {"method": "elicitation/create", "params": params}})
        return answers[key]

    async def detach(self) -> None:
        """For a tool with `defer_task`: go on as a task."""
        await self._host["detach"]()

    def _answer(self, key: str, value: Any) -> bool:
        future = self._pending.pop(key, None)
        if future is None or future.done():
            return False
        if isinstance(value, dict) and set(value) == {"error"}:
            error = value["error"] or {}
            future.set_exception(QuestionError(error.get("message", "the question was not answered"), error.get("code")))
        else:
            future.set_result(value)
        return True

    def _end(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(QuestionError(reason))
        self._pending.clear()
