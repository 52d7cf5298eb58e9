// mcp-tasks for TypeScript: MCP Tasks (2025-11-25, and the 2026-07-28 extension
// io.modelcontextprotocol/tasks) for servers built with the TypeScript SDK 2.x, every rule in the
// mcp-tasks WebAssembly component.
export { Tasks } from "./tasks.js";
export { QuestionError } from "./run.js";
export { MemoryStore } from "./stores/memory.js";
export { SqliteStore } from "./stores/sqlite.js";
export { PostgresStore } from "./stores/postgres.js";
export { openStore } from "./stores/index.js";
