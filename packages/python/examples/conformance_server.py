"""The fixture tools of the official conformance suite's tasks-* and input-required-result-*
scenarios, on a Python SDK 2.x server with tasks from mcp-tasks, over Streamable HTTP (the Rust
host runs the same tools as commands: tests/conformance/tools.toml).

Usage: python examples/conformance_server.py PORT   (127.0.0.1:PORT/mcp)
"""

import asyncio
import json
import sys

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from mcp_tasks import Run, Tasks

tasks = Tasks(name="mcp-tasks-conformance", poll_interval_ms=100, progress_interval_ms=20)


def text(t):
    return {"content": [{"type": "text", "text": t}]}


def obj(properties, required=None):
    return {"type": "object", "properties": properties, **({"required": required} if required else {})}


def elicit(message, schema):
    return {"method": "elicitation/create", "params": {"mode": "form", "message": message, "requestedSchema": schema}}


def sample(prompt):
    return {
        "method": "sampling/createMessage",
        "params": {"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": 100},
    }


ROOTS = {"method": "roots/list", "params": {}}
j = json.dumps


def ask_name():
    return {"user_name": elicit("What is your name?", obj({"name": {"type": "string"}}, ["name"]))}


def capital():
    return {"capital_question": sample("What is the capital of France?")}


@tasks.tool("test_simple_text", description="Tests simple text content response", task_support="forbidden")
async def simple(run: Run):
    return text("This is a simple text response for testing.\n")


@tasks.tool("greet", description="Say hello (sync only)", task_support="forbidden", input_schema=obj({"name": {"type": "string"}}, ["name"]))
async def greet(args, run):
    return text(f"Hello, {args['name']}!")


@tasks.tool("slow_compute", description="Sleep `seconds` seconds, then answer", input_schema=obj({"seconds": {"type": "number"}}, ["seconds"]))
async def slow_compute(args, run):
    await asyncio.sleep(args["seconds"])
    return text(f"computed after {args['seconds']} seconds")


@tasks.tool("failing_job", description="Fail as a tool (isError) after a second", task_support="required")
async def failing_job(run: Run):
    await asyncio.sleep(1)
    raise RuntimeError("the job failed")


@tasks.tool("protocol_error_job", description="End with a JSON-RPC error")
async def protocol_error_job(run: Run):
    raise MCPError(-32603, "the job hit an internal error")


@tasks.tool(
    "confirm_delete",
    description="Ask whether to delete a file, then say what was decided",
    input_schema=obj({"filename": {"type": "string"}}, ["filename"]),
)
async def confirm_delete(args, run):
    answer = await run.elicit(f"Delete {args['filename']}?", obj({"confirm": {"type": "boolean"}}, ["confirm"]))
    return text(f"{j(answer)}\n")


@tasks.tool("multi_input", description="Ask two questions at once, then print both answers")
async def multi_input(run: Run):
    schema = obj({"name": {"type": "string"}, "confirm": {"type": "boolean"}})
    a = await run.ask({"first": elicit("First?", schema), "second": elicit("Second?", schema)})
    return text(f"{j(a['first'])} {j(a['second'])}\n")


def plain(name, description):
    return tasks.tool(name, description=description, task_support="forbidden")


@plain("test_input_required_result_elicitation", "Ask for the user's name, then greet them")
async def irr_elicitation(run: Run):
    return text(f"Hello: {j((await run.ask(ask_name()))['user_name'])}\n")


@plain("test_input_required_result_request_state", "Ask for the user's name, keeping the call's state in requestState")
async def irr_state(run: Run):
    return text(f"state checked: {j((await run.ask(ask_name()))['user_name'])}\n")


@plain("test_input_required_result_tampered_state", "Ask for the user's name; a tampered requestState is refused")
async def irr_tampered(run: Run):
    return text(f"{j((await run.ask(ask_name()))['user_name'])}\n")


@plain("test_input_required_result_sampling", "Ask the client's model a question")
async def irr_sampling(run: Run):
    return text(f"Model said: {j((await run.ask(capital()))['capital_question'])}\n")


@plain("test_input_required_result_list_roots", "Ask the client for its roots, then list them")
async def irr_roots(run: Run):
    return text(f"Roots: {j((await run.ask({'client_roots': ROOTS}))['client_roots'])}\n")


@plain("test_input_required_result_multiple_inputs", "Ask for a name, a model's answer and the roots at once")
async def irr_multiple(run: Run):
    a = await run.ask({**ask_name(), **capital(), "client_roots": ROOTS})
    return text(f"Answers: {j(a['user_name'])} {j(a['capital_question'])} {j(a['client_roots'])}\n")


@plain("test_input_required_result_multi_round", "Ask one question, then another, then answer")
async def irr_rounds(run: Run):
    first = (await run.ask(ask_name()))["user_name"]
    second = (await run.ask({"user_age": elicit("How old are you?", obj({"age": {"type": "number"}}, ["age"]))}))["user_age"]
    return text(f"Rounds: {j(first)} {j(second)}\n")


@plain("test_input_required_result_capabilities", "Ask the client's model, which it must have declared")
async def irr_capabilities(run: Run):
    return text(f"{j((await run.ask(capital()))['capital_question'])}\n")


@tasks.tool(
    "test_tool_with_task",
    description="Ask for the user's name, then go on as a task that greets them",
    task_support="required",
    defer_task=True,
)
async def with_task(run: Run):
    name = (await run.ask(ask_name()))["user_name"]
    await run.detach()
    await asyncio.sleep(0.3)
    return text(f"Hello: {j(name)}\n")


server = MCPServer("mcp-tasks-conformance", middleware=[tasks.middleware])
if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
