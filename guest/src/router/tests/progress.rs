//! Progress: reports to a request's token, rate-limited, until the request or task ends.

use super::*;

pub(super) fn progress(n: f64, total: Option<f64>, message: Option<&str>) -> Report {
    Report {
        progress: Some(n),
        total,
        message: message.map(Into::into),
    }
}

/// The `notifications/progress` params among these actions.
pub(super) fn progress_sent(actions: &[Action]) -> Vec<Value> {
    sent(actions)
        .into_iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| m["params"].clone())
        .collect()
}

/// The run a request started, from its actions.
pub(super) fn run_of(actions: &[Action]) -> crate::model::Run {
    actions
        .iter()
        .find_map(|a| match a {
            Action::RunTool(run) => Some(run.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no run: {actions:?}"))
}

#[test]
fn a_plain_call_with_a_token_gets_increasing_rate_limited_progress() {
    let h = Harness::new();
    let call = json!({ "name": "echo", "_meta": { "progressToken": "p-1" } });
    let run = run_of(&h.request("tools/call", call));
    let mut got = Vec::new();
    for step in 1..=10 {
        h.now.set(h.now.get() + 150);
        let message = format!("{} to go", 10 - step);
        let actions = h.report(
            &run.token,
            progress(f64::from(step), Some(10.0), Some(&message)),
        );
        got.extend(progress_sent(&actions));
    }
    assert_eq!(got.len(), 10, "{got:?}");
    assert_eq!(
        got[2],
        json!({ "progressToken": "p-1", "progress": 3, "total": 10, "message": "7 to go" })
    );
    // Within the interval of the last one sent: dropped, unless it reaches the total.
    let run = run_of(&h.request(
        "tools/call",
        json!({ "name": "echo", "_meta": { "progressToken": 9 } }),
    ));
    let burst: Vec<Value> = (1..=1000)
        .flat_map(|n| {
            progress_sent(&h.report(&run.token, progress(f64::from(n), Some(1000.0), None)))
        })
        .collect();
    let values: Vec<f64> = burst
        .iter()
        .map(|p| p["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [1.0, 1000.0]);
    assert_eq!(burst[0]["progressToken"], 9);
    // Not increasing: dropped.
    h.now.set(h.now.get() + 1_000);
    assert!(progress_sent(&h.report(&run.token, progress(5.0, None, None))).is_empty());
}

#[test]
fn no_progress_without_a_token_and_a_status_line_is_no_progress() {
    let h = Harness::new();
    let run = run_of(&h.request("tools/call", json!({ "name": "echo" })));
    assert!(
        h.report(&run.token, progress(1.0, None, Some("one")))
            .is_empty()
    );
    let (_, token) = h.create(None);
    assert!(
        h.report(&token, progress(1.0, None, Some("one")))
            .is_empty()
    );
    // A token that is neither a string nor an integer is none.
    let run = run_of(&h.request(
        "tools/call",
        json!({ "name": "echo", "_meta": { "progressToken": 1.5 } }),
    ));
    assert!(h.report(&run.token, progress(1.0, None, None)).is_empty());
    // A status line alone is not progress.
    let run = run_of(&h.request(
        "tools/call",
        json!({ "name": "echo", "_meta": { "progressToken": "t" } }),
    ));
    assert!(h.say(&run.token, "working on it").is_empty());
}

#[test]
fn a_legacy_task_reports_progress_to_its_token_until_it_ends() {
    let h = Harness::new();
    let actions = h.request(
        "tools/call",
        json!({ "name": "echo", "task": {}, "_meta": { "progressToken": "task-1" } }),
    );
    let id = response(&actions).unwrap()["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let run = run_of(&actions);
    let sent = progress_sent(&h.report(&run.token, progress(1.0, Some(2.0), Some("half"))));
    assert_eq!(
        sent,
        [json!({ "progressToken": "task-1", "progress": 1, "total": 2, "message": "half" })]
    );
    assert_eq!(h.status(&id), ("working".into(), Some("half".into())));
    h.finish(&run.token, ok_result("ok"), None);
    h.now.set(h.now.get() + 1_000);
    assert!(
        h.report(&run.token, progress(2.0, Some(2.0), None))
            .is_empty()
    );
}

#[test]
fn a_modern_task_sends_no_progress_and_a_plain_call_stops_at_its_input_required() {
    let h = Harness::new();
    let created = h.modern(
        "tools/call",
        json!({ "name": "echo", "_meta": { "progressToken": "m-1" } }),
        tasks_caps(),
    );
    assert_eq!(response(&created).unwrap()["resultType"], "task");
    let run = run_of(&created);
    assert!(progress_sent(&h.report(&run.token, progress(1.0, None, Some("one")))).is_empty());

    // A plain call: progress with its token until it is answered with input_required; the
    // retry's token from then on.
    let caps = json!({ "elicitation": {} });
    let call = json!({ "name": "echo", "_meta": { "progressToken": "first" } });
    let run = run_of(&h.modern("tools/call", call, caps.clone()));
    assert_eq!(
        progress_sent(&h.report(&run.token, progress(1.0, None, None)))[0]["progressToken"],
        "first"
    );
    let asked = h.ask_keyed(&run.token, &[("a", "elicitation/create", question())]);
    let state = response(&asked).unwrap()["requestState"].clone();
    h.now.set(h.now.get() + 1_000);
    assert!(progress_sent(&h.report(&run.token, progress(2.0, None, None))).is_empty());
    let retry = h.modern(
        "tools/call",
        json!({
            "name": "echo",
            "requestState": state,
            "inputResponses": { "a": { "action": "accept", "content": {} } },
            "_meta": { "progressToken": "second" },
        }),
        caps,
    );
    let Some(Action::RenameRun { to, .. }) = retry.first() else {
        panic!("{retry:?}")
    };
    let sent = progress_sent(&h.report(to, progress(1.0, None, None)));
    assert_eq!(sent, [json!({ "progressToken": "second", "progress": 1 })]);
}

#[test]
fn a_legacy_task_carries_the_tools_immediate_response_and_a_modern_one_does_not() {
    let h = Harness::new();
    let created = response(&h.request(
        "tools/call",
        json!({ "name": "sleep", "task": {}, "arguments": { "secs": 1 } }),
    ))
    .unwrap();
    assert_eq!(
        created["_meta"],
        json!({ "io.modelcontextprotocol/model-immediate-response": "Sleeping; the result follows." })
    );
    let echo = response(&h.request("tools/call", json!({ "name": "echo", "task": {} }))).unwrap();
    assert!(echo.get("_meta").is_none(), "{echo}");
    let modern = response(&h.with_tasks(
        "tools/call",
        json!({ "name": "sleep", "arguments": { "secs": 1 } }),
    ))
    .unwrap();
    assert_eq!(modern["resultType"], "task");
    assert!(modern.get("_meta").is_none(), "{modern}");
}
