// The package's types (src/index.d.ts, over the jco-generated gen/interfaces) compile against the
// SDK's in a TypeScript server written with them: tsc --strict over test/types.ts. With
// --skipLibCheck: the .d.ts that jco 1.35 writes for the store interface does not pass tsc itself.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

test("the package's types compile with tsc --strict", async () => {
  const tsc = new URL("../node_modules/typescript/bin/tsc", import.meta.url).pathname;
  const args = ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--skipLibCheck"];
  const result = await promisify(execFile)(process.execPath, [tsc, ...args, new URL("./types.ts", import.meta.url).pathname]).catch((e) => e);
  assert.equal(result.code ?? 0, 0, `${result.stdout}\n${result.stderr}`);
});
