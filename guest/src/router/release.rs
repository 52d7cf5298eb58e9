//! What a host that is shutting down stops: a run — a plain call is answered with an error that
//! says so; a task goes back to wait for another host without spending an attempt, or, when no
//! host will ever see it again, fails saying why — and a request still waiting, answered now.

use super::*;

/// What a plain call stopped at shutdown is answered with.
const STOPPED_CALL: &str = "The server is stopping: the tool was stopped before it finished";

impl Router<'_> {
    /// The host stops the run `token` before its tool finished, because it is shutting down:
    /// answer its call, or hand its task back (`hand_back`) or fail it.
    pub fn tool_released(&self, token: &str, hand_back: bool) -> Vec<Action> {
        let stopped = || Outcome::Error(RpcError::new(code::SERVER_STOPPING, STOPPED_CALL));
        match RunRef::parse(token) {
            Some(RunRef::Request(_, id)) => vec![call_answer(&id, &stopped(), Era::Legacy)],
            Some(RunRef::Call(_, id)) => vec![call_answer(&id, &stopped(), Era::Modern)],
            Some(RunRef::Task(task_id)) => {
                let Ok(Some(task)) = self.store.get(&task_id) else {
                    return Vec::new(); // Gone: nothing is left to hand back.
                };
                if hand_back {
                    self.hand_back(task)
                } else {
                    self.fail_stopped(task)
                }
            }
            None => Vec::new(),
        }
    }

    /// The host stops while `message` waits (a `wait` action held it): its answer now. A
    /// `tasks/result` whose task has ended gets that end; one whose task goes on gets the
    /// stopping error, with the task as `tasks/get` shows it in `data.task`, so the client
    /// knows where it stands and asks again of a server that shares the store.
    pub fn request_stopped(&self, message: &str) -> Vec<Action> {
        let Ok(Incoming::Request { id, method, params }) = protocol::parse(message) else {
            return Vec::new(); // Only requests wait.
        };
        let stopping = "The server is stopping before this request could be answered; ask again \
                        of a server that shares its store";
        let data = match self.visible_task(&method, params) {
            Ok(task) if machine::is_terminal(task.status) => return self.handle(message),
            Ok(task) if method == "tasks/result" => {
                Some(json!({ "task": protocol::task_json(&task) }).to_string())
            }
            _ => None,
        };
        let error = RpcError {
            code: code::SERVER_STOPPING,
            message: stopping.into(),
            data,
        };
        vec![send_error(&id, &error)]
    }

    /// The run of `task` stopped with this host: the task waits for the next host to claim it,
    /// which runs the same attempt again.
    fn hand_back(&self, task: Task) -> Vec<Action> {
        let now = self.ctx.now;
        let executor = self.ctx.executor.clone();
        let message = workflow::step_message(
            &task,
            &format!(
                "The server running attempt {} ({executor}) stopped before it finished; the \
                 attempt starts again on the next server to claim the task.",
                task.attempt
            ),
        );
        let was = task.status;
        let handed = self.update(task, |t| {
            // Ended, or taken over by another host, since: it is not this host's to give.
            if machine::is_terminal(t.status) || t.executor.as_deref() != Some(executor.as_str()) {
                return Ok(Edit::Nothing);
            }
            let mut t = machine::working(t, &message, now)?;
            t.executor = None;
            // Lapsed now, so any host's next sweep claims it; the claim adds the attempt back.
            t.lease_until = Some(now);
            t.attempt = t.attempt.saturating_sub(1);
            // The stopped run's questions are moot: the attempt asks afresh.
            t.input_requests.clear();
            Ok(Edit::Change(t))
        });
        match handed {
            Ok(Updated::Written(task)) => self.changed(&task, was),
            _ => Vec::new(),
        }
    }

    /// The run of `task` stopped with this host and no host will see the task again: it fails,
    /// saying why.
    fn fail_stopped(&self, task: Task) -> Vec<Action> {
        let executor = self.ctx.executor.clone();
        let why =
            format!("The server running this task ({executor}) stopped before its tool finished.");
        let mine = |t: &Task| {
            !machine::is_terminal(t.status) && t.executor.as_deref() == Some(executor.as_str())
        };
        self.fail_run(task, &why, code::SERVER_STOPPING, mine)
    }
}
