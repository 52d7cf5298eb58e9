//! Tasks as an operator reads them: JSON for `--json` and the dashboard, text for a terminal.

use serde_json::{Map, Value, json};

use super::{format_time, tool_of};
use crate::store;
use crate::types::{Era, InputState, Outcome, Status, Task};

/// The status as the protocol spells it (`input_required`).
pub fn status_name(status: Status) -> &'static str {
    store::status_name(status)
}

fn era_name(era: Era) -> &'static str {
    match era {
        Era::Legacy => "2025-11-25",
        Era::Modern => "2026-07-28",
    }
}

/// A task in one line of a listing.
pub fn summary(task: &Task) -> Value {
    json!({
        "id": task.id,
        "owner": task.owner,
        "tool": tool_of(task),
        "status": status_name(task.status),
        "statusMessage": task.status_message,
        "createdAt": format_time(task.created_at),
        "lastUpdatedAt": format_time(task.last_updated_at),
        "attempt": task.attempt,
        "executor": task.executor,
        "era": era_name(task.era),
    })
}

/// A task whole: its request, outcome, questions, history, workflow and links.
pub fn detail(task: &Task) -> Value {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(json!(text));
    let mut view = summary(task);
    let variables: Map<String, Value> = task
        .variables
        .as_deref()
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    let more = json!({
        "version": task.version,
        "ttl": task.ttl,
        "pollInterval": task.poll_interval,
        "leaseUntil": task.lease_until.map(format_time),
        "request": parse(&task.request),
        "result": match &task.outcome {
            Some(Outcome::Success(result)) => parse(result),
            _ => Value::Null,
        },
        "error": match &task.outcome {
            Some(Outcome::Error(e)) => json!({
                "code": e.code,
                "message": e.message,
                "data": e.data.as_deref().map(parse),
            }),
            _ => Value::Null,
        },
        "questions": task.input_requests.iter().map(|q| json!({
            "key": q.key,
            "method": q.method,
            "state": match q.state {
                InputState::Open => "open",
                InputState::Sent => "sent",
                InputState::Answered => "answered",
                InputState::Done => "done",
            },
            "params": (!q.params.is_empty()).then(|| parse(&q.params)),
        })).collect::<Vec<_>>(),
        "history": task.history.iter().map(|e| json!({
            "at": format_time(e.at),
            "atMs": e.at,
            "event": store::history_event_name(e.event),
            "status": status_name(e.status),
            "attempt": e.attempt,
            "host": e.host,
            "by": e.by,
            "detail": e.detail,
        })).collect::<Vec<_>>(),
        "workflow": variables.get("workflow"),
        "retryOf": variables.get("retryOf"),
        "retriedAs": variables.get("retriedAs"),
    });
    if let (Value::Object(view), Value::Object(more)) = (&mut view, more) {
        view.extend(more);
    }
    view
}

/// A listing as a table: one task per line.
pub fn table(tasks: &[Task]) -> String {
    let mut out = format!(
        "{:<36}  {:<14}  {:<16}  {:<16}  {:<20}  {}\n",
        "ID", "STATUS", "OWNER", "TOOL", "CREATED", "MESSAGE"
    );
    for t in tasks {
        out += &format!(
            "{:<36}  {:<14}  {:<16}  {:<16}  {:<20}  {}\n",
            t.id,
            status_name(t.status),
            t.owner,
            tool_of(t).unwrap_or_default(),
            format_time(t.created_at),
            t.status_message.as_deref().unwrap_or("").replace('\n', " ")
        );
    }
    out
}

/// A task whole, as text.
pub fn text(task: &Task) -> String {
    let d = detail(task);
    let field = |name: &str| match &d[name] {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    for (label, name) in [
        ("ID", "id"),
        ("Status", "status"),
        ("Message", "statusMessage"),
        ("Owner", "owner"),
        ("Tool", "tool"),
        ("Era", "era"),
        ("Created", "createdAt"),
        ("Updated", "lastUpdatedAt"),
        ("Attempt", "attempt"),
        ("Executor", "executor"),
        ("Retry of", "retryOf"),
        ("Retried as", "retriedAs"),
        ("Request", "request"),
        ("Result", "result"),
        ("Error", "error"),
        ("Workflow", "workflow"),
    ] {
        if !d[name].is_null() {
            out += &format!("{label:<11} {}\n", field(name));
        }
    }
    for q in d["questions"].as_array().into_iter().flatten() {
        out += &format!(
            "Question    {} {} ({})\n",
            q["key"].as_str().unwrap_or(""),
            q["method"].as_str().unwrap_or(""),
            q["state"].as_str().unwrap_or("")
        );
    }
    out += "History\n";
    for e in &task.history {
        out += &format!(
            "  {}  {:<15} {:<14} attempt {}  on {}  by {}{}\n",
            format_time(e.at),
            store::history_event_name(e.event),
            status_name(e.status),
            e.attempt,
            e.host,
            e.by,
            e.detail
                .as_deref()
                .map(|d| format!("  {}", d.replace('\n', " ")))
                .unwrap_or_default()
        );
    }
    out
}
