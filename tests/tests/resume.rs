//! Resumable 2025-11-25 streams over HTTP (SEP-1699): a session's POST stream opens with a
//! priming event (an ID, no data, a `retry` field) and numbers every event; a client whose
//! connection breaks mid-call resumes with GET and `Last-Event-ID`, and gets every event after
//! that one and the answer, losing nothing; the call ran on meanwhile. The session's GET stream
//! resumes the same way.

use mcp_tasks_e2e::http::{Events, HttpServer};
use serde_json::{Value, json};

const TOOLS: &str = r#"
[server]
progress_interval_ms = 0

[[tools]]
name = "steps"
description = "Report ten steps, 100 ms apart"
command = ["sh", "-c", 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "{\"progress\": $i, \"total\": 10}" >&2; sleep 0.1; done; echo "ten steps"']
task_support = "optional"
"#;

fn open_session(server: &HttpServer) -> String {
    let init = server.post(
        &[],
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "resume-test", "version": "1" }
        }}),
    );
    let session = init
        .header("mcp-session-id")
        .expect("a session")
        .to_string();
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(server.post(&headers, &initialized).status, 202);
    session
}

/// The progress of a `notifications/progress`, or `None` for another message.
fn progress(message: &Value) -> Option<u64> {
    (message["method"] == "notifications/progress")
        .then(|| message["params"]["progress"].as_u64())
        .flatten()
}

/// Read a stream until its third progress notification, then break the connection: the
/// progress seen, and the last event's ID. The priming event said when to come back (`retry`),
/// and every event has an ID.
fn read_three_then_break(mut stream: Events) -> (Vec<u64>, String) {
    let mut seen = Vec::new();
    for message in stream.by_ref() {
        seen.extend(progress(&message));
        if seen.len() == 3 {
            break;
        }
    }
    assert_eq!(stream.retry, Some(1000));
    let last = stream.last_id.clone().expect("event IDs");
    drop(stream);
    std::thread::sleep(std::time::Duration::from_millis(300));
    (seen, last)
}

#[test]
fn a_broken_stream_resumes_from_its_last_event_losing_nothing() {
    let server = HttpServer::start(TOOLS, &[]);
    let session = open_session(&server);
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "steps", "arguments": {}, "_meta": { "progressToken": "p" }
    }});
    let (mut seen, last) = read_three_then_break(server.post_stream(&headers, &call));
    assert!(last.ends_with("-3"), "{last}");

    let resumed = server.get_stream(&[
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
        ("last-event-id", last.as_str()),
    ]);
    let mut answer = None;
    for message in resumed {
        if message["id"] == 2 {
            answer = Some(message);
            break;
        }
        seen.extend(progress(&message));
    }
    // Every step once, in order, and the answer: nothing lost, nothing twice.
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    let answer = answer.expect("the answer on the resumed stream");
    assert_eq!(
        answer["result"]["content"][0]["text"], "ten steps\n",
        "{answer}"
    );
}

#[test]
fn an_unknown_last_event_id_opens_the_sessions_own_stream() {
    let server = HttpServer::start(TOOLS, &[]);
    let session = open_session(&server);
    // Not a stream of this session: the GET is the session's stream, as without the header
    // (get_stream checks that it is an SSE stream).
    let stream = server.get_stream(&[
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
        ("last-event-id", "99-1"),
    ]);
    drop(stream);
}

#[test]
fn a_broken_session_stream_resumes_from_its_last_event_losing_nothing() {
    let server = HttpServer::start(TOOLS, &[]);
    let session = open_session(&server);
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    // A task's progress and status travel on the session's GET stream.
    let stream = server.get_stream(&headers);
    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "steps", "arguments": {}, "task": { "ttl": 60000 },
        "_meta": { "progressToken": "p" }
    }});
    let created = server.post(&headers, &call);
    let task_id = created.result()["task"]["taskId"].clone();
    // The connection breaks while the task runs on.
    let (mut seen, last) = read_three_then_break(stream);

    let resumed = server.get_stream(&[
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
        ("last-event-id", last.as_str()),
    ]);
    for message in resumed {
        seen.extend(progress(&message));
        if message["method"] == "notifications/tasks/status"
            && message["params"]["taskId"] == task_id
            && message["params"]["status"] == "completed"
        {
            break;
        }
    }
    assert_eq!(seen, (1..=10).collect::<Vec<u64>>());
}
