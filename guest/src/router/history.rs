//! A task's history: what changed, written with the change itself. [`Router::update`] calls
//! [`record`] with the task before and after each change, so no rule has to remember to log
//! what it did; creation adds the first entry ([`created`]).
//!
//! [`Router::update`]: super::Router::update

use super::workflow::Workflow;
use crate::machine::is_terminal;
use crate::model::{Context, HistoryEntry, HistoryEvent, Task};

/// How many entries a task keeps at most: past it, the oldest but the first (`created`) go. A
/// task that asks hundreds of questions or is retried without end keeps its start and its
/// latest changes, and its row stays small.
pub const MAX_HISTORY: usize = 100;

/// The first entry of a new task (and, when this host runs it at once, its first attempt's
/// start).
pub(super) fn created(task: &mut Task, ctx: &Context) {
    let entry = entry_for(task, ctx);
    task.history.push(entry(
        HistoryEvent::Created,
        ctx.executor.clone(),
        Some(ctx.transport.clone()),
    ));
    if let Some(host) = task.executor.clone() {
        task.history
            .push(entry(HistoryEvent::AttemptStarted, host, None));
    }
}

/// A function that makes an entry of `task` as it is now, in `ctx`.
fn entry_for<'a>(
    task: &Task,
    ctx: &'a Context,
) -> impl Fn(HistoryEvent, String, Option<String>) -> HistoryEntry + 'a {
    let (status, attempt) = (task.status, task.attempt);
    move |event, host, detail| HistoryEntry {
        at: ctx.now,
        event,
        status,
        attempt,
        host,
        by: ctx.owner.clone(),
        detail,
    }
}

/// Add to `after`'s history what changed since `before`, in the order it happened: answers,
/// questions, the end of an attempt, a workflow's next step, the status, the start of an
/// attempt. Bookkeeping (a lease renewed, answers handed to the tool, a progress message) adds
/// nothing.
pub(super) fn record(before: &Task, after: &mut Task, ctx: &Context) {
    let entry = entry_for(after, ctx);
    let here = || ctx.executor.clone();
    let (step_before, step_after) = if before.variables == after.variables {
        (None, None)
    } else {
        (Workflow::of(before), Workflow::of(after))
    };
    let new_step = step_after
        .as_ref()
        .filter(|s| step_before.as_ref().is_some_and(|b| b.label() != s.label()));
    let newly_terminal = is_terminal(after.status) && !is_terminal(before.status);
    let run_changed =
        before.executor != after.executor || before.attempt != after.attempt || new_step.is_some();
    let mut added = Vec::new();
    for q in &after.input_requests {
        match before.input_requests.iter().find(|b| b.key == q.key) {
            None => added.push(entry(
                HistoryEvent::Asked,
                here(),
                Some(format!("{} {}", q.key, q.method)),
            )),
            // An outstanding question that is no longer was answered (and perhaps handed to the
            // tool at once), unless the run or the task ended, which retires its questions.
            Some(b)
                if b.state.is_outstanding()
                    && !q.state.is_outstanding()
                    && !run_changed
                    && !newly_terminal =>
            {
                added.push(entry(HistoryEvent::Answered, here(), Some(q.key.clone())))
            }
            Some(_) => {}
        }
    }
    if let Some(host) = before.executor.clone()
        && (run_changed || newly_terminal)
        && !is_terminal(before.status)
    {
        let how = match &after.status_message {
            Some(message) if newly_terminal => format!("{}: {message}", after.status.as_wire()),
            _ if newly_terminal => after.status.as_wire().to_string(),
            Some(message) => message.clone(),
            None => "ended".into(),
        };
        let mut ended = entry(HistoryEvent::AttemptEnded, host, Some(how));
        ended.attempt = before.attempt;
        added.push(ended);
    }
    if let Some(step) = new_step {
        added.push(entry(HistoryEvent::Step, here(), Some(step.label())));
    }
    if before.status != after.status {
        added.push(entry(
            HistoryEvent::Status,
            here(),
            after.status_message.clone(),
        ));
    }
    if let Some(host) = after.executor.clone()
        && run_changed
        && !is_terminal(after.status)
    {
        added.push(entry(HistoryEvent::AttemptStarted, host, None));
    }
    push(after, added);
}

/// Add `entries` to `task`'s history, keeping it within [`MAX_HISTORY`].
pub(super) fn push(task: &mut Task, entries: Vec<HistoryEntry>) {
    task.history.extend(entries);
    let over = task.history.len().saturating_sub(MAX_HISTORY);
    if over > 0 {
        task.history.drain(1..=over);
    }
}

/// An entry that says an operator (`ctx.owner`) re-ran `task` as the task `new_id`.
pub(super) fn retried(task: &Task, new_id: &str, ctx: &Context) -> HistoryEntry {
    entry_for(task, ctx)(
        HistoryEvent::Retried,
        ctx.executor.clone(),
        Some(new_id.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{InputRequest, InputState, Status};

    fn ctx(owner: &str, executor: &str, now: u64) -> Context {
        Context {
            owner: owner.into(),
            now,
            session: String::new(),
            executor: executor.into(),
            push: false,
            client: String::new(),
            transport: "http".into(),
        }
    }

    fn events(task: &Task) -> Vec<(HistoryEvent, Status, u32, &str, Option<&str>)> {
        task.history
            .iter()
            .map(|e| {
                (
                    e.event,
                    e.status,
                    e.attempt,
                    e.host.as_str(),
                    e.detail.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn a_task_that_asks_is_retried_and_completes_tells_each_step() {
        use HistoryEvent::{Answered, Asked, AttemptEnded, AttemptStarted, Created};
        use Status::{Completed, InputRequired, Working};
        let moved = HistoryEvent::Status;
        let mut task = Task {
            executor: Some("h1".into()),
            ..Task::plain("t", "alice", 0)
        };
        created(&mut task, &ctx("alice", "h1", 0));

        let mut asked = task.clone();
        asked.status = Status::InputRequired;
        asked.input_requests.push(InputRequest {
            key: "q1".into(),
            method: "elicitation/create".into(),
            params: "{}".into(),
            state: InputState::Open,
            response: None,
        });
        record(&task, &mut asked, &ctx("alice", "h1", 1));

        let mut answered = asked.clone();
        answered.status = Status::Working;
        answered.input_requests[0].state = InputState::Answered;
        answered.input_requests[0].response = Some("{}".into());
        record(&asked, &mut answered, &ctx("alice", "h2", 2));

        // The attempt fails and waits for its next; another host claims it.
        let mut waiting = answered.clone();
        waiting.executor = None;
        waiting.status_message = Some("Attempt 1 of 2 failed: boom".into());
        record(&answered, &mut waiting, &ctx("alice", "h1", 3));
        let mut claimed = waiting.clone();
        claimed.executor = Some("h2".into());
        claimed.attempt = 2;
        record(&waiting, &mut claimed, &ctx("alice", "h2", 4));

        let mut done = claimed.clone();
        done.status = Status::Completed;
        done.status_message = None;
        record(&claimed, &mut done, &ctx("alice", "h2", 5));

        assert_eq!(
            events(&done),
            [
                (Created, Working, 1, "h1", Some("http")),
                (AttemptStarted, Working, 1, "h1", None),
                (Asked, InputRequired, 1, "h1", Some("q1 elicitation/create")),
                (moved, InputRequired, 1, "h1", None),
                (Answered, Working, 1, "h2", Some("q1")),
                (moved, Working, 1, "h2", None),
                (
                    AttemptEnded,
                    Working,
                    1,
                    "h1",
                    Some("Attempt 1 of 2 failed: boom")
                ),
                (AttemptStarted, Working, 2, "h2", None),
                (AttemptEnded, Completed, 2, "h2", Some("completed")),
                (moved, Completed, 2, "h2", None),
            ]
        );
        assert_eq!(done.history[0].by, "alice");
    }

    #[test]
    fn bookkeeping_adds_nothing_and_a_cancel_says_who() {
        let task = Task {
            executor: Some("h1".into()),
            lease_until: Some(10),
            ..Task::plain("t", "alice", 0)
        };
        let mut renewed = Task {
            lease_until: Some(20),
            status_message: Some("half way".into()),
            ..task.clone()
        };
        record(&task, &mut renewed, &ctx("alice", "h1", 1));
        assert!(renewed.history.is_empty());

        let mut cancelled = Task {
            status: Status::Cancelled,
            lease_until: None,
            ..task.clone()
        };
        record(&task, &mut cancelled, &ctx("admin:ops", "h3", 2));
        let by: Vec<_> = cancelled.history.iter().map(|e| e.by.as_str()).collect();
        assert_eq!(by, ["admin:ops", "admin:ops"]);
        assert_eq!(cancelled.history[1].event, HistoryEvent::Status);
        assert_eq!(cancelled.history[1].status, Status::Cancelled);
    }

    #[test]
    fn history_keeps_its_first_entry_and_the_latest() {
        let mut task = Task::plain("t", "alice", 0);
        created(&mut task, &ctx("alice", "h1", 0));
        for i in 0..(MAX_HISTORY as u64 + 5) {
            let entry = retried(&task, &format!("n{i}"), &ctx("admin:ops", "h1", i));
            push(&mut task, vec![entry]);
        }
        assert_eq!(task.history.len(), MAX_HISTORY);
        assert_eq!(task.history[0].event, HistoryEvent::Created);
        let last = MAX_HISTORY as u64 + 4;
        assert_eq!(
            task.history.last().and_then(|e| e.detail.as_deref()),
            Some(format!("n{last}").as_str())
        );
        assert_eq!(task.history[1].detail.as_deref(), Some("n6"));
    }
}
