// A reverse proxy in front of several `mcp-tasks serve --http` replicas, for the replicas test:
// requests are spread over them as a load balancer without sticky sessions would. A GET (a
// session's stream) goes to the first replica, a `tools/call` (so the tool runs there) to the
// last, and every other request to the replicas in turn: the tool's status changes and questions
// must cross from one replica to the other through the store.
//
// Usage: node round-robin.mjs UPSTREAM_URL... ; prints "listening PORT", then logs each request
// to stderr as "METHOD JSONRPC_METHOD -> REPLICA".
import http from "node:http";

const upstreams = process.argv.slice(2).map((u) => new URL(u));
let next = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    let method = "";
    try {
      method = JSON.parse(body.toString()).method ?? "(response)";
    } catch {}
    let replica;
    if (req.method === "GET") replica = 0;
    else if (method === "tools/call") replica = upstreams.length - 1;
    else replica = next++ % upstreams.length;
    const up = upstreams[replica];
    process.stderr.write(`${req.method} ${method} -> ${replica}\n`);
    const forward = http.request(
      {
        host: up.hostname,
        port: up.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: up.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(e));
    });
    // A client that closes its stream closes the replica's.
    res.on("close", () => forward.destroy());
    forward.end(body);
  });
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
