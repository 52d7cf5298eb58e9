//! Retries: a task whose tool run fails, or whose host died under it, runs again while its tool
//! has attempts left (`max-attempts`). The task stays `working` meanwhile, its status message
//! saying which attempt failed and when the next starts; only the last failure fails it, so a
//! polling client never sees a failure that a retry then undoes.
//!
//! A task waiting for its next attempt has no executor and its lease set to the time the attempt
//! may start. When that passes the store lists it as abandoned, and the sweep of whichever host
//! sees it first claims it (compare-and-swap) and starts the attempt: the same path that picks
//! up a task whose host died.

use super::update::{Edit, Updated};
use super::{Router, workflow};
use crate::machine;
use crate::model::{Action, Status, Task};
use crate::protocol;

/// The longest reason for a failure kept in a status message, in characters.
const MAX_WHY: usize = 200;

impl Router<'_> {
    /// Whether `task` may run again: the tool of its runs (a workflow's: its step's) is offered
    /// here and has attempts left.
    pub(super) fn has_attempts_left(&self, task: &Task) -> bool {
        self.run_tool(task)
            .is_some_and(|tool| task.attempt < tool.max_attempts)
    }

    /// A run of `task` failed (`why`): if its tool has attempts left, the task waits for the
    /// next one and these are the actions; `None` if the failure is final.
    pub(super) fn retry_later(&self, task: Task, why: &str) -> Option<Vec<Action>> {
        let tool = self.run_tool(&task)?;
        if task.attempt >= tool.max_attempts {
            return None;
        }
        let now = self.ctx.now;
        let at = now.saturating_add(backoff(tool.retry_backoff, task.attempt));
        let message = workflow::step_message(
            &task,
            &format!(
                "Attempt {} of {} failed: {}. Attempt {} starts at {}.",
                task.attempt,
                tool.max_attempts,
                brief(why),
                task.attempt + 1,
                protocol::iso8601(at)
            ),
        );
        let was = task.status;
        let waiting = self.update(task, |t| {
            let mut t = machine::working(t, &message, now)?;
            t.executor = None;
            t.lease_until = Some(at);
            // The questions of the failed attempt are moot; the next one asks afresh.
            t.input_requests.clear();
            Ok(Edit::Change(t))
        });
        Some(match waiting {
            Ok(Updated::Written(task)) => self.changed(&task, was),
            // Cancelled meanwhile (no retry then), or the store failed: the task keeps its
            // lease, which lapses, and a sweep decides again.
            _ => Vec::new(),
        })
    }

    /// `task` waits for its next attempt, or its host died under it: if its tool has attempts
    /// left, claim it for this host and start the next attempt; `None` if none is left.
    pub(super) fn retry_now(&self, task: Task) -> Option<Vec<Action>> {
        let tool = self.run_tool(&task)?;
        if task.attempt >= tool.max_attempts {
            return None;
        }
        // A step whose arguments do not fit it will not fit on any attempt.
        let arguments = match workflow::run_arguments(&task, &tool) {
            Ok(arguments) => arguments,
            Err(why) => {
                let failed = self.conclude(task, super::tool_error_result(&why), Some(why));
                return Some(failed);
            }
        };
        let now = self.ctx.now;
        let lease = self.settings.lease;
        let next = task.attempt + 1;
        let message = match &task.executor {
            None => format!("Attempt {next} of {} started.", tool.max_attempts),
            Some(lost) => format!(
                "Attempt {} of {} was lost with the server running it ({lost}); attempt {next} \
                 started.",
                task.attempt, tool.max_attempts
            ),
        };
        let message = workflow::step_message(&task, &message);
        let was = task.status;
        let claimed = self.update(task, |t| {
            // Claimed by another host, renewed, or ended since the store listed it.
            if t.lease_until.is_none_or(|until| until > now) {
                return Ok(Edit::Nothing);
            }
            let mut t = machine::working(t, &message, now)?;
            t.executor = Some(self.ctx.executor.clone());
            t.lease_until = Some(now.saturating_add(lease));
            t.attempt = next;
            t.input_requests.clear();
            Ok(Edit::Change(t))
        });
        let Ok(Updated::Written(task)) = claimed else {
            return Some(Vec::new());
        };
        let mut actions = self.changed(&task, was);
        let state = workflow::task_progress_state(&task);
        actions.push(self.run_action(&task, &tool.name, &arguments, state));
        Some(actions)
    }

    /// What follows a change of a task that was `was`: the status notification if its status
    /// changed, else only the wake-up of what waits on it.
    pub(super) fn changed(&self, task: &Task, was: Status) -> Vec<Action> {
        if task.status == was {
            vec![Action::Changed(task.id.clone())]
        } else {
            self.status_changed(task)
        }
    }
}

/// The wait before the attempt after attempt `failed`: `first`, doubled for each attempt after
/// the first.
fn backoff(first: u64, failed: u32) -> u64 {
    let doublings = failed.saturating_sub(1);
    1u64.checked_shl(doublings)
        .map_or(u64::MAX, |factor| first.saturating_mul(factor))
}

/// The last line of a failure's text, at most [`MAX_WHY`] characters.
fn brief(why: &str) -> String {
    let line = why.trim().lines().last().unwrap_or_default().trim();
    let line = if line.is_empty() {
        "the tool failed"
    } else {
        line
    };
    match line.char_indices().nth(MAX_WHY) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_and_saturates() {
        assert_eq!(backoff(1_000, 1), 1_000);
        assert_eq!(backoff(1_000, 2), 2_000);
        assert_eq!(backoff(1_000, 3), 4_000);
        assert_eq!(backoff(1_000, 80), u64::MAX);
        assert_eq!(backoff(0, 5), 0);
    }

    #[test]
    fn a_reason_is_its_last_line_cut_short() {
        assert_eq!(brief("first\nsecond\n"), "second");
        assert_eq!(brief("  "), "the tool failed");
        assert_eq!(brief(&"é".repeat(300)).chars().count(), MAX_WHY + 1);
    }
}
