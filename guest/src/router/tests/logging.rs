//! Logging (2025-11-25): `logging/setLevel`, and a tool's log lines as `notifications/message`
//! at or above the level, related to their task; none in 2026-07-28.

use super::*;
use crate::model::LogLevel;

#[test]
fn initialize_declares_logging_and_set_level_keeps_the_level_in_the_session() {
    let h = Harness::new();
    let init = json!({ "protocolVersion": "2025-11-25", "capabilities": {} });
    let result = h.call("initialize", init).unwrap();
    assert_eq!(result["capabilities"]["logging"], json!({}));
    assert_eq!(
        h.call("logging/setLevel", json!({ "level": "warning" })),
        Ok(json!({}))
    );
    let session: Value = serde_json::from_str(&h.session.borrow()).unwrap();
    assert_eq!(session["logLevel"], "warning");
    // What initialize kept stays.
    assert_eq!(session["protocolVersion"], "2025-11-25");

    let bad = h
        .call("logging/setLevel", json!({ "level": "loud" }))
        .unwrap_err();
    assert_eq!(bad["code"], code::INVALID_PARAMS);
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("debug, info, notice"),
        "{bad}"
    );
}

#[test]
fn a_tools_log_lines_reach_the_client_at_or_above_its_level() {
    let h = Harness::new();
    h.initialize(json!({}));
    let call = run_of(&h.request("tools/call", json!({ "name": "echo" })));
    // No level set: nothing.
    assert!(
        h.log(&call.token, LogLevel::Emergency, json!("down"))
            .is_empty()
    );

    h.call("logging/setLevel", json!({ "level": "info" }))
        .unwrap();
    assert!(
        h.log(&call.token, LogLevel::Debug, json!("detail"))
            .is_empty()
    );
    let sent_info = sent(&h.log(&call.token, LogLevel::Info, json!("Tool execution started")));
    assert_eq!(
        sent_info,
        [
            json!({ "jsonrpc": "2.0", "method": "notifications/message", "params": {
                "level": "info", "data": "Tool execution started"
            }})
        ]
    );
    let structured = sent(&h.log(&call.token, LogLevel::Error, json!({ "disk": "full" })));
    assert_eq!(structured[0]["params"]["data"], json!({ "disk": "full" }));
    assert_eq!(structured[0]["params"]["level"], "error");

    // A task's lines are related to it, until it ends.
    let (id, token) = h.create(None);
    let related = sent(&h.log(&token, LogLevel::Warning, json!("slow disk")));
    assert_eq!(
        related[0]["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        id
    );
    h.finish(&token, ok_result("done"), None);
    assert!(h.log(&token, LogLevel::Warning, json!("late")).is_empty());
}

#[test]
fn a_modern_run_logs_nothing() {
    let h = Harness::new();
    // Even with a level left in the session by a legacy client.
    h.initialize(json!({}));
    h.call("logging/setLevel", json!({ "level": "debug" }))
        .unwrap();
    let call = run_of(&h.modern("tools/call", json!({ "name": "echo" }), json!({})));
    assert!(h.log(&call.token, LogLevel::Error, json!("x")).is_empty());
    let (_, token) = h.create_modern();
    assert!(h.log(&token, LogLevel::Error, json!("x")).is_empty());
    // And logging/setLevel is not a 2026-07-28 method.
    let refused = response(&h.modern("logging/setLevel", json!({ "level": "info" }), json!({})));
    assert_eq!(refused.unwrap_err()["code"], code::METHOD_NOT_FOUND);
}
