"""MCP Tasks for a Python SDK 2.x server (`MCPServer` or the low-level `Server`). The SDK answers
what it always does (initialize, server/discover, its own tools, prompts, resources); the
messages of tasks (a call of a task tool, tasks/*) are taken by a middleware before the SDK's
own handling and handed to the mcp-tasks component, whose router decides everything, as in the
Rust host."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional

from mcp.shared.exceptions import MCPError

from .component import Router, record
from .host import Host, Peer
from .run import Run
from .stores import open_store

EXTENSION = "io.modelcontextprotocol/tasks"
METHOD_NOT_FOUND = -32601
TASK_METHODS = {"tasks/get", "tasks/result", "tasks/list", "tasks/cancel", "tasks/update"}
SUPPORT = {"forbidden", "optional", "required"}
LEGACY_CAPABILITY = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
_PEER = "mcp_tasks.peer"

Handler = Callable[[dict[str, Any], Run], Awaitable[Any]]


@dataclass
class _Tool:
    name: str
    handler: Optional[Handler]
    listed: dict[str, Any]
    wit: Any


@dataclass
class _Pending:
    """Requests of one connection the component is answering, by JSON id text."""

    answers: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


class Tasks:
    """The tasks of a server: its store, settings and task tools.

    `store`: `memory:` (the default), `file:PATH` (SQLite) or `postgres://...` (psycopg 3), or a
    store object; a store it cannot open raises `ValueError` here, at start. `owner`: whose tasks
    a connection sees: a string, or a function of the request context.
    """

    def __init__(
        self,
        store: Any = "memory:",
        *,
        owner: str | Callable[[Any], str] = "default",
        name: str = "mcp-tasks",
        version: str = "0.9.0",
        instructions: Optional[str] = None,
        default_ttl_ms: Optional[int] = 3_600_000,
        max_ttl_ms: Optional[int] = 86_400_000,
        poll_interval_ms: int = 1_000,
        page_size: int = 50,
        lease_ms: int = 30_000,
        progress_interval_ms: int = 100,
        claim_limit: int = 16,
    ):
        self.store = open_store(store)
        self._owner = owner
        self._tools: dict[str, _Tool] = {}
        state_key = secrets.token_hex(32)
        settings = record(
            name=name,
            version=version,
            instructions=instructions,
            default_ttl=default_ttl_ms,
            max_ttl=max_ttl_ms,
            poll_interval=poll_interval_ms,
            page_size=page_size,
            lease=lease_ms,
            state_key=state_key,
            progress_interval=progress_interval_ms,
            queue=False,
            claim_limit=claim_limit,
        )
        self._host = Host(
            lambda: Router(
                self.store,
                lambda: settings,
                lambda: [t.wit for t in self._tools.values()],
                lambda n: self._tools[n].wit if n in self._tools else None,
            ),
            self._tools,
        )
        self._clients = itertools.count(1)

    def tool(
        self,
        name: Optional[str] = None,
        *,
        title: Optional[str] = None,
        description: Optional[str] = None,
        input_schema: Optional[dict[str, Any]] = None,
        output_schema: Optional[dict[str, Any]] = None,
        task_support: str = "optional",
        defer_task: bool = False,
        immediate_response: Optional[str] = None,
        max_attempts: int = 1,
        retry_backoff_ms: int = 1000,
        dedup_window_ms: Optional[int] = None,
        queue: bool = False,
        steps: Optional[list[str]] = None,
    ) -> Callable[[Handler], Handler]:
        """A tool whose calls the component handles, as a decorator of an async function.

        As the SDK's `@server.tool()`: the function's parameters are the tool's arguments (their
        JSON Schema and validation are the SDK's own), its docstring the description, and what it
        returns the result (a `str` is its text); one more parameter, annotated `Run` or named
        `run`, gets the run context. Or, with `input_schema` (a JSON Schema object, whose
        `required` list is checked before a call runs), the function is `(arguments, run)` and
        returns a `CallToolResult` or its dict.

        An exception the function raises ends the call with a tool error carrying its message,
        or with its JSON-RPC error if it is the SDK's `MCPError`; a cancel of the task cancels it
        (`asyncio.CancelledError`)."""

        def register(handler: Optional[Handler]) -> Optional[Handler]:
            tool_name = name or handler.__name__  # type: ignore[union-attr]
            if tool_name in self._tools:
                raise ValueError(f"mcp-tasks: the tool {tool_name} is already registered")
            if task_support not in SUPPORT:
                raise ValueError(f"mcp-tasks: task_support of {tool_name} must be forbidden, optional or required")
            call = handler
            schema = input_schema
            if schema is None and handler is not None:
                call, schema = _from_signature(tool_name, handler)
            schema = schema or {"type": "object"}
            description_ = description if description is not None or handler is None else inspect.getdoc(handler)
            listed = {"name": tool_name, "inputSchema": schema}
            for key, value in (("title", title), ("description", description_), ("outputSchema", output_schema)):
                if value is not None:
                    listed[key] = value
            wit = record(
                name=tool_name,
                title=title,
                description=description_,
                input_schema=json.dumps(schema),
                output_schema=None if output_schema is None else json.dumps(output_schema),
                task_support=task_support,
                defer_task=defer_task,
                immediate_response=immediate_response,
                max_attempts=max_attempts,
                retry_backoff=retry_backoff_ms,
                dedup_window=dedup_window_ms,
                queue=queue,
                steps=steps or [],
            )
            self._tools[tool_name] = _Tool(tool_name, call, listed, wit)
            return handler

        return register  # type: ignore[return-value]

    def workflow(self, name: str, steps: list[str], *, description: Optional[str] = None, input_schema: Optional[dict[str, Any]] = None, task_support: str = "required") -> None:
        """A workflow: these tools (by name) run one after the other as one task."""
        self.tool(name, description=description, input_schema=input_schema, task_support=task_support, steps=steps)(None)

    @property
    def middleware(self) -> Callable[[Any, Any], Awaitable[Any]]:
        """The server middleware that gives a server these tasks:
        `MCPServer(..., middleware=[tasks.middleware])`."""
        return self._middleware

    async def _middleware(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        self._host.start()
        method = ctx.method
        if method == "initialize":
            peer = self._peer(ctx, handshake=True)
            # The component keeps what it needs of the handshake (the client's capabilities, the
            # revision) as this connection's session; the SDK answers.
            handshake = Peer(owner=peer.owner, client=peer.client, write=lambda m, k: None, push=peer.push)
            await self._host.handle(handshake, self._message(ctx))
            peer.session = handshake.session
            result = _plain(await call_next(ctx))
            result.setdefault("capabilities", {})["tasks"] = LEGACY_CAPABILITY
            result["capabilities"].setdefault("tools", {})
            result["capabilities"].setdefault("extensions", {})[EXTENSION] = {}
            return result
        if method == "server/discover":
            result = _plain(await call_next(ctx))
            result.setdefault("capabilities", {}).setdefault("extensions", {})[EXTENSION] = {}
            result["capabilities"].setdefault("tools", {})
            return result
        if method == "tools/list":
            try:
                result = _plain(await call_next(ctx))
            except MCPError as e:
                # A low-level server without tools of its own lists only these.
                if e.code != METHOD_NOT_FOUND:
                    raise
                result = {"tools": []}
            legacy = "2026" not in str(ctx.protocol_version)
            for tool in self._tools.values():
                listed = dict(tool.listed)
                if legacy:
                    listed["execution"] = {"taskSupport": tool.wit.__dict__["task-support"]}
                result.setdefault("tools", []).append(listed)
            return result
        if ctx.request_id is not None and (
            method in TASK_METHODS or (method == "tools/call" and (ctx.params or {}).get("name") in self._tools)
        ):
            _check_name_header(ctx)
            return await self._through_component(ctx)
        if method == "notifications/cancelled":
            # A plain call the component runs may be the one cancelled; the SDK may have one too.
            await self._host.handle(self._peer(ctx), self._message(ctx))
        return await call_next(ctx)

    def _message(self, ctx: Any) -> str:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": ctx.method}
        if ctx.request_id is not None:
            message["id"] = ctx.request_id
        if ctx.params is not None:
            message["params"] = dict(ctx.params)
        return json.dumps(message)

    def _peer(self, ctx: Any, handshake: bool = False) -> Peer:
        # mcp 2.3.0 gives a request no public handle on its connection; its `state` is where a
        # server keeps what belongs to one client.
        connection = ctx.session._connection
        peer = connection.state.get(_PEER)
        if peer is None:
            pending = _Pending()
            outbound = connection.outbound
            peer = Peer(owner="", client=f"c{next(self._clients)}", write=lambda m, k: self._write(peer, pending, outbound, m, k))
            peer.pending = pending  # type: ignore[attr-defined]
            connection.state[_PEER] = peer
        # The owner of each request: a function of its context may read what the handshake
        # committed (the client's info) or what the request carries (its HTTP request).
        if not handshake:
            peer.owner = self._owner(ctx) if callable(self._owner) else self._owner
        return peer

    def _write(self, peer: Peer, pending: _Pending, outbound: Any, message: dict[str, Any], kind: str) -> None:
        if kind == "response":
            future = pending.answers.pop(json.dumps(message.get("id")), None)
            if future is not None and not future.done():
                future.set_result(message)
        elif kind == "notification":
            asyncio.get_running_loop().create_task(_quietly(outbound.notify(message["method"], message.get("params"))))
        else:  # a server-to-client request: a legacy task's question
            asyncio.get_running_loop().create_task(self._ask_client(peer, outbound, message))

    async def _ask_client(self, peer: Peer, outbound: Any, request: dict[str, Any]) -> None:
        try:
            result = await outbound.send_raw_request(request["method"], request.get("params"))
            answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"], "result": result}
        except Exception as e:
            error = getattr(e, "error", None)
            code = getattr(error, "code", -32603)
            answer = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": code, "message": str(getattr(error, "message", e))}}
        await self._host.handle(peer, json.dumps(answer))

    async def _through_component(self, ctx: Any) -> Any:
        peer = self._peer(ctx)
        key = json.dumps(ctx.request_id)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        peer.pending.answers[key] = future  # type: ignore[attr-defined]
        handling = asyncio.get_running_loop().create_task(self._host.handle(peer, self._message(ctx)))
        try:
            await asyncio.wait({future, handling}, return_when=asyncio.FIRST_COMPLETED)
            if not future.done():
                # The handling ended without an answer (it failed): the request is not left hanging.
                failure = handling.exception()
                raise MCPError(-32603, f"Internal error: {failure or 'the request got no answer'}")
            answer = future.result()
        finally:
            peer.pending.answers.pop(key, None)  # type: ignore[attr-defined]
            if not handling.done():
                handling.cancel()
        if "error" in answer:
            e = answer["error"]
            raise MCPError(e["code"], e["message"], e.get("data"))
        return answer["result"]

    def close(self) -> None:
        """Stop the tools this server runs, and close the store."""
        self._host.close()
        close = getattr(self.store, "close", None)
        if close:
            close()


# A mismatch between a routing header and the body (SEP-2243), as the Rust host answers it.
HEADER_MISMATCH = -32020


def _check_name_header(ctx: Any) -> None:
    """Over HTTP, the SDK checks `Mcp-Name` against the body for the methods it knows; for the
    extension's methods the body's `taskId` is the name, and a header that disagrees is refused."""
    headers = getattr(ctx.request, "headers", None)
    if headers is None or ctx.method not in ("tasks/get", "tasks/update", "tasks/cancel"):
        return
    name, task_id = headers.get("mcp-name"), (ctx.params or {}).get("taskId")
    if name is not None and name != task_id:
        raise MCPError(HEADER_MISMATCH, f"Mcp-Name header value '{name}' does not match body value '{task_id}'")


def _from_signature(name: str, fn: Callable[..., Awaitable[Any]]) -> tuple[Handler, dict[str, Any]]:
    """A tool's schema and handler from its function's signature, as the SDK's `@server.tool()`
    makes them: every parameter but the run context (the one annotated `Run`, or named `run`) is
    an argument, validated and parsed by the SDK's own `func_metadata`; the return value becomes
    a `CallToolResult` as the SDK converts it (a `str` is its text), unless it is one (a dict with
    `content`)."""
    from mcp.server.mcpserver.utilities.func_metadata import func_metadata
    from pydantic import ValidationError

    from .run import Run

    params = inspect.signature(fn).parameters.values()
    run_param = next((p.name for p in params if p.annotation in (Run, "Run") or p.name == "run"), None)
    meta = func_metadata(fn, skip_names=[run_param] if run_param else [])
    schema = meta.arg_model.model_json_schema(by_alias=True)

    async def call(arguments: dict[str, Any], run: Run) -> Any:
        try:
            validated = meta.validate_arguments(arguments)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'arguments'}: {err['msg']}" for err in e.errors())
            raise MCPError(-32602, f"Invalid arguments for tool {name}: {problems}") from e
        result = await meta.call_fn(fn, inspect.iscoroutinefunction(fn), validated, {run_param: run} if run_param else None)
        # A CallToolResult given as a dict is the result itself, not a value to convert.
        if isinstance(result, dict) and "content" in result:
            return result
        return meta.convert_result(result)

    return call, schema


async def _quietly(coroutine: Awaitable[Any]) -> None:
    try:
        await coroutine
    except Exception:
        pass  # a client that went away takes no notifications


def _plain(result: Any) -> dict[str, Any]:
    dump = getattr(result, "model_dump", None)
    if dump:
        return dump(by_alias=True, mode="json", exclude_none=True)
    return dict(result or {})
