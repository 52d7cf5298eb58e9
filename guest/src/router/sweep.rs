//! The host's periodic sweep: expiry, this host's leases and runs, and tasks whose host is gone.

use super::*;

/// How many tasks with lapsed leases one sweep fails at most (the rest wait for the next).
const ABANDONED_PER_SWEEP: u32 = 100;

impl Router<'_> {
    /// Housekeeping: delete expired tasks, renew this host's leases, hand answers taken by other
    /// hosts to this host's tools, stop runs whose task ended elsewhere, fail tasks whose
    /// executor is gone with no attempt left, and (`claim`) claim tasks waiting for a host.
    pub fn sweep(&self, running: &[String], claim: bool) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Ok(expired) = self.store.expire(self.ctx.now) {
            for id in expired {
                actions.push(Action::StopTool(RunRef::Task(id.clone()).token()));
                actions.push(Action::Changed(id));
            }
        }
        for token in running {
            if let Some(RunRef::Task(id)) = RunRef::parse(token) {
                actions.extend(self.keep_running(token, &id));
            }
        }
        // Claims are bounded by what this host may run at once; a draining host makes none.
        let limit = if claim {
            self.settings.claim_limit as usize
        } else {
            0
        };
        let mut room = limit.saturating_sub(running.len());
        if let Ok(abandoned) = self.store.abandoned(self.ctx.now, ABANDONED_PER_SWEEP) {
            for id in abandoned {
                // Runs here: its lease was renewed above, or will be on the next sweep.
                if running.contains(&RunRef::Task(id.clone()).token()) {
                    continue;
                }
                let Ok(Some(task)) = self.store.get(&id) else {
                    continue;
                };
                // Its next run (queued, after a failure, or after a host died), else its end.
                if !self.has_attempts_left(&task) {
                    actions.extend(self.fail_abandoned(task));
                    continue;
                }
                if room == 0 {
                    continue; // Another host claims it.
                }
                let started = self.retry_now(task).unwrap_or_default();
                if started.iter().any(|a| matches!(a, Action::RunTool(_))) {
                    room -= 1;
                }
                actions.extend(started);
            }
        }
        actions
    }

    /// A run this host has going: hand it answers another host took, renew its lease when half
    /// of it is used up, or stop it if its task is terminal (cancelled through another host,
    /// say) or gone.
    pub(super) fn keep_running(&self, token: &str, task_id: &str) -> Vec<Action> {
        let stop = || {
            vec![
                Action::StopTool(token.to_string()),
                Action::Changed(task_id.to_string()),
            ]
        };
        let task = match self.store.get(task_id) {
            Ok(Some(task)) => task,
            Ok(None) => return stop(),
            // The store is down: keep the tool running and try again on the next sweep.
            Err(_) => return Vec::new(),
        };
        if machine::is_terminal(task.status) {
            return stop();
        }
        let now = self.ctx.now;
        let lease = self.settings.lease;
        let mine = task.executor.as_deref() == Some(self.ctx.executor.as_str());
        let fresh = mine
            && task
                .lease_until
                .is_some_and(|until| until.saturating_sub(now) > lease / 2);
        let has_answers = task
            .input_requests
            .iter()
            .any(|q| q.state == InputState::Answered);
        if fresh && !has_answers {
            return Vec::new();
        }
        let mut handed = Vec::new();
        let renewed = self.update(task, |mut t| {
            if machine::is_terminal(t.status) {
                return Err(TransitionError::Terminal(t.status));
            }
            t.executor = Some(self.ctx.executor.clone());
            t.lease_until = Some(now.saturating_add(lease));
            handed = hand_over(&mut t);
            Ok(Edit::Bookkeeping(t))
        });
        match renewed {
            // Handed over exactly once: the compare-and-swap marked them done.
            Ok(Updated::Written(_)) => replies(token, handed),
            Ok(Updated::Refused(TransitionError::Terminal(_))) => stop(),
            _ => Vec::new(),
        }
    }

    /// Fail a task whose executor stopped renewing its lease (that host died mid-run), or whose
    /// next attempt cannot start (its tool is not offered here, or has no attempts left).
    pub(super) fn fail_abandoned(&self, task: Task) -> Vec<Action> {
        let now = self.ctx.now;
        let message = match &task.executor {
            Some(executor) => format!(
                "The server running this task ({executor}) stopped: its lease expired at {} \
                 without renewal.",
                task.lease_until.map(protocol::iso8601).unwrap_or_default()
            ),
            // Queued, and never run.
            None if task.attempt == 0 => {
                "The task was queued, but no server here can run its tool.".to_string()
            }
            None => format!(
                "Attempt {} failed, and no server here can run the next one.",
                task.attempt
            ),
        };
        // Renewed, or ended, since the store listed it: not abandoned after all.
        let abandoned = |t: &Task| t.lease_until.is_some_and(|until| until <= now);
        self.fail_run(task, &message, code::INTERNAL_ERROR, abandoned)
    }

    /// Fail `task`, whose run its host lost, saying `why` (a workflow's says which step): a
    /// legacy task with a tool error result, a modern one with the JSON-RPC error `code` — unless
    /// `still`, asked of the stored task, finds it is no longer this host's to fail.
    pub(super) fn fail_run(
        &self,
        task: Task,
        why: &str,
        code: i32,
        still: impl Fn(&Task) -> bool,
    ) -> Vec<Action> {
        let now = self.ctx.now;
        let message = workflow::step_message(&task, why);
        // A modern task fails only on a JSON-RPC error; a legacy one the way it always has.
        let outcome = match task.era {
            Era::Legacy => tool_error_result(&message),
            Era::Modern => Outcome::Error(RpcError::new(code, message.clone())),
        };
        let failed = self.update(task, |t| {
            if !still(&t) {
                return Ok(Edit::Nothing);
            }
            let mut t = machine::transition(t, Status::Failed, Some(message.clone()), now)?;
            t.outcome = Some(outcome.clone());
            Ok(Edit::Change(t))
        });
        match failed {
            Ok(Updated::Written(task)) => self.status_changed(&task),
            _ => Vec::new(),
        }
    }
}
