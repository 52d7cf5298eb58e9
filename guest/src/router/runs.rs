//! A running tool's reports back: progress, its outcome (settling its task or answering its
//! call), and its questions to the client.

use super::*;

impl Router<'_> {
    /// A running tool reported how it is getting on: its message becomes its task's status
    /// message, its progress a `notifications/progress` when one is due (see
    /// [`RunState::progress_due`]).
    pub fn tool_progress(&self, token: &str, run_state: &str, report: &Report) -> Vec<Action> {
        let Some(run) = RunRef::parse(token) else {
            return Vec::new();
        };
        let mut state = RunState::parse(run_state);
        let settings = &self.settings;
        if let RunRef::Task(task_id) = &run {
            if report.message.is_none() && report.progress.is_none() {
                return Vec::new();
            }
            let Ok(Some(task)) = self.store.get(task_id) else {
                return Vec::new();
            };
            // A task's progress ends with it, as the spec asks.
            if machine::is_terminal(task.status) {
                return Vec::new();
            }
            // A workflow's step reports as a part of the whole.
            let report = workflow::scale_report(&task, report);
            let progress = state.progress_due(&report, self.ctx.now, settings.progress_interval);
            if let Some(message) = &report.message {
                self.set_status_message(task, message);
            }
            return self.progress_sent(token, state, progress);
        }
        let progress = state.progress_due(report, self.ctx.now, settings.progress_interval);
        self.progress_sent(token, state, progress)
    }

    /// The `notifications/progress` with these params, if one is due, and the run's state that
    /// records it.
    pub(super) fn progress_sent(
        &self,
        token: &str,
        state: RunState,
        progress: Option<Value>,
    ) -> Vec<Action> {
        let Some(params) = progress else {
            return Vec::new();
        };
        vec![
            Action::Send(Outgoing::notification(protocol::notification(
                "notifications/progress",
                &params,
            ))),
            Action::UpdateRun {
                token: token.to_string(),
                state: state.encode(),
            },
        ]
    }

    /// A working task's status message becomes `message`. It never changes the status: a task
    /// waiting for input keeps saying what it waits for. No notification follows: the message
    /// reaches the client on `tasks/get`, and in `notifications/progress` when it asked for them.
    pub(super) fn set_status_message(&self, task: Task, message: &str) {
        let _ = self.update(task, |mut t| {
            if t.status != Status::Working || t.status_message.as_deref() == Some(message) {
                return Ok(Edit::Nothing);
            }
            t.status_message = Some(message.to_string());
            Ok(Edit::Change(t))
        });
    }

    /// A tool finished: answer its plain call, or complete or fail its task.
    pub fn tool_finished(
        &self,
        token: &str,
        outcome: Outcome,
        message: Option<String>,
    ) -> Vec<Action> {
        match RunRef::parse(token) {
            Some(RunRef::Request(_, id)) => vec![call_answer(&id, &outcome, Era::Legacy)],
            Some(RunRef::Call(_, id)) => vec![call_answer(&id, &outcome, Era::Modern)],
            Some(RunRef::Task(task_id)) => self.settle(&task_id, outcome, message),
            None => Vec::new(),
        }
    }

    pub(super) fn settle(
        &self,
        task_id: &str,
        outcome: Outcome,
        message: Option<String>,
    ) -> Vec<Action> {
        let Ok(Some(task)) = self.store.get(task_id) else {
            // Expired and swept, or deleted: nobody can ask for the outcome any more.
            return Vec::new();
        };
        // A workflow's step that went well is followed by the next.
        if let Some(actions) = self.step_finished(&task, &outcome) {
            return actions;
        }
        // A failed run is retried while its tool has attempts left.
        let failed_run = match &outcome {
            Outcome::Result(text) => is_error_result(text).then(|| message.clone()),
            Outcome::Error(e) => Some(Some(e.message.clone())),
        };
        if let Some(why) = &failed_run
            && !machine::is_terminal(task.status)
            && let Some(actions) = self.retry_later(task.clone(), why.as_deref().unwrap_or(""))
        {
            return actions;
        }
        // A workflow's failure says which step failed.
        let message = match failed_run {
            Some(_) => message.map(|m| workflow::step_message(&task, &m)),
            None => message,
        };
        self.conclude(task, outcome, message)
    }

    /// The task's run ended for good with `outcome`: complete or fail the task (the era decides
    /// which a tool error does); a workflow's takes its last step's result, or its failed step's.
    pub(super) fn conclude(
        &self,
        task: Task,
        outcome: Outcome,
        message: Option<String>,
    ) -> Vec<Action> {
        let (to, message) = match &outcome {
            // Only a legacy task fails on a tool error; the extension keeps `failed` for
            // JSON-RPC errors.
            Outcome::Result(text) if task.era == Era::Legacy && is_error_result(text) => {
                (Status::Failed, message)
            }
            Outcome::Result(_) => (Status::Completed, message),
            Outcome::Error(e) => (Status::Failed, message.or_else(|| Some(e.message.clone()))),
        };
        let now = self.ctx.now;
        let settled = self.update(task, |t| {
            let variables = workflow::last_step_done(&t, &outcome);
            let mut t = machine::transition(t, to, message.clone(), now)?;
            t.outcome = Some(outcome.clone());
            t.variables = variables;
            Ok(Edit::Change(t))
        });
        match settled {
            Ok(Updated::Written(task)) => self.status_changed(&task),
            // Already terminal (cancelled while the tool ran): it stays as it is, as the spec
            // requires. A store failure leaves the task to its ttl; nothing else can be done.
            _ => Vec::new(),
        }
    }

    /// A running tool asks the client questions. `run_state` is the state its `run-tool` (or
    /// `rename-run`) action gave.
    pub fn tool_input(
        &self,
        token: &str,
        run_state: &str,
        questions: &[ToolQuestion],
    ) -> Vec<Action> {
        let Some(run) = RunRef::parse(token) else {
            return vec![Action::Log(format!(
                "a question from an unknown run ({token}) was ignored"
            ))];
        };
        let refuse = |why: &str| -> Vec<Action> {
            questions
                .iter()
                .map(|q| reply_error(token, &q.key, code::INVALID_PARAMS, why))
                .collect()
        };
        if questions.is_empty() {
            return Vec::new();
        }
        let mut keys = std::collections::HashSet::new();
        let mut asked = Vec::with_capacity(questions.len());
        for q in questions {
            if protocol::capability_for(&q.method).is_none() {
                return refuse(&format!(
                    "a question's method must be elicitation/create, sampling/createMessage or \
                     roots/list, not {:?}",
                    q.method
                ));
            }
            let Ok(Value::Object(params)) = serde_json::from_str::<Value>(&q.params) else {
                return refuse("a question's params must be a JSON object");
            };
            if q.method == "elicitation/create"
                && !params.get("message").is_some_and(Value::is_string)
            {
                return refuse(
                    "an elicitation must have a \"message\" string (and a \"requestedSchema\")",
                );
            }
            if q.key.is_empty() || !keys.insert(q.key.as_str()) {
                return refuse("each question needs a key of its own");
            }
            asked.push((q, params));
        }
        match run {
            RunRef::Task(task_id) => self.ask_for_task(token, &task_id, asked),
            RunRef::Request(client, id) => {
                self.legacy_plain_ask(token, &RunRef::Request(client, id), asked)
            }
            RunRef::Call(_, id) => {
                self.modern_plain_ask(token, &id, RunState::parse(run_state), asked)
            }
        }
    }

    /// Record a task's questions: the task waits for input until every one is answered.
    pub(super) fn ask_for_task(
        &self,
        token: &str,
        task_id: &str,
        asked: Vec<(&ToolQuestion, Map<String, Value>)>,
    ) -> Vec<Action> {
        let task = match self.store.get(task_id) {
            Ok(Some(task)) => task,
            Ok(None) => return vec![Action::StopTool(token.to_string())],
            Err(e) => {
                let why = e.to_string();
                return asked
                    .iter()
                    .map(|(q, _)| reply_error(token, &q.key, code::INTERNAL_ERROR, &why))
                    .collect();
            }
        };
        let can = self.task_capabilities(&task);
        if let Some((q, _)) = asked.iter().find(|(q, _)| !can.allows(&q.method)) {
            let message = missing_capability_message(&q.method, task.era);
            let outcome = tool_error_result(&message);
            let mut actions = self.settle(task_id, outcome, Some(message));
            actions.push(Action::StopTool(token.to_string()));
            return actions;
        }
        let first = asked[0].1.get("message").and_then(Value::as_str);
        let message = match first {
            Some(m) => format!("Waiting for input: {m}"),
            None => format!("Waiting for input ({})", asked[0].0.method),
        };
        let now = self.ctx.now;
        let recorded = self.update(task, |t| {
            // The task keeps every key it has used; a key asked again is refused below.
            let reused = asked
                .iter()
                .any(|(q, _)| t.input_requests.iter().any(|r| r.key == q.key));
            if reused && !machine::is_terminal(t.status) {
                return Ok(Edit::Nothing);
            }
            let mut t = if t.status == Status::InputRequired {
                let mut t = t;
                t.status_message = Some(message.clone());
                t
            } else {
                machine::transition(t, Status::InputRequired, Some(message.clone()), now)?
            };
            for (q, params) in &asked {
                let mut params = params.clone();
                protocol::add_related_task(&mut params, &t.id);
                t.input_requests.push(InputRequest {
                    key: q.key.clone(),
                    method: q.method.clone(),
                    params: Value::Object(params).to_string(),
                    state: InputState::Open,
                    response: None,
                });
            }
            Ok(Edit::Change(t))
        });
        match recorded {
            Ok(Updated::Written(task)) => self.status_changed(&task),
            // Cancelled (or ended) meanwhile: the tool is being stopped; nothing to ask.
            Ok(Updated::Refused(TransitionError::Terminal(_))) => {
                vec![Action::StopTool(token.to_string())]
            }
            // A key asked again.
            Ok(Updated::Unchanged | Updated::Refused(TransitionError::NotAllowed(..))) => asked
                .iter()
                .map(|(q, _)| {
                    reply_error(
                        token,
                        &q.key,
                        code::INVALID_PARAMS,
                        "this task already used that question key",
                    )
                })
                .collect(),
            Err(e) => asked
                .iter()
                .map(|(q, _)| reply_error(token, &q.key, e.code, &e.message))
                .collect(),
        }
    }
}
