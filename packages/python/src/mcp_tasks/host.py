"""The host around the component: it hands the router each message, carries out the actions the
router returns (send, run a tool, wait, ...), runs the tools and sweeps. It decides nothing about
tasks: that is the router's, as in the Rust host (host/src/hub/)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .component import Router, RpcError, record
from .run import Run

log = logging.getLogger("mcp_tasks")

# How often the host sweeps (expiry, leases, claims), as the Rust host does.
SWEEP_EVERY_S = 0.5


@dataclass
class Peer:
    """One client connection: who it is, its session state, and where its messages go."""

    owner: str
    # Names the client where request IDs of several clients may be equal.
    client: str
    # Writes one JSON-RPC message (a dict) to the client; `kind` is response, notification or
    # request.
    write: Callable[[dict[str, Any], str], None]
    push: bool = True
    session: str = ""
    # How its messages come, for a task's history.
    transport: str = "python"


@dataclass
class _Entry:
    run: dict[str, Any]
    peer: Peer
    context: Run
    task: Optional[asyncio.Task[Any]] = None
    stopped: bool = False


class Host:
    def __init__(self, new_router: Callable[[], Router], tools: dict[str, Any]):
        self._new_router = new_router
        self._router = new_router()
        self._tools = tools
        self._executor = str(uuid.uuid4())
        self._runs: dict[str, _Entry] = {}
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._sweeper: Optional[asyncio.Task[None]] = None
        self._closed = False
        self._sweep_peer = Peer(owner="", client="mcp-tasks-sweep", write=lambda m, k: None, push=False, transport="host")

    def start(self) -> None:
        """Start sweeping (once a loop runs)."""
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    def close(self) -> None:
        self._closed = True
        if self._sweeper:
            self._sweeper.cancel()
        for entry in self._runs.values():
            entry.stopped = True
            if entry.task:
                entry.task.cancel()
        self._runs.clear()

    def context(self, peer: Peer) -> Any:
        return record(
            owner=peer.owner,
            now=int(time.time() * 1000),
            session=peer.session,
            executor=self._executor,
            push=peer.push,
            client=peer.client,
            transport=peer.transport,
        )

    def _call(self, f: Callable[[Router], Any]) -> Any:
        """Call into the router. A trap costs the call (raised) and the instance, which is
        replaced: the store holds all state, so nothing else is lost."""
        try:
            return f(self._router)
        except Exception as e:
            log.warning("the component failed (%s); starting a new instance", e)
            self._router = self._new_router()
            raise

    async def handle(self, peer: Peer, message: str) -> None:
        """Handle one incoming JSON-RPC message from `peer`, re-delivered while the router says to
        wait."""
        while True:
            try:
                actions = self._call(lambda r: r.handle(message, self.context(peer)))
            except Exception as e:
                return _answer_error(peer, message, -32603, f"Internal error: {e}")
            wait = self._execute(actions, peer)
            if wait is None or self._closed:
                return
            await self._changed_or_after(wait["task_id"], wait["recheck_after"] / 1000)
            if self._closed:
                return

    async def _changed_or_after(self, task_id: str, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(task_id, set()).add(future)
        try:
            await asyncio.wait_for(future, seconds)
        except asyncio.TimeoutError:
            pass
        finally:
            self._waiters.get(task_id, set()).discard(future)

    def _execute(self, actions: list[Any], peer: Peer) -> Optional[dict[str, Any]]:
        """Carry out the router's actions in order; the wait it asked for, if any."""
        wait = None
        for action in actions:
            tag, v = action.tag, action.value
            if tag == "send":
                peer.write(json.loads(v["message"]), v["kind"])
            elif tag == "set-session":
                peer.session = v
            elif tag == "run-tool":
                self._start(v, peer)
            elif tag == "stop-tool":
                entry = self._runs.pop(v, None)
                if entry:
                    entry.stopped = True
                    entry.context._end("the task was cancelled")
                    if entry.task:
                        entry.task.cancel()
            elif tag == "update-run":
                entry = self._runs.get(v["token"])
                if entry:
                    entry.run["state"] = v["state"]
            elif tag == "rename-run":
                entry = self._runs.pop(v["from"], None)
                if entry is None:
                    outcome = RpcError(-32603, "the run ended before it became a task")
                    self._finish(v["to"], peer, outcome, None)
                    continue
                entry.run["token"], entry.run["state"] = v["to"], v["state"]
                # The request it answers now came from this peer.
                if peer is not self._sweep_peer:
                    entry.peer = peer
                self._runs[v["to"]] = entry
            elif tag == "reply-tool":
                entry = self._runs.get(v["token"])
                try:
                    answer = json.loads(v["response"])
                except ValueError:
                    answer = {"error": {"code": -32700, "message": "the answer is not JSON"}}
                if entry is None or not entry.context._answer(v["key"], answer):
                    log.warning("an answer arrived for %s, but no tool here waits for it", v["token"])
            elif tag == "wait":
                wait = v
            elif tag == "changed":
                for future in list(self._waiters.get(v, ())):
                    if not future.done():
                        future.set_result(None)
            elif tag in ("listen", "unlisten"):
                pass  # subscriptions/listen is the SDK's
            elif tag == "log":
                log.info("%s", v)
        return wait

    def _start(self, run: dict[str, Any], peer: Peer) -> None:
        """Start the tool of `run` for `peer`: its handler, with a context to report through."""
        entry: _Entry
        async def progress(p: Optional[float], total: Optional[float], message: Optional[str]) -> None:
            if self._live(entry):
                # f64 fields: wasmtime-py takes no int for them.
                report = record(progress=_float(p), total=_float(total), message=message)
                self._execute(self._call(lambda r: r.tool_progress(run["token"], run["state"], report, self.context(entry.peer))), entry.peer)

        async def ask(questions: dict[str, dict[str, Any]]) -> None:
            if not self._live(entry):
                raise RuntimeError("the run has ended")
            wit = [record(key=k, method=q["method"], params=json.dumps(q.get("params", {}))) for k, q in questions.items()]
            self._execute(self._call(lambda r: r.tool_input(run["token"], run["state"], wit, self.context(entry.peer))), entry.peer)

        async def detach() -> None:
            if self._live(entry):
                self._execute(self._call(lambda r: r.tool_detached(run["token"], run["state"], self.context(entry.peer))), entry.peer)

        entry = _Entry(run=run, peer=peer, context=Run(run.get("task_id"), {"progress": progress, "ask": ask, "detach": detach}))
        self._runs[run["token"]] = entry
        entry.task = asyncio.get_running_loop().create_task(self._run(entry))

    def _live(self, entry: _Entry) -> bool:
        return self._runs.get(entry.run["token"]) is entry

    async def _run(self, entry: _Entry) -> None:
        tool = self._tools.get(entry.run["tool"])
        message = None
        if tool is None:
            outcome: str | RpcError = RpcError(-32602, f"Unknown tool: {entry.run['tool']}")
        else:
            try:
                result = await tool.handler(json.loads(entry.run["arguments"]), entry.context)
                outcome = json.dumps(_plain(result) if result is not None else {"content": []})
            except asyncio.CancelledError:
                if entry.stopped or self._closed:
                    return  # stopped: its outcome changes nothing
                raise
            except Exception as e:
                outcome, message = _outcome_of_error(e)
        if not self._live(entry) or self._closed:
            return
        del self._runs[entry.run["token"]]
        entry.context._end("the run has ended")
        if isinstance(outcome, RpcError):
            message = outcome.message
        self._finish(entry.run["token"], entry.peer, outcome, message)

    def _finish(self, token: str, peer: Peer, outcome: str | RpcError, message: Optional[str]) -> None:
        try:
            self._execute(self._call(lambda r: r.tool_finished(token, outcome, message, self.context(peer))), peer)
        except Exception as e:
            log.warning("a tool's end could not be recorded: %s", e)

    async def _sweep_forever(self) -> None:
        while not self._closed:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                peer = self._sweep_peer
                self._execute(self._call(lambda r: r.sweep(list(self._runs), True, self.context(peer))), peer)
            except Exception as e:
                log.warning("sweep failed: %s", e)


def _float(value: Optional[float]) -> Optional[float]:
    return None if value is None else float(value)


def _plain(result: Any) -> Any:
    """A handler's result as JSON-ready data: a pydantic model (the SDK's `CallToolResult`) or a dict."""
    dump = getattr(result, "model_dump", None)
    return dump(by_alias=True, mode="json", exclude_none=True) if dump else result


def _outcome_of_error(e: Exception) -> tuple[str | RpcError, Optional[str]]:
    """A handler's exception as a run's outcome: a JSON-RPC error if it is the SDK's `MCPError`
    (it has an `error` with a numeric code), else a tool error result with its message."""
    error = getattr(e, "error", None)
    code = getattr(error, "code", None)
    if isinstance(code, int):
        data = getattr(error, "data", None)
        return RpcError(code, getattr(error, "message", str(e)), None if data is None else json.dumps(data)), None
    message = str(e) or type(e).__name__
    return json.dumps({"content": [{"type": "text", "text": message}], "isError": True}), message


def _answer_error(peer: Peer, message: str, code: int, text: str) -> None:
    try:
        parsed = json.loads(message)
    except ValueError:
        return
    if "method" in parsed and "id" in parsed:
        peer.write({"jsonrpc": "2.0", "id": parsed["id"], "error": {"code": code, "message": text}}, "response")
