// The mcp-tasks dashboard: counts, charts, queues and a task table, refreshed whenever the
// server's event stream says a task changed; a task's detail with its history, and the
// operator's cancel, retry and purge, each confirmed first. Everything comes from this server.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c ?? "");
  return e;
};
const svg = (tag, attrs = {}) => {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};
const STATUSES = ["working", "input_required", "completed", "failed", "cancelled"];
let openTask = null;

// Beside an MCP endpoint that authenticates callers, an operator's bearer token (asked once,
// kept for this tab).
let token = sessionStorage.getItem("mcp-tasks-token");
const headers = () => (token ? { authorization: `Bearer ${token}` } : {});

async function authorized(path, options = {}) {
  let response = await fetch(path, { ...options, headers: headers() });
  if (response.status === 401) {
    token = prompt("The bearer token of an operator:");
    if (token) sessionStorage.setItem("mcp-tasks-token", token);
    response = await fetch(path, { ...options, headers: headers() });
  }
  return response;
}

async function api(path, options) {
  const response = await authorized(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? response.statusText);
  return body;
}

function renderSummary(s) {
  const cards = $("counts");
  cards.replaceChildren(
    ...STATUSES.map((status) =>
      el("div", { class: "card", id: `count-${status}` }, el("b", {}, String(s.byStatus[status] ?? 0)), status),
    ),
  );
  bars($("throughput"), s.hour.map((b) => [b.finished, b.failed]), s.hour);
  bars($("latency"), s.hour.map((b) => [b.medianMs == null ? 0 : b.medianMs / 1000, 0]), s.hour);
  $("queues").tBodies[0].replaceChildren(
    ...s.queues.map((q) =>
      el("tr", {}, el("td", {}, q.tool), el("td", {}, String(q.waiting)), el("td", {}, String(q.running)),
        el("td", {}, q.oldestWaitingMs == null ? "–" : `${Math.round(q.oldestWaitingMs / 1000)} s`)),
    ),
  );
}

function bars(target, values, hour) {
  const max = Math.max(1, ...values.map(([v]) => v));
  const w = 360 / values.length;
  const parts = [];
  values.forEach(([v, failed], i) => {
    const h = (v / max) * 100;
    parts.push(svg("rect", { x: i * w + 2, y: 105 - h, width: w - 4, height: h }));
    if (failed) {
      const fh = (failed / max) * 100;
      parts.push(svg("rect", { class: "failed", x: i * w + 2, y: 105 - fh, width: w - 4, height: fh }));
    }
    if (i % 3 === 0) {
      const t = svg("text", { x: i * w + 2, y: 118 });
      t.textContent = new Date(hour[i].start).toTimeString().slice(0, 5);
      parts.push(t);
    }
  });
  const top = svg("text", { x: 2, y: 9 });
  top.textContent = String(Math.round(max * 100) / 100);
  parts.push(top);
  target.replaceChildren(...parts);
}

async function renderTasks() {
  const query = new URLSearchParams();
  for (const name of ["status", "owner", "tool", "text"]) {
    const value = $(name).value.trim();
    if (value) query.set(name, value);
  }
  const { tasks, total } = await api(`api/tasks?${query}`);
  $("total").textContent = `${total} task${total === 1 ? "" : "s"}`;
  $("tasks").tBodies[0].replaceChildren(
    ...tasks.map((t) => {
      const row = el("tr", { "data-id": t.id },
        el("td", {}, t.id), el("td", { class: `status s-${t.status}` }, t.status), el("td", {}, t.owner),
        el("td", {}, t.tool ?? ""), el("td", {}, t.createdAt), el("td", {}, t.statusMessage ?? ""));
      row.addEventListener("click", () => showTask(t.id));
      return row;
    }),
  );
}

async function showTask(id) {
  openTask = id;
  const t = await api(`api/tasks/${encodeURIComponent(id)}`);
  $("detail").hidden = false;
  $("detail-id").textContent = t.id;
  $("detail-status").textContent = t.status;
  $("detail-status").className = `status s-${t.status}`;
  $("detail-message").textContent = t.statusMessage ?? "";
  const fields = [["owner", t.owner], ["tool", t.tool], ["era", t.era], ["created", t.createdAt],
    ["updated", t.lastUpdatedAt], ["attempt", t.attempt], ["executor", t.executor],
    ["retry of", t.retryOf], ["retried as", t.retriedAs]];
  $("detail-fields").replaceChildren(
    ...fields.filter(([, v]) => v != null).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]),
  );
  $("timeline").replaceChildren(
    ...t.history.map((e) =>
      el("li", { class: `event-${e.event}` }, el("time", {}, e.at), el("b", {}, e.event), ` ${e.status}`,
        ` · attempt ${e.attempt} · on ${e.host} · by ${e.by}`, e.detail ? el("div", {}, e.detail) : ""),
    ),
  );
  $("detail-request").textContent = JSON.stringify(t.request, null, 2);
  $("detail-outcome").textContent = JSON.stringify(t.result ?? t.error, null, 2);
  const live = t.status === "working" || t.status === "input_required";
  $("cancel").disabled = !live;
  $("retry").disabled = !(t.status === "failed" || t.status === "cancelled");
}

async function act(what, id) {
  if (!confirm(`${what === "cancel" ? "Cancel" : "Retry"} task ${id}?`)) return;
  try {
    const { task } = await api(`api/tasks/${encodeURIComponent(id)}/${what}`, { method: "POST" });
    await showTask(what === "retry" ? task.id : id);
  } catch (e) {
    alert(e.message);
  }
}

async function refresh(summary) {
  renderSummary(summary ?? (await api("api/summary")));
  await renderTasks();
  if (openTask) await showTask(openTask).catch(() => {});
}

$("filters").addEventListener("input", () => renderTasks());
$("filters").addEventListener("submit", (e) => e.preventDefault());
$("close").addEventListener("click", () => { openTask = null; $("detail").hidden = true; });
$("cancel").addEventListener("click", () => act("cancel", openTask));
$("retry").addEventListener("click", () => act("retry", openTask));
$("purge").addEventListener("submit", async (e) => {
  e.preventDefault();
  const status = $("purge-status").value;
  const age = $("purge-age").value.trim();
  if (!confirm(`Delete every ${status} task older than ${age}?`)) return;
  try {
    const { purged } = await api(`api/purge?status=${status}&olderThan=${encodeURIComponent(age)}`, { method: "POST" });
    alert(`Purged ${purged.length} task${purged.length === 1 ? "" : "s"}.`);
  } catch (err) {
    alert(err.message);
  }
});

// The server's event stream, read with fetch (which, unlike EventSource, can carry a token):
// a `summary` event at once and whenever a task changed. Followed again after a break.
function live(on) {
  $("live").textContent = on ? "live" : "reconnecting…";
  $("live").className = on ? "live on" : "live";
}

async function follow() {
  for (;;) {
    try {
      const response = await authorized("api/events");
      if (!response.ok) throw new Error(response.statusText);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const lines = buffer.slice(0, end).split("\n");
          buffer = buffer.slice(end + 2);
          const event = lines.find((l) => l.startsWith("event:"))?.slice(6).trim();
          const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
          if (event === "summary" && data) {
            live(true);
            await refresh(JSON.parse(data)).catch((err) => console.error(err));
          }
        }
      }
    } catch (err) {
      console.error(err);
    }
    live(false);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

follow();
