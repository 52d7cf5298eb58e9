// Builds the package's component: `mcp-tasks component` writes the component this checkout
// builds, and jco transpiles it into gen/ (JavaScript, core wasm and TypeScript types generated
// from the WIT). No rule is written by hand in JavaScript: gen/ is the component.
//
// The binary: $MCP_TASKS_BIN, else this checkout's target/release/mcp-tasks.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

// jco 1.35's glue asks `process.env.JCO_DEBUG` on each of its debug calls (several per call into
// the component); a profile of task creations found 9% of the server's time there. Read it once.
const glue = join(root, "gen/tasks.js");
const slow = `const _debugLog = (...args) => {
    if (!globalThis?.process?.env?.JCO_DEBUG) { return; }
    console.debug(...args);
  };`;
const text = readFileSync(glue, "utf8");
if (text.includes(slow)) {
  const once = "const _debugLog = globalThis?.process?.env?.JCO_DEBUG ? (...args) => console.debug(...args) : () => {};";
  writeFileSync(glue, text.replace(slow, once));
} else {
  console.log("build: jco's debug logging looks different from 1.35's; left as jco wrote it");
}

// The SQL stores' schema: the Rust host's own files, so both keep one schema.
rmSync(join(root, "schema"), { recursive: true, force: true });
cpSync(join(root, "../../host/src/store/schema"), join(root, "schema"), { recursive: true });
console.log("build: gen/ holds the transpiled component, schema/ the stores' schema");
