//! Batches: pipelined messages handled in one call while they only read.

use super::*;

/// A request as JSON text.
fn request(id: u64, method: &str, params: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}

#[test]
fn a_batch_of_reads_answers_each_as_handle_would() {
    let h = Harness::new();
    h.initialize(json!({}));
    let (a, _) = h.create(None);
    let (b, _) = h.create(None);
    let messages = vec![
        request(10, "tasks/get", json!({ "taskId": a })),
        request(11, "tasks/list", json!({})),
        request(12, "tasks/get", json!({ "taskId": b })),
        request(13, "tasks/get", json!({ "taskId": "nope" })),
    ];
    let ctx = h.ctx();
    let batch = handle_batch(&h.store, &h.server, &ctx, &messages);
    assert_eq!(batch.len(), 4, "{batch:?}");
    for (message, actions) in messages.iter().zip(&batch) {
        let alone = Router::new(&h.store, &h.server, &ctx).handle(message);
        assert_eq!(actions, &alone, "{message}");
    }
}

#[test]
fn a_batch_stops_before_a_write_and_writes_nothing() {
    let h = Harness::new();
    h.initialize(json!({}));
    let (a, _) = h.create(None);
    let before = h.stored(&a);
    let messages = vec![
        request(20, "tasks/get", json!({ "taskId": a })),
        request(21, "tasks/cancel", json!({ "taskId": a })),
        request(22, "tasks/get", json!({ "taskId": a })),
    ];
    let batch = handle_batch(&h.store, &h.server, &h.ctx(), &messages);
    assert_eq!(batch.len(), 1, "{batch:?}");
    assert_eq!(h.stored(&a), before, "the cancel wrote nothing");
    // A call that creates a task ends a batch at once: nothing is created.
    let call = request(
        23,
        "tools/call",
        json!({ "name": "echo", "arguments": {}, "task": {} }),
    );
    let tasks = h.store.tasks.borrow().len();
    assert!(handle_batch(&h.store, &h.server, &h.ctx(), &[call]).is_empty());
    assert_eq!(h.store.tasks.borrow().len(), tasks);
}

#[test]
fn a_session_set_in_a_batch_is_the_session_of_the_messages_after_it() {
    let h = Harness::new();
    let messages = vec![
        request(
            1,
            "initialize",
            json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "c", "version": "1" } }),
        ),
        request(2, "tools/list", json!({})),
    ];
    let batch = handle_batch(&h.store, &h.server, &h.ctx(), &messages);
    assert_eq!(batch.len(), 2, "{batch:?}");
    assert!(
        batch[0].iter().any(|a| matches!(a, Action::SetSession(_))),
        "{batch:?}"
    );
    let listed = response(&batch[1]).expect("tools/list answered in the session");
    assert!(
        listed["tools"].as_array().is_some_and(|t| !t.is_empty()),
        "{listed}"
    );
}
