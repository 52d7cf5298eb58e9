"""The mcp-tasks component on wasmtime-py: its store and server imports written in Python, its
router export called from Python. Every task rule runs in the component.

wasmtime-py shows WIT records as `Record` objects with kebab-case attributes, variants as
`Variant(tag, payload)` or, where the cases differ in Python type, as the bare payload (an
`outcome` is a `str` for `success` and a `Record` for `error`), and takes a `result<_, E>` from
an import as the bare `E`. This module hides that: a task is a `Task`, a store raises
`StoreError`, the router's actions are `Action`s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Optional

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component as WasmComponent
from wasmtime.component import Linker, Record, Variant

PACKAGE = "mcp:tasks/{}@0.9.0"


def record(**fields: Any) -> Record:
    """A WIT record value: snake_case keyword arguments become kebab-case fields."""
    r = Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


def fields(r: Record) -> dict[str, Any]:
    return {name.replace("-", "_"): value for name, value in r.__dict__.items()}


@dataclass
class InputRequest:
    """One question of a task; the `input-request` record of wit/tasks.wit."""

    key: str
    method: str
    params: str
    state: str  # open | sent | answered | done
    response: Optional[str]


@dataclass
class HistoryEntry:
    """One change in a task's life; the `history-entry` record of wit/tasks.wit."""

    at: int
    event: str  # created | status | attempt-started | attempt-ended | step | asked | answered | retried
    status: str
    attempt: int
    host: str
    by: str
    detail: Optional[str]


@dataclass
class RpcError:
    code: int
    message: str
    data: Optional[str] = None


@dataclass
class Task:
    """One task as the store keeps it; the `task` record of wit/tasks.wit."""

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
    # The outcome: a `str` (the success result's JSON text) or an `RpcError`; None while it runs.
    outcome: Optional[str | RpcError]
    input_requests: list[InputRequest]
    executor: Optional[str]
    lease_until: Optional[int]
    attempt: int
    variables: Optional[str]
    history: list[HistoryEntry]

    @staticmethod
    def from_wit(r: Record) -> "Task":
        f = fields(r)
        f["input_requests"] = [InputRequest(**fields(q)) for q in f["input_requests"]]
        f["history"] = [HistoryEntry(**fields(e)) for e in f["history"]]
        if isinstance(f["outcome"], Record):
            f["outcome"] = RpcError(**fields(f["outcome"]))
        return Task(**f)

    def to_wit(self) -> Record:
        f = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        f["input_requests"] = [record(**dataclasses.asdict(q)) for q in self.input_requests]
        f["history"] = [record(**dataclasses.asdict(e)) for e in self.history]
        if isinstance(self.outcome, RpcError):
            f["outcome"] = record(**dataclasses.asdict(self.outcome))
        return record(**f)


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


class Unavailable(StoreError):
    """The store cannot answer now; the payload says why."""

    tag = "unavailable"


@dataclass
class Action:
    """One thing the host must do: `tag` as in the WIT's `action` variant, `value` its payload
    (a string, or a dict for send, run-tool, wait, reply-tool, update-run, rename-run, listen)."""

    tag: str
    value: Any


def _action(v: Variant) -> Action:
    payload = v.payload
    if isinstance(payload, Record):
        payload = fields(payload)
    return Action(v.tag, payload)


def _returning(f: Callable[..., Any]) -> Callable[..., Any]:
    """A store method as an import: a `StoreError` becomes the `err` of the result."""

    def call(_store: Any, *args: Any) -> Any:
        try:
            return f(*args)
        except StoreError as e:
            return e.to_wit()
        except Exception as e:  # a store's own failure must not trap the component
            return Unavailable(f"{type(e).__name__}: {e}").to_wit()

    return call


def component_bytes() -> bytes:
    """The component the wheel carries."""
    return resources.files(__package__).joinpath("tasks.wasm").read_bytes()


class Router:
    """One instance of the component, with `store` (the WIT's `mcp:tasks/store`) and a server
    description: `settings()` (a Record of `settings`), `tools()` and `find_tool(name)` (Records
    of `tool`)."""

    _engine: Optional[Engine] = None
    _component: Optional[WasmComponent] = None

    def __init__(
        self,
        store: Any,
        settings: Callable[[], Record],
        tools: Callable[[], list[Record]],
        find_tool: Callable[[str], Optional[Record]],
        wasm: Optional[bytes] = None,
    ):
        """`wasm`: another build of the component (as `mcp-tasks component` writes it); by
        default the one the wheel carries, compiled once per process."""
        cls = type(self)
        if cls._engine is None:
            cls._engine = Engine()
        if wasm is not None:
            component = WasmComponent(cls._engine, wasm)
        else:
            if cls._component is None:
                cls._component = WasmComponent(cls._engine, component_bytes())
            component = cls._component
        self.wasm_store = Store(cls._engine)
        self.wasm_store.set_wasi(WasiConfig())
        linker = Linker(cls._engine)
        linker.add_wasip2()
        with linker.root() as root:
            with root.add_instance(PACKAGE.format("store")) as s:
                s.add_func("get", _returning(lambda id: (lambda t: None if t is None else t.to_wit())(store.get(id))))
                s.add_func("create", _returning(lambda task: store.create(Task.from_wit(task))))
                s.add_func("update", _returning(lambda task, v: store.update(Task.from_wit(task), v)))
                s.add_func(
                    "list",
                    _returning(
                        lambda owner, status, cursor, limit: (
                            lambda page: record(tasks=[t.to_wit() for t in page[0]], next_cursor=page[1])
                        )(store.list(owner, status, cursor, limit))
                    ),
                )
                s.add_func("delete", _returning(store.delete))
                s.add_func("expire", _returning(store.expire))
                s.add_func("abandoned", _returning(store.abandoned))
            with root.add_instance(PACKAGE.format("server")) as srv:
                srv.add_func("get-settings", lambda _s: settings())
                srv.add_func("tools", lambda _s: tools())
                srv.add_func("find-tool", lambda _s, name: find_tool(name))
        instance = linker.instantiate(self.wasm_store, component)
        router = instance.get_export_index(self.wasm_store, PACKAGE.format("router"))

        def func(name: str) -> Any:
            return instance.get_func(self.wasm_store, instance.get_export_index(self.wasm_store, name, router))

        self._versions = func("versions")
        self._handle = func("handle")
        self._progress = func("tool-progress")
        self._finished = func("tool-finished")
        self._input = func("tool-input")
        self._detached = func("tool-detached")
        self._sweep = func("sweep")

    def _actions(self, raw: list[Variant]) -> list[Action]:
        return [_action(a) for a in raw]

    def versions(self) -> list[tuple[str, str]]:
        """The revisions the router speaks, newest first: (version, era)."""
        return [(v.version, v.era) for v in self._versions(self.wasm_store)]

    def handle(self, message: str, ctx: Record) -> list[Action]:
        return self._actions(self._handle(self.wasm_store, message, ctx))

    def tool_progress(self, token: str, state: str, report: Record, ctx: Record) -> list[Action]:
        return self._actions(self._progress(self.wasm_store, token, state, report, ctx))

    def tool_finished(self, token: str, outcome: str | RpcError, message: Optional[str], ctx: Record) -> list[Action]:
        wit = record(**dataclasses.asdict(outcome)) if isinstance(outcome, RpcError) else outcome
        return self._actions(self._finished(self.wasm_store, token, wit, message, ctx))

    def tool_input(self, token: str, state: str, questions: list[Record], ctx: Record) -> list[Action]:
        return self._actions(self._input(self.wasm_store, token, state, questions, ctx))

    def tool_detached(self, token: str, state: str, ctx: Record) -> list[Action]:
        return self._actions(self._detached(self.wasm_store, token, state, ctx))

    def sweep(self, running: list[str], claim: bool, ctx: Record) -> list[Action]:
        return self._actions(self._sweep(self.wasm_store, running, claim, ctx))
