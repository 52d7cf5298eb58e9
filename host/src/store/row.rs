//! A task as one row of a database table: the columns the queries need, and the whole task as
//! JSON text, so that a new field of the WIT `task` record needs no schema change.

use serde_json::{Value, json};

use super::cursor;
use crate::types::{Era, InputRequest, InputState, Outcome, RpcError, Status, StoreError, Task};

/// The status as the columns keep it (the protocol's spelling).
pub(super) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Working => "working",
        Status::InputRequired => "input_required",
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
    }
}

fn input_state_name(state: InputState) -> &'static str {
    match state {
        InputState::Open => "open",
        InputState::Sent => "sent",
        InputState::Answered => "answered",
        InputState::Done => "done",
    }
}

fn input_state_from(name: &str) -> Option<InputState> {
    Some(match name {
        "open" => InputState::Open,
        "sent" => InputState::Sent,
        "answered" => InputState::Answered,
        "done" => InputState::Done,
        _ => return None,
    })
}

fn status_from(name: &str) -> Option<Status> {
    Some(match name {
        "working" => Status::Working,
        "input_required" => Status::InputRequired,
        "completed" => Status::Completed,
        "failed" => Status::Failed,
        "cancelled" => Status::Cancelled,
        _ => return None,
    })
}

/// The columns of a task's row, in the order both SQL schemas declare them: id, owner,
/// status, created_at, expires_at, lease_until, version, body.
pub(super) struct Columns {
    pub(super) id: String,
    pub(super) owner: String,
    pub(super) status: &'static str,
    pub(super) created_at: i64,
    /// When the task expires, for the expiry index; `None` if never.
    pub(super) expires_at: Option<i64>,
    pub(super) lease_until: Option<i64>,
    pub(super) version: i64,
    /// The whole task, as JSON text.
    pub(super) body: String,
}

impl Columns {
    pub(super) fn of(task: &Task) -> Self {
        Columns {
            id: task.id.clone(),
            owner: task.owner.clone(),
            status: status_name(task.status),
            created_at: to_sql(task.created_at),
            expires_at: task
                .ttl
                .map(|ttl| to_sql(task.created_at.saturating_add(ttl))),
            lease_until: task.lease_until.map(to_sql),
            version: to_sql(task.version),
            body: encode(task),
        }
    }
}

/// Milliseconds as the signed 64-bit integers SQL databases keep; saturating, since no time of
/// this program's lifetime comes near 2^63 ms.
pub(super) fn to_sql(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The task as the JSON text of the `body` column.
pub(super) fn encode(task: &Task) -> String {
    let outcome = task.outcome.as_ref().map(|o| match o {
        Outcome::Success(result) => json!({ "result": result }),
        Outcome::Error(e) => {
            json!({ "error": { "code": e.code, "message": e.message, "data": e.data } })
        }
    });
    let input_requests: Vec<Value> = task
        .input_requests
        .iter()
        .map(|q| {
            json!({
                "key": q.key,
                "method": q.method,
                "params": q.params,
                "state": input_state_name(q.state),
                "response": q.response,
            })
        })
        .collect();
    json!({
        "era": match task.era {
            Era::Legacy => "legacy",
            Era::Modern => "modern",
        },
        "id": task.id,
        "owner": task.owner,
        "status": status_name(task.status),
        "statusMessage": task.status_message,
        "createdAt": task.created_at,
        "lastUpdatedAt": task.last_updated_at,
        "ttl": task.ttl,
        "pollInterval": task.poll_interval,
        "version": task.version,
        "request": task.request,
        "outcome": outcome,
        "inputRequests": input_requests,
        "executor": task.executor,
        "leaseUntil": task.lease_until,
        "attempt": task.attempt,
        "variables": task.variables,
    })
    .to_string()
}

/// The task a `body` column holds; `Unavailable` if it is not one (a damaged row).
pub(super) fn decode(body: &str) -> Result<Task, StoreError> {
    let damaged = |why: &str| StoreError::Unavailable(format!("a stored task is damaged: {why}"));
    let v: Value = serde_json::from_str(body).map_err(|e| damaged(&e.to_string()))?;
    let text = |key: &str| v[key].as_str().map(String::from);
    let number = |key: &str| v[key].as_u64();
    let outcome = match &v["outcome"] {
        Value::Null => None,
        o => Some(match (o.get("result"), o.get("error")) {
            (Some(Value::String(result)), _) => Outcome::Success(result.clone()),
            (_, Some(e)) => Outcome::Error(RpcError {
                code: e["code"]
                    .as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .ok_or_else(|| damaged("outcome.error.code"))?,
                message: e["message"].as_str().unwrap_or_default().to_string(),
                data: e["data"].as_str().map(String::from),
            }),
            _ => return Err(damaged("outcome")),
        }),
    };
    let input_requests = match &v["inputRequests"] {
        // Rows written before questions had keys hold none.
        Value::Null => Vec::new(),
        Value::Array(questions) => questions
            .iter()
            .map(|q| {
                let field = |key: &str| {
                    q[key]
                        .as_str()
                        .map(String::from)
                        .ok_or_else(|| damaged(&format!("inputRequests[].{key}")))
                };
                Ok(InputRequest {
                    key: field("key")?,
                    method: field("method")?,
                    params: field("params")?,
                    state: q["state"]
                        .as_str()
                        .and_then(input_state_from)
                        .ok_or_else(|| damaged("inputRequests[].state"))?,
                    response: q["response"].as_str().map(String::from),
                })
            })
            .collect::<Result<_, StoreError>>()?,
        _ => return Err(damaged("inputRequests")),
    };
    let era = match v["era"].as_str() {
        // Rows written before the modern era are legacy tasks.
        None | Some("legacy") => Era::Legacy,
        Some("modern") => Era::Modern,
        Some(_) => return Err(damaged("era")),
    };
    Ok(Task {
        era,
        id: text("id").ok_or_else(|| damaged("id"))?,
        owner: text("owner").ok_or_else(|| damaged("owner"))?,
        status: v["status"]
            .as_str()
            .and_then(status_from)
            .ok_or_else(|| damaged("status"))?,
        status_message: text("statusMessage"),
        created_at: number("createdAt").ok_or_else(|| damaged("createdAt"))?,
        last_updated_at: number("lastUpdatedAt").ok_or_else(|| damaged("lastUpdatedAt"))?,
        ttl: number("ttl"),
        poll_interval: number("pollInterval"),
        version: number("version").ok_or_else(|| damaged("version"))?,
        request: text("request").ok_or_else(|| damaged("request"))?,
        outcome,
        input_requests,
        executor: text("executor"),
        lease_until: number("leaseUntil"),
        // Rows written before retries hold the first attempt.
        attempt: number("attempt")
            .map_or(Ok(1), u32::try_from)
            .map_err(|_| damaged("attempt"))?,
        variables: text("variables"),
    })
}

/// Where a `list` query resumes: strictly after the cursor's (created_at, id), in the
/// column's terms, or from the start.
pub(super) fn resume_after(cursor: Option<&str>) -> Result<(i64, String), StoreError> {
    match cursor {
        Some(c) => {
            let (at, id) = cursor::decode(c)?;
            Ok((to_sql(at), id))
        }
        None => Ok((i64::MIN, String::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_survives_the_round_trip() {
        let mut task = Task {
            era: Era::Modern,
            id: "t".into(),
            owner: "o".into(),
            status: Status::InputRequired,
            status_message: Some("waiting".into()),
            created_at: 1,
            last_updated_at: 2,
            ttl: Some(3),
            poll_interval: None,
            version: 4,
            request: "{\"method\":\"tools/call\"}".into(),
            outcome: Some(Outcome::Error(RpcError {
                code: -32603,
                message: "boom".into(),
                data: Some("{\"x\":1}".into()),
            })),
            input_requests: vec![
                InputRequest {
                    key: "q".into(),
                    method: "elicitation/create".into(),
                    params: "{}".into(),
                    state: InputState::Answered,
                    response: Some("{\"action\":\"accept\"}".into()),
                },
                InputRequest {
                    key: "r".into(),
                    method: "roots/list".into(),
                    params: String::new(),
                    state: InputState::Done,
                    response: None,
                },
            ],
            executor: Some("host/1".into()),
            lease_until: Some(5),
            attempt: 2,
            variables: Some(r#"{"workflow":{"steps":["a"],"step":1}}"#.into()),
        };
        assert_eq!(decode(&encode(&task)).unwrap(), task);
        task.outcome = Some(Outcome::Success("{\"content\":[]}".into()));
        task.input_requests.clear();
        task.executor = None;
        task.era = Era::Legacy;
        assert_eq!(decode(&encode(&task)).unwrap(), task);
        assert!(decode("{}").is_err());
    }
}
