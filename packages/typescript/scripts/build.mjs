// Builds the package's component: `mcp-tasks component` writes the component this checkout
// builds, and jco transpiles it into gen/ (JavaScript, core wasm and TypeScript types generated
// from the WIT). No rule is written by hand in JavaScript: gen/ is the component.
//
// The binary: $MCP_TASKS_BIN, else this checkout's target/release/mcp-tasks.
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const binary = process.env.MCP_TASKS_BIN ?? join(root, "../../target/release/mcp-tasks");
if (!existsSync(binary)) {
  console.error(`build: no mcp-tasks binary at ${binary}: build it (cargo build --release) or set MCP_TASKS_BIN`);
  process.exit(2);
}
const wasm = join(root, "build/tasks.wasm");
execFileSync(binary, ["component", "--out", wasm], { stdio: "inherit" });
rmSync(join(root, "gen"), { recursive: true, force: true });
// Async instantiation: each `Tasks` gets its own instance, with its own store and tools.
execFileSync(
  process.execPath,
  [join(root, "node_modules/@bytecodealliance/jco/dist/jco.js"), "transpile", wasm, "-o", join(root, "gen"),
    "--name", "tasks", "--instantiation", "async", "--quiet"],
  { stdio: "inherit" },
);
console.log("build: gen/ holds the transpiled component");
