//! A task as one row of a database table: the columns the queries need, and the whole task as
//! JSON text, so that a new field of the WIT `task` record needs no schema change.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::cursor;
use crate::types::{
    Era, HistoryEntry, HistoryEvent, InputRequest, InputState, Outcome, Page, RpcError, Status,
    StoreError, Task,
};

/// The status as the columns keep it (the protocol's spelling).
pub(crate) fn status_name(status: Status) -> &'static str {
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

/// A history event as the body, `admin` and the dashboard spell it (the WIT's names).
pub(crate) fn history_event_name(event: HistoryEvent) -> &'static str {
    match event {
        HistoryEvent::Created => "created",
        HistoryEvent::Status => "status",
        HistoryEvent::AttemptStarted => "attempt-started",
        HistoryEvent::AttemptEnded => "attempt-ended",
        HistoryEvent::Step => "step",
        HistoryEvent::Asked => "asked",
        HistoryEvent::Answered => "answered",
        HistoryEvent::Retried => "retried",
    }
}

fn history_event_from(name: &str) -> Option<HistoryEvent> {
    Some(match name {
        "created" => HistoryEvent::Created,
        "status" => HistoryEvent::Status,
        "attempt-started" => HistoryEvent::AttemptStarted,
        "attempt-ended" => HistoryEvent::AttemptEnded,
        "step" => HistoryEvent::Step,
        "asked" => HistoryEvent::Asked,
        "answered" => HistoryEvent::Answered,
        "retried" => HistoryEvent::Retried,
        _ => return None,
    })
}

pub(crate) fn status_from(name: &str) -> Option<Status> {
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

/// The `body` column's JSON, field for field. The required strings borrow from the text where
/// they need no unescaping; every field a later version added is optional, so older rows read.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(borrow, default)]
    era: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    owner: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow, default)]
    status_message: Option<Cow<'a, str>>,
    created_at: u64,
    last_updated_at: u64,
    #[serde(default)]
    ttl: Option<u64>,
    #[serde(default)]
    poll_interval: Option<u64>,
    version: u64,
    #[serde(borrow)]
    request: Cow<'a, str>,
    #[serde(borrow, default)]
    outcome: Option<OutcomeBody<'a>>,
    // Rows written before questions had keys hold none.
    #[serde(borrow, default)]
    input_requests: Option<Vec<QuestionBody<'a>>>,
    #[serde(borrow, default)]
    executor: Option<Cow<'a, str>>,
    #[serde(default)]
    lease_until: Option<u64>,
    // Rows written before retries hold the first attempt.
    #[serde(default)]
    attempt: Option<u64>,
    #[serde(borrow, default)]
    variables: Option<Cow<'a, str>>,
    // Rows written before histories hold none.
    #[serde(borrow, default)]
    history: Option<Vec<HistoryBody<'a>>>,
}

/// One history entry.
#[derive(Serialize, Deserialize)]
struct HistoryBody<'a> {
    at: u64,
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    attempt: u64,
    #[serde(borrow)]
    host: Cow<'a, str>,
    #[serde(borrow)]
    by: Cow<'a, str>,
    #[serde(borrow, default)]
    detail: Option<Cow<'a, str>>,
}

/// An outcome: `{"result": <text>}` or `{"error": {code, message, data}}`.
#[derive(Serialize, Deserialize)]
struct OutcomeBody<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    result: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody<'a>>,
}

#[derive(Serialize, Deserialize)]
struct ErrorBody<'a> {
    code: i64,
    #[serde(borrow, default)]
    message: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
struct QuestionBody<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    params: Cow<'a, str>,
    #[serde(borrow)]
    state: Cow<'a, str>,
    #[serde(borrow, default)]
    response: Option<Cow<'a, str>>,
}

/// The task as the JSON text of the `body` column.
pub(super) fn encode(task: &Task) -> String {
    fn text(s: &str) -> Cow<'_, str> {
        Cow::Borrowed(s)
    }
    let body = Body {
        era: Some(text(match task.era {
            Era::Legacy => "legacy",
            Era::Modern => "modern",
        })),
        id: text(&task.id),
        owner: text(&task.owner),
        status: text(status_name(task.status)),
        status_message: task.status_message.as_deref().map(text),
        created_at: task.created_at,
        last_updated_at: task.last_updated_at,
        ttl: task.ttl,
        poll_interval: task.poll_interval,
        version: task.version,
        request: text(&task.request),
        outcome: task.outcome.as_ref().map(|o| match o {
            Outcome::Success(result) => OutcomeBody {
                result: Some(text(result)),
                error: None,
            },
            Outcome::Error(e) => OutcomeBody {
                result: None,
                error: Some(ErrorBody {
                    code: e.code.into(),
                    message: text(&e.message),
                    data: e.data.as_deref().map(text),
                }),
            },
        }),
        input_requests: Some(
            task.input_requests
                .iter()
                .map(|q| QuestionBody {
                    key: text(&q.key),
                    method: text(&q.method),
                    params: text(&q.params),
                    state: text(input_state_name(q.state)),
                    response: q.response.as_deref().map(text),
                })
                .collect(),
        ),
        executor: task.executor.as_deref().map(text),
        lease_until: task.lease_until,
        attempt: Some(task.attempt.into()),
        variables: task.variables.as_deref().map(text),
        history: Some(
            task.history
                .iter()
                .map(|e| HistoryBody {
                    at: e.at,
                    event: text(history_event_name(e.event)),
                    status: text(status_name(e.status)),
                    attempt: e.attempt.into(),
                    host: text(&e.host),
                    by: text(&e.by),
                    detail: e.detail.as_deref().map(text),
                })
                .collect(),
        ),
    };
    // Serializing strings and integers into a String cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

/// The task a `body` column holds; `Unavailable` if it is not one (a damaged row).
pub(super) fn decode(body: &str) -> Result<Task, StoreError> {
    let damaged = |why: &str| StoreError::Unavailable(format!("a stored task is damaged: {why}"));
    let b: Body<'_> = serde_json::from_str(body).map_err(|e| damaged(&e.to_string()))?;
    let outcome = match b.outcome {
        None => None,
        Some(OutcomeBody {
            result: Some(result),
            ..
        }) => Some(Outcome::Success(result.into_owned())),
        Some(OutcomeBody {
            error: Some(e),
            result: None,
        }) => Some(Outcome::Error(RpcError {
            code: i32::try_from(e.code).map_err(|_| damaged("outcome.error.code"))?,
            message: e.message.into_owned(),
            data: e.data.map(Cow::into_owned),
        })),
        Some(_) => return Err(damaged("outcome")),
    };
    let input_requests = b
        .input_requests
        .unwrap_or_default()
        .into_iter()
        .map(|q| {
            Ok(InputRequest {
                state: input_state_from(&q.state)
                    .ok_or_else(|| damaged("inputRequests[].state"))?,
                key: q.key.into_owned(),
                method: q.method.into_owned(),
                params: q.params.into_owned(),
                response: q.response.map(Cow::into_owned),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let history = b
        .history
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            Ok(HistoryEntry {
                at: e.at,
                event: history_event_from(&e.event).ok_or_else(|| damaged("history[].event"))?,
                status: status_from(&e.status).ok_or_else(|| damaged("history[].status"))?,
                attempt: u32::try_from(e.attempt).map_err(|_| damaged("history[].attempt"))?,
                host: e.host.into_owned(),
                by: e.by.into_owned(),
                detail: e.detail.map(Cow::into_owned),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let era = match b.era.as_deref() {
        // Rows written before the modern era are legacy tasks.
        None | Some("legacy") => Era::Legacy,
        Some("modern") => Era::Modern,
        Some(_) => return Err(damaged("era")),
    };
    Ok(Task {
        era,
        id: b.id.into_owned(),
        owner: b.owner.into_owned(),
        status: status_from(&b.status).ok_or_else(|| damaged("status"))?,
        status_message: b.status_message.map(Cow::into_owned),
        created_at: b.created_at,
        last_updated_at: b.last_updated_at,
        ttl: b.ttl,
        poll_interval: b.poll_interval,
        version: b.version,
        request: b.request.into_owned(),
        outcome,
        input_requests,
        executor: b.executor.map(Cow::into_owned),
        lease_until: b.lease_until,
        attempt: b
            .attempt
            .map_or(Ok(1), u32::try_from)
            .map_err(|_| damaged("attempt"))?,
        variables: b.variables.map(Cow::into_owned),
        history,
    })
}

/// One page of a query that read `limit + 1` rows' bodies: the first `limit` tasks, and a
/// cursor after the last of them when there were more.
pub(super) fn page<'b>(
    bodies: impl IntoIterator<Item = &'b str>,
    limit: u32,
) -> Result<Page, StoreError> {
    let mut tasks = bodies
        .into_iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    let more = tasks.len() > limit as usize;
    tasks.truncate(limit as usize);
    let next_cursor = more.then(|| tasks.last().map(cursor::encode)).flatten();
    Ok(Page { tasks, next_cursor })
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
            history: vec![HistoryEntry {
                at: 1,
                event: HistoryEvent::AttemptEnded,
                status: Status::Working,
                attempt: 1,
                host: "host/1".into(),
                by: "o".into(),
                detail: Some("Attempt 1 of 2 failed".into()),
            }],
        };
        assert_eq!(decode(&encode(&task)).unwrap(), task);
        task.outcome = Some(Outcome::Success("{\"content\":[]}".into()));
        task.input_requests.clear();
        task.executor = None;
        task.era = Era::Legacy;
        assert_eq!(decode(&encode(&task)).unwrap(), task);
        assert!(decode("{}").is_err());
    }

    #[test]
    fn rows_of_earlier_versions_still_read() {
        // Written before eras, keyed questions, retries and workflows; nulls as `json!` wrote them.
        let old = r#"{"id":"t","owner":"o","status":"completed","statusMessage":null,
            "createdAt":1,"lastUpdatedAt":2,"ttl":null,"pollInterval":5000,"version":3,
            "request":"{\"method\":\"tools/call\"}","outcome":{"result":"{}"},
            "executor":null,"leaseUntil":null}"#;
        let task = decode(old).unwrap();
        assert_eq!(task.era, Era::Legacy);
        assert_eq!(task.request, r#"{"method":"tools/call"}"#);
        assert_eq!(task.outcome, Some(Outcome::Success("{}".into())));
        assert!(task.input_requests.is_empty());
        assert!(task.history.is_empty());
        assert_eq!(task.attempt, 1);
        assert_eq!(task.poll_interval, Some(5000));
        for (damage, why) in [
            (r#""status":"completed""#, r#""status":"done""#),
            (r#""outcome":{"result":"{}"}"#, r#""outcome":{}"#),
            (r#""version":3"#, r#""version":"3""#),
        ] {
            let err = decode(&old.replace(damage, why)).unwrap_err();
            assert!(
                matches!(&err, StoreError::Unavailable(m) if m.starts_with("a stored task is damaged")),
                "{why}: {err:?}"
            );
        }
    }
}
