// The mcp-tasks component, jco-transpiled into ../gen by the package's build, instantiated with
// a store and a server description written in JavaScript. Every task rule runs in it.
import { readFile } from "node:fs/promises";
import { cli, io, random } from "@bytecodealliance/preview2-shim";

const gen = new URL("../gen/", import.meta.url);
const modules = new Map();

/** Compile (once per process) the core modules jco split the component into. */
function coreModule(path) {
  let module = modules.get(path);
  if (module === undefined) {
    module = readFile(new URL(path, gen)).then((bytes) => WebAssembly.compile(bytes));
    modules.set(path, module);
  }
  return module;
}

/**
 * A new instance of the component with `store` (the WIT's `mcp:tasks/store`) and `server`
 * (`mcp:tasks/server`). Its `router` export is what hosts call.
 */
export async function instantiate(store, server) {
  let generated;
  try {
    generated = await import(new URL("tasks.js", gen).href);
  } catch (e) {
    throw new Error(`mcp-tasks: the transpiled component is missing (${e.message}); run \`npm run build\``);
  }
  const version = "0.9.0";
  const wasi = "0.2.6";
  const imports = {
    [`mcp:tasks/store@${version}`]: store,
    [`mcp:tasks/server@${version}`]: server,
    [`mcp:tasks/types@${version}`]: {},
    [`wasi:cli/environment@${wasi}`]: cli.environment,
    [`wasi:cli/exit@${wasi}`]: cli.exit,
    [`wasi:cli/stderr@${wasi}`]: cli.stderr,
    [`wasi:cli/stdin@${wasi}`]: cli.stdin,
    [`wasi:cli/stdout@${wasi}`]: cli.stdout,
    [`wasi:cli/terminal-input@${wasi}`]: cli.terminalInput,
    [`wasi:cli/terminal-output@${wasi}`]: cli.terminalOutput,
    [`wasi:cli/terminal-stderr@${wasi}`]: cli.terminalStderr,
    [`wasi:cli/terminal-stdin@${wasi}`]: cli.terminalStdin,
    [`wasi:cli/terminal-stdout@${wasi}`]: cli.terminalStdout,
    [`wasi:io/error@${wasi}`]: io.error,
    [`wasi:io/poll@${wasi}`]: io.poll,
    [`wasi:io/streams@${wasi}`]: io.streams,
    [`wasi:random/insecure-seed@${wasi}`]: random.insecureSeed,
    [`wasi:random/random@${wasi}`]: random.random,
  };
  // jco looks imports up by their unversioned names too.
  for (const [name, value] of Object.entries(imports)) imports[name.replace(/@[^@]*$/, "")] = value;
  return generated.instantiate(coreModule, imports);
}
