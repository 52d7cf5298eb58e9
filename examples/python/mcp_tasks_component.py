"""Typed access to the mcp-tasks components from Python, on PyPI `wasmtime` 50 (wasmtime.component).

The raw API shows WIT records as `Record` objects with kebab-case attributes ("created-at"),
variants as `Variant(tag, payload)` or, where the cases can be told apart by Python type, as
the bare payload, and takes a `result<_, E>` from an import as the bare `E` value. This module
hides that: `Task` is a dataclass, a store raises `StoreError`, actions come back as `Action`.

    machine = Machine.load("machine.wasm")
    machine.can_transition("working", "completed")        # True

    tasks = Tasks.load("tasks.wasm", store=DictStore(), settings=Settings(), tools=[...])
    actions = tasks.handle('{"jsonrpc":"2.0","id":1,"method":"ping"}', Context(owner="me"))
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker, Record, Variant

PACKAGE = "mcp:tasks/{}@0.6.0"
TERMINAL = {"completed", "failed", "cancelled"}


def _record(**fields: Any) -> Record:
    """A WIT record value: snake_case keyword arguments become kebab-case fields."""
    r = Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


def _fields(r: Record) -> dict[str, Any]:
    return {name.replace("-", "_"): value for name, value in r.__dict__.items()}


@dataclass
class InputRequest:
    """One question of a task; see the `input-request` record in wit/tasks.wit."""

    key: str
    method: str
    params: str
    state: str  # open | sent | answered | done
    response: Optional[str]


@dataclass
class Task:
    """One task as the store keeps it; see the `task` record in wit/tasks.wit."""

    era: str  # legacy | modern
    id: str
    owner: str
    status: str  # working | input-required | completed | failed | cancelled
    status_message: Optional[str]
    created_at: int
    last_updated_at: int
    ttl: Optional[int]
    poll_interval: Optional[int]
    version: int
    request: str
    # The `outcome` variant, untagged as wasmtime-py gives it: the success result's JSON text
    # (a str), or the error's rpc-error Record. Kept as it came; the store only stores it.
    outcome: Optional[Any]
    input_requests: list[InputRequest]
    executor: Optional[str]
    lease_until: Optional[int]
    # Which run of its tool (a workflow's: of its step) this is, from 1 (retries count up).
    attempt: int
    # What the component keeps with the task between runs (a workflow's steps), JSON text.
    variables: Optional[str]

    @staticmethod
    def from_wit(r: Record) -> "Task":
        f = _fields(r)
        f["input_requests"] = [InputRequest(**_fields(q)) for q in f["input_requests"]]
        return Task(**f)

    def to_wit(self) -> Record:
        f = dataclasses.asdict(self)
        f["outcome"] = self.outcome  # asdict would copy a Record into a dict
        f["input_requests"] = [_record(**dataclasses.asdict(q)) for q in self.input_requests]
        return _record(**f)


class StoreError(Exception):
    """A `store-error`: raise one of these from a store written in Python."""

    tag = "unavailable"

    def __init__(self, payload: Any = None):
        super().__init__(self.tag, payload)
        self.payload = payload

    def to_wit(self) -> Variant:
        return Variant(self.tag, self.payload)


class NotFound(StoreError):
    tag = "not-found"


class AlreadyExists(StoreError):
    tag = "already-exists"


class Conflict(StoreError):
    """The stored version differs; the payload is that version."""

    tag = "conflict"


class InvalidCursor(StoreError):
    tag = "invalid-cursor"


class DictStore:
    """The store contract of wit/tasks.wit, kept in a Python dict."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}

    def get(self, id: str) -> Optional[Task]:
        return self.tasks.get(id)

    def create(self, task: Task) -> None:
        if task.id in self.tasks:
            raise AlreadyExists()
        self.tasks[task.id] = task

    def update(self, task: Task, expected_version: int) -> None:
        stored = self.tasks.get(task.id)
        if stored is None:
            raise NotFound()
        if stored.version != expected_version:
            raise Conflict(stored.version)
        self.tasks[task.id] = task

    def list(self, owner: str, status: Optional[str], cursor: Optional[str], limit: int):
        after = None
        if cursor is not None:
            at, sep, id = cursor.partition(":")
            if not sep or not at.isdigit():
                raise InvalidCursor()
            after = (int(at), id)
        mine = sorted(
            (t for t in self.tasks.values() if t.owner == owner and status in (None, t.status)),
            key=lambda t: (t.created_at, t.id),
        )
        mine = [t for t in mine if after is None or (t.created_at, t.id) > after]
        page = mine[:limit]
        more = len(mine) > len(page)
        return page, (f"{page[-1].created_at}:{page[-1].id}" if more else None)

    def delete(self, id: str) -> None:
        if self.tasks.pop(id, None) is None:
            raise NotFound()

    def expire(self, now: int) -> list[str]:
        gone = [t.id for t in self.tasks.values() if t.ttl is not None and t.created_at + t.ttl <= now]
        for id in gone:
            del self.tasks[id]
        return gone

    def abandoned(self, now: int, limit: int) -> list[str]:
        lapsed = [
            t.id
            for t in self.tasks.values()
            if t.status not in TERMINAL and t.lease_until is not None and t.lease_until <= now
        ]
        return lapsed[:limit]


@dataclass
class Settings:
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
    owner: str
    now: int = field(default_factory=lambda: int(time.time() * 1000))
    session: str = ""
    executor: str = "python"
    # Whether this host can write requests to its client at any time (stdio).
    push: bool = False
    # Which client sent the message, where several clients' request IDs may be equal.
    client: str = ""


@dataclass
class Action:
    """One thing the host must do: `tag` as in the WIT's `action` variant, `value` its payload
    (a string, or a dict for send, run-tool, wait, reply-tool, update-run, rename-run and listen)."""

    tag: str
    value: Any


def _action(v: Variant) -> Action:
    payload = v.payload
    if isinstance(payload, Record):
        payload = _fields(payload)
    return Action(v.tag, payload)


def _returning(f):
    """Wrap a store method as an import: a `StoreError` becomes the `err` of the result."""

    def call(_store, *args):
        try:
            return f(*args)
        except StoreError as e:
            return e.to_wit()

    return call


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

    def __init__(self, path: str, store: DictStore, settings: Settings, tools: list[Tool]):
        self.engine = Engine()
        self.wasm_store = Store(self.engine)
        self.wasm_store.set_wasi(WasiConfig())
        linker = Linker(self.engine)
        linker.add_wasip2()
        with linker.root() as root:
            with root.add_instance(PACKAGE.format("store")) as s:
                s.add_func("get", _returning(lambda id: (lambda t: None if t is None else t.to_wit())(store.get(id))))
                s.add_func("create", _returning(lambda task: store.create(Task.from_wit(task))))
                s.add_func("update", _returning(lambda task, v: store.update(Task.from_wit(task), v)))
                s.add_func("list", _returning(lambda owner, status, cursor, limit: (
                    lambda page: _record(tasks=[t.to_wit() for t in page[0]], next_cursor=page[1])
                )(store.list(owner, status, cursor, limit))))
                s.add_func("delete", _returning(store.delete))
                s.add_func("expire", _returning(store.expire))
                s.add_func("abandoned", _returning(store.abandoned))
            with root.add_instance(PACKAGE.format("server")) as srv:
                wit_tools = {t.name: _record(**dataclasses.asdict(t)) for t in tools}
                srv.add_func("get-settings", lambda _s: _record(**dataclasses.asdict(settings)))
                srv.add_func("tools", lambda _s: list(wit_tools.values()))
                srv.add_func("find-tool", lambda _s, name: wit_tools.get(name))
        instance = linker.instantiate(self.wasm_store, Component.from_file(self.engine, path))
        router = instance.get_export_index(self.wasm_store, PACKAGE.format("router"))
        func = lambda name: instance.get_func(self.wasm_store, instance.get_export_index(self.wasm_store, name, router))
        self._handle = func("handle")
        self._finished = func("tool-finished")

    @staticmethod
    def _ctx(ctx: Context) -> Record:
        return _record(**dataclasses.asdict(ctx))

    def handle(self, message: str, ctx: Context) -> list[Action]:
        return [_action(a) for a in self._handle(self.wasm_store, message, self._ctx(ctx))]

    def tool_finished(self, token: str, result_json: str, ctx: Context) -> list[Action]:
        """Report a tool's `CallToolResult` (JSON text)."""
        # `outcome` is untagged here: a str is its `success` case.
        actions = self._finished(self.wasm_store, token, result_json, None, self._ctx(ctx))
        return [_action(a) for a in actions]
