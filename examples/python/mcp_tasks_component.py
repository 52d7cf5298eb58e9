"""The mcp-tasks components from Python, by hand, on PyPI `wasmtime` 50: the state-machine
component alone (`Machine`), and the whole component with a store and tools written here
(`Tasks`), through the low-level binding of the Python package (`mcp_tasks.component`:
records as dataclasses, store errors as exceptions, the router's actions as `Action`s).

    machine = Machine("machine.wasm")
    machine.can_transition("working", "completed")        # True

    tasks = Tasks("tasks.wasm", store=MemoryStore(), settings=Settings(), tools=[...])
    actions = tasks.handle('{"jsonrpc":"2.0","id":1,"method":"ping"}', Context(owner="me"))
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mcp_tasks.component import PACKAGE, Action, Router, record
from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker


@dataclass
class Settings:
    """The `settings` record of wit/tasks.wit."""

    name: str = "mcp-tasks-python"
    version: str = "0.1.0"
    instructions: Optional[str] = None
    default_ttl: Optional[int] = 60_000
    max_ttl: Optional[int] = 3_600_000
    poll_interval: int = 100
    page_size: int = 50
    lease: int = 15_000
    # Signs the requestState of a plain call waiting for input: random per process.
    state_key: str = field(default_factory=lambda: secrets.token_hex(32))
    # The least time (ms) between two notifications/progress of one request.
    progress_interval: int = 100
    # Queue new tasks for another host to claim; how many runs this host may have when it claims.
    queue: bool = False
    claim_limit: int = 2**32 - 1


@dataclass
class Tool:
    """The `tool` record of wit/tasks.wit."""

    name: str
    input_schema: str = '{"type":"object"}'
    task_support: str = "optional"  # forbidden | optional | required
    # 2026-07-28: run as a plain call until the tool says to go on as a task (tool_detached).
    defer_task: bool = False
    # 2025-11-25: a sentence for the model in the CreateTaskResult's _meta while the task works.
    immediate_response: Optional[str] = None
    # How many times a task of it runs at most, and the wait (ms) before the second attempt.
    max_attempts: int = 1
    retry_backoff: int = 1000
    # A window (ms) in which an equal call of the same owner gets the same task; None: never.
    dedup_window: Optional[int] = None
    # Queue its tasks for a host that claims them, whatever the host's mode.
    queue: bool = False
    # A workflow's steps (other tools, run one after the other as one task); empty: a tool.
    steps: list[str] = field(default_factory=list)
    title: Optional[str] = None
    description: Optional[str] = None
    output_schema: Optional[str] = None


@dataclass
class Context:
    """The `context` record of wit/tasks.wit: who calls, and when."""

    owner: str
    now: int = field(default_factory=lambda: int(time.time() * 1000))
    session: str = ""
    executor: str = "python"
    # Whether this host can write requests to its client at any time (stdio).
    push: bool = False
    # Which client sent the message, where several clients' request IDs may be equal.
    client: str = ""
    # How the message came, for a task's history.
    transport: str = "python"


class Machine:
    """The state-machine component (`mcp-tasks component --world state-machine`)."""

    def __init__(self, path: str):
        self.engine = Engine()
        self.store = Store(self.engine)
        linker = Linker(self.engine)
        linker.add_wasip2()
        self.store.set_wasi(WasiConfig())
        instance = linker.instantiate(self.store, Component.from_file(self.engine, path))
        machine = instance.get_export_index(self.store, PACKAGE.format("machine"))
        self._can = instance.get_func(self.store, instance.get_export_index(self.store, "can-transition", machine))
        self._terminal = instance.get_func(self.store, instance.get_export_index(self.store, "is-terminal", machine))

    def can_transition(self, from_: str, to: str) -> bool:
        return self._can(self.store, from_, to)

    def is_terminal(self, status: str) -> bool:
        return self._terminal(self.store, status)


class Tasks:
    """The whole component (`mcp-tasks component`), with its store and server imports in Python."""

    def __init__(self, path: str, store: Any, settings: Settings, tools: list[Tool]):
        wit_settings = record(**dataclasses.asdict(settings))
        wit_tools = {t.name: record(**dataclasses.asdict(t)) for t in tools}
        self.router = Router(
            store,
            lambda: wit_settings,
            lambda: list(wit_tools.values()),
            wit_tools.get,
            wasm=Path(path).read_bytes(),
        )

    def handle(self, message: str, ctx: Context) -> list[Action]:
        return self.router.handle(message, record(**dataclasses.asdict(ctx)))

    def tool_finished(self, token: str, result_json: str, ctx: Context) -> list[Action]:
        """Report a tool's `CallToolResult` (JSON text)."""
        return self.router.tool_finished(token, result_json, None, record(**dataclasses.asdict(ctx)))
