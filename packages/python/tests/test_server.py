"""The example server (an MCPServer with tasks from this package) over stdio, driven by raw
JSON-RPC lines: what a client sees, errors included."""


def test_a_2025_11_25_client_gets_tasks_and_plain_calls(example):
    s = example()
    init = s.initialize()
    assert init["result"]["capabilities"]["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
    tools = {t["name"]: t for t in s.request("tools/list")["result"]["tools"]}
    assert tools["long"]["execution"] == {"taskSupport": "required"}
    # From greet's signature and docstring.
    assert tools["greet"]["inputSchema"]["required"] == ["name"], tools["greet"]
    assert tools["greet"]["description"] == "Greet someone after a short pause"
    created = s.request("tools/call", {"name": "greet", "arguments": {"name": "Ada"}, "task": {"ttl": 60000}})
    task_id = created["result"]["task"]["taskId"]
    s.until(task_id, "completed")
    assert s.request("tasks/result", {"taskId": task_id})["result"]["content"][0]["text"] == "hello, Ada\n"
    assert s.request("tools/call", {"name": "shout", "arguments": {"text": "hi"}})["result"]["content"][0]["text"] == "HI\n"


def test_bad_input_gets_a_json_rpc_error_as_from_the_rust_host(example):
    s = example()
    s.initialize()
    missing = s.request("tools/call", {"name": "greet", "arguments": {}, "task": {}})
    assert missing["error"]["code"] == -32602 and "name" in missing["error"]["message"]
    assert s.request("tasks/get", {"taskId": "no-such-task"})["error"]["code"] == -32602
    assert s.request("tools/call", {"name": "long", "arguments": {}})["error"]["code"] == -32601
    # greet's signature wants a str name: a list is refused, and the function never runs.
    wrong = s.request("tools/call", {"name": "greet", "arguments": {"name": [1]}, "task": {}})
    failed = s.until(wrong["result"]["task"]["taskId"], "failed")
    assert failed["statusMessage"].startswith("Invalid arguments for tool greet: name: "), failed
    plain = s.request("tools/call", {"name": "greet", "arguments": {"name": [1]}})
    assert plain["error"]["code"] == -32602 and "Invalid arguments for tool greet" in plain["error"]["message"]


def test_an_exception_fails_its_task_and_an_mcp_error_is_a_json_rpc_error(example):
    s = example()
    s.initialize()
    broken = s.request("tools/call", {"name": "broken", "arguments": {}, "task": {}})
    failed = s.until(broken["result"]["task"]["taskId"], "failed")
    assert failed["statusMessage"] == "the disk is full"
    result = s.request("tasks/result", {"taskId": failed["taskId"]})["result"]
    assert result["isError"] is True and result["content"] == [{"type": "text", "text": "the disk is full"}]
    limited = s.request("tools/call", {"name": "limited", "arguments": {}, "task": {}})
    s.until(limited["result"]["task"]["taskId"], "failed")
    error = s.request("tasks/result", {"taskId": limited["result"]["task"]["taskId"]})["error"]
    assert error == {"code": -32603, "message": "API rate limit exceeded"}
    plain = s.request("tools/call", {"name": "broken", "arguments": {}})["result"]
    assert plain["isError"] is True and plain["content"][0]["text"] == "the disk is full"


def test_a_cancel_reaches_the_handler_as_asyncio_cancellation(example):
    s = example()
    s.initialize()
    task_id = s.request("tools/call", {"name": "long", "arguments": {}, "task": {}})["result"]["task"]["taskId"]
    assert s.request("tasks/cancel", {"taskId": task_id})["result"]["status"] == "cancelled"
    assert s.wait_stderr(f"long: cancelled ({task_id})"), s.stderr


def test_a_low_level_server_gets_the_tasks_through_its_middleware_list():
    import sys

    from conftest import HERE, Lines

    s = Lines(sys.executable, str(HERE.parent / "examples/lowlevel_server.py"))
    try:
        init = s.initialize()
        assert init["result"]["capabilities"]["tasks"]["requests"] == {"tools": {"call": {}}}
        assert "tools" in init["result"]["capabilities"]
        assert [t["name"] for t in s.request("tools/list")["result"]["tools"]] == ["pause"]
        task_id = s.request("tools/call", {"name": "pause", "arguments": {}, "task": {}})["result"]["task"]["taskId"]
        s.until(task_id, "completed")
        assert s.request("tasks/result", {"taskId": task_id})["result"]["content"][0]["text"] == "paused"
    finally:
        s.close()
