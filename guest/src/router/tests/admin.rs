//! An operator's changes (cancel, retry, purge) and the history every change leaves.

use super::*;
use crate::model::HistoryEvent;

impl Harness {
    /// Act as the operator `admin:ops` on host-c, then as alice again.
    fn as_admin<T>(&self, act: impl FnOnce(&Router<'_>) -> T) -> T {
        let owner = self.owner.replace("admin:ops".into());
        let executor = self.executor.replace("host-c".into());
        let ctx = self.ctx();
        let out = act(&Router::new(&self.store, &self.server, &ctx));
        self.owner.replace(owner);
        self.executor.replace(executor);
        out
    }
}

fn events(task: &Task) -> Vec<(HistoryEvent, u32, String)> {
    task.history
        .iter()
        .map(|e| (e.event, e.attempt, e.host.clone()))
        .collect()
}

#[test]
fn the_history_tells_a_failed_attempt_its_retry_on_another_host_and_the_end() {
    use HistoryEvent::{AttemptEnded, AttemptStarted, Created};
    let h = Harness::new();
    let (id, token) = h.create_flaky();
    h.finish(&token, failed_result("disk full"), Some("disk full"));
    h.executor.replace("host-b".into());
    h.now.set(h.now.get() + 1_000);
    let again = run_of(&h.sweep(&[]));
    h.finish(&again.token, ok_result("done"), None);
    let task = h.stored(&id);
    let (a, b) = (String::from("host-a"), String::from("host-b"));
    assert_eq!(
        events(&task),
        [
            (Created, 1, a.clone()),
            (AttemptStarted, 1, a.clone()),
            (AttemptEnded, 1, a),
            (AttemptStarted, 2, b.clone()),
            (AttemptEnded, 2, b.clone()),
            (HistoryEvent::Status, 2, b),
        ]
    );
    assert_eq!(task.history[0].detail.as_deref(), Some("test"));
    assert!(
        task.history[2]
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("Attempt 1 of 3 failed: disk full")),
        "{task:?}"
    );
    assert_eq!(task.history[5].status, Status::Completed);
}

#[test]
fn an_operator_cancels_any_owners_task_once_and_the_history_says_who() {
    let h = Harness::new();
    let (id, token) = h.create(None);
    let (task, actions) = h.as_admin(|r| r.admin_cancel(&id)).unwrap();
    assert_eq!(task.status, Status::Cancelled);
    assert!(actions.contains(&Action::StopTool(token)));
    assert!(actions.contains(&Action::Changed(id.clone())));
    let last = task.history.last().unwrap();
    assert_eq!(
        (last.event, last.by.as_str(), last.host.as_str()),
        (HistoryEvent::Status, "admin:ops", "host-c")
    );
    assert_eq!(
        h.as_admin(|r| r.admin_cancel(&id)),
        Err(AdminError::Terminal(Status::Cancelled))
    );
    assert_eq!(
        h.as_admin(|r| r.admin_cancel("nope")),
        Err(AdminError::NotFound)
    );
}

#[test]
fn a_retry_makes_a_linked_queued_task_and_the_old_one_keeps_its_status() {
    let h = Harness::new();
    let (id, _) = h.create(None);
    assert_eq!(
        h.as_admin(|r| r.admin_retry(&id)),
        Err(AdminError::Refused(Status::Working))
    );
    h.as_admin(|r| r.admin_cancel(&id)).unwrap();
    let before = h.stored(&id);
    let new = h.as_admin(|r| r.admin_retry(&id)).unwrap();
    assert_eq!((new.owner.as_str(), new.attempt), ("alice", 0));
    assert_eq!(new.executor, None);
    assert_eq!(new.request, before.request);
    assert_eq!(new.history[0].by, "admin:ops");
    let old = h.stored(&id);
    assert_eq!(
        (old.status, old.status_message.clone()),
        (before.status, before.status_message)
    );
    assert_eq!(old.version, before.version + 1);
    let last = old.history.last().unwrap();
    assert_eq!(
        (last.event, last.detail.as_deref()),
        (HistoryEvent::Retried, Some(new.id.as_str()))
    );
    // The owner sees the links both ways in tasks/get.
    let got = h.call("tasks/get", json!({ "taskId": id })).unwrap();
    assert_eq!(got["_meta"]["mcp-tasks/retried-as"], json!(new.id));
    let got = h.call("tasks/get", json!({ "taskId": new.id })).unwrap();
    assert_eq!(got["_meta"]["mcp-tasks/retry-of"], json!(id));
    // Any host claims it, as any queued task.
    let run = run_of(&h.sweep(&[]));
    assert_eq!(run.task_id.as_deref(), Some(new.id.as_str()));
}

#[test]
fn purge_removes_finished_tasks_only() {
    let h = Harness::new();
    let (id, _) = h.create(None);
    assert_eq!(
        h.as_admin(|r| r.admin_purge(&id)),
        Err(AdminError::Refused(Status::Working))
    );
    h.as_admin(|r| r.admin_cancel(&id)).unwrap();
    assert_eq!(h.as_admin(|r| r.admin_purge(&id)), Ok(()));
    assert!(!h.store.tasks.borrow().contains_key(&id));
    assert_eq!(
        h.as_admin(|r| r.admin_purge(&id)),
        Err(AdminError::NotFound)
    );
}
