// An example server over Streamable HTTP on a free port, for the tests.
import { spawn } from "node:child_process";

export async function startHttp(script, args = []) {
  const child = spawn(process.execPath, [new URL(`../examples/${script}`, import.meta.url).pathname, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${stderr}`)), 10_000);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const found = /listening on (http:\/\/\S+)/.exec(stderr);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`${script} exited (${code}): ${stderr}`)));
  });
  return {
    url,
    get stderr() {
      return stderr;
    },
    close: () => child.kill(),
  };
}
