"""The benchmark's server: one MCPServer over stdio with a plain SDK tool (`plain`, answered by the
SDK alone) and the same tool as a task tool of this package (`tasked`), so both are measured
through the same server, process and transport."""

from mcp.server.mcpserver import MCPServer

from mcp_tasks import Tasks

tasks = Tasks(default_ttl_ms=600_000)
schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


@tasks.tool("tasked", description="Echo the text, as a task", input_schema=schema)
async def tasked(arguments, run):
    return {"content": [{"type": "text", "text": arguments["text"]}]}


server = MCPServer("bench", middleware=[tasks.middleware])


@server.tool(description="Echo the text")
async def plain(text: str) -> str:
    return text


if __name__ == "__main__":
    server.run("stdio")
