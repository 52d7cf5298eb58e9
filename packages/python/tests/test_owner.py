"""Whose tasks a connection sees: `owner` as a function of the request context. Here the client's
name at initialize (a stand-in for an identity from auth); two servers share one SQLite file."""

import sys
import textwrap

from conftest import Lines

SERVER = textwrap.dedent(
    """
    import sys
    from mcp.server.mcpserver import MCPServer
    from mcp_tasks import Tasks

    tasks = Tasks(sys.argv[1], owner=lambda ctx: ctx.session.client_params.client_info.name)

    @tasks.tool()
    async def hello():
        return "hello"

    MCPServer("owners", middleware=[tasks.middleware]).run("stdio")
    """
)


def client(script, store, name):
    s = Lines(sys.executable, str(script), store)
    s.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": name, "version": "1"}})
    s.write({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return s


def test_each_owner_sees_only_its_own_tasks(tmp_path):
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    store = f"file:{tmp_path / 'tasks.db'}"
    ada, bob, ada_again = (client(script, store, n) for n in ("ada", "bob", "ada"))
    try:
        created = ada.request("tools/call", {"name": "hello", "arguments": {}, "task": {}})
        assert "result" in created, (created, ada.stderr)
        task_id = created["result"]["task"]["taskId"]
        ada.until(task_id, "completed")
        assert bob.request("tasks/get", {"taskId": task_id})["error"]["code"] == -32602
        assert bob.request("tasks/list")["result"]["tasks"] == []
        assert [t["taskId"] for t in ada_again.request("tasks/list")["result"]["tasks"]] == [task_id]
    finally:
        for s in (ada, bob, ada_again):
            s.close()
