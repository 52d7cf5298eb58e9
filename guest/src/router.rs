//! The MCP JSON-RPC router: every tasks method of both protocol eras, decided here, carried out
//! by the host.
//!
//! Stateless: each call reads and writes the store and returns the actions the host must take.
//! This module is the core every era shares (creating, settling, cancelling and sweeping tasks,
//! recording questions and answers); the wire of each era lives in a module of its own:
//! [`legacy`] (2025-11-25) and [`modern`] (2026-07-28 with the tasks extension).

mod dedup;
mod legacy;
mod modern;
mod retry;
mod run_state;
mod update;
mod workflow;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::machine::{self, TransitionError};
use crate::model::{
    Action, Context, Era, InputRequest, InputState, Outcome, Report, RpcError, Server, Settings,
    Status, Store, StoreError, Task, Tool, ToolQuestion, ToolReply,
};
use crate::protocol::{self, Capabilities, Incoming, Params, Requested, code};
use run_state::RunState;
use update::{Edit, Updated};

/// How many tasks with lapsed leases one sweep fails at most (the rest wait for the next).
const ABANDONED_PER_SWEEP: u32 = 100;

/// The status message of a task cancelled through `tasks/cancel`.
const CANCELLED_MESSAGE: &str = "The task was cancelled by request.";

/// The ids of the server's own requests (legacy era) start with this, followed by the JSON array
/// `[run token, question key]`, so a response leads back to the run and question that asked,
/// with no state kept between calls.
const INPUT_ID_PREFIX: &str = "mcp-tasks/input/";

/// Names a tool run so the host can report back on it.
#[derive(Debug, Clone, PartialEq)]
enum RunRef {
    /// A task's run.
    Task(String),
    /// A legacy plain call's run: it answers this request id of this client.
    Request(String, Value),
    /// A modern plain call's run: it answers this request id of this client. What the client
    /// can answer is in the run's state (see [`RunState`]).
    Call(String, Value),
}

impl RunRef {
    fn token(&self) -> String {
        match self {
            RunRef::Task(id) => format!("task:{id}"),
            RunRef::Request(client, id) => format!("request:{}", json!([client, id])),
            RunRef::Call(client, id) => format!("call:{}", json!([client, id])),
        }
    }

    fn parse(token: &str) -> Option<RunRef> {
        if let Some(id) = token.strip_prefix("task:") {
            return Some(RunRef::Task(id.to_string()));
        }
        if let Some(scoped) = token.strip_prefix("request:") {
            let (client, id) = serde_json::from_str(scoped).ok()?;
            return Some(RunRef::Request(client, id));
        }
        let (client, id) = serde_json::from_str(token.strip_prefix("call:")?).ok()?;
        Some(RunRef::Call(client, id))
    }

    /// The id of the server's request for question `key` of this run (legacy era).
    fn input_id(&self, key: &str) -> String {
        format!("{INPUT_ID_PREFIX}{}", json!([self.token(), key]))
    }

    /// The run and question key that a response id answers.
    fn from_input_id(id: &str) -> Option<(RunRef, String)> {
        let (token, key): (String, String) =
            serde_json::from_str(id.strip_prefix(INPUT_ID_PREFIX)?).ok()?;
        Some((RunRef::parse(&token)?, key))
    }
}

/// The router's view of one call: where tasks live, what the server offers, who calls.
pub struct Router<'a> {
    store: &'a dyn Store,
    server: &'a dyn Server,
    ctx: &'a Context,
    /// The server's settings, read once: they never change while a host runs.
    settings: Settings,
}

type Handled = Result<Vec<Action>, RpcError>;

impl<'a> Router<'a> {
    /// A router over this store and server, for one call in this context.
    pub fn new(store: &'a dyn Store, server: &'a dyn Server, ctx: &'a Context) -> Self {
        Self {
            store,
            server,
            ctx,
            settings: server.settings(),
        }
    }

    /// Handle one incoming JSON-RPC message, in the era it asks for.
    pub fn handle(&self, message: &str) -> Vec<Action> {
        match protocol::parse(message) {
            Err((id, error)) => vec![send_error(&id, &error)],
            Ok(Incoming::Request { id, method, params }) => {
                let handled = match protocol::requested_era(params) {
                    Requested::Legacy => self.legacy_request(&id, &method, params),
                    Requested::Modern(capabilities) => {
                        self.modern_request(&id, &method, params, capabilities)
                    }
                    Requested::Unsupported(version) => Err(modern::unsupported_version(&version)),
                    Requested::MissingCapabilities => Err(RpcError::invalid_params(format!(
                        "a {} request carries {} in params._meta",
                        protocol::MODERN_PROTOCOL_VERSION,
                        protocol::META_CLIENT_CAPABILITIES
                    ))),
                };
                handled.unwrap_or_else(|error| vec![send_error(&id, &error)])
            }
            Ok(Incoming::Notification { method, params }) => self.notification(&method, params),
            Ok(Incoming::Response { id, reply }) => self.legacy_response(&id, reply),
        }
    }

    fn notification(&self, method: &str, params: Params<'_>) -> Vec<Action> {
        match method {
            // A plain call the client gave up on: stop its tool; or, in the modern era, the end
            // of a subscription. Tasks are cancelled through tasks/cancel instead, as both eras'
            // specs ask.
            "notifications/cancelled" => {
                let Some(id) = params.value().get("requestId").cloned() else {
                    return Vec::new();
                };
                vec![
                    Action::StopTool(RunRef::Request(self.ctx.client.clone(), id.clone()).token()),
                    Action::StopTool(RunRef::Call(self.ctx.client.clone(), id.clone()).token()),
                    Action::Unlisten(id.to_string()),
                ]
            }
            _ => Vec::new(),
        }
    }

    /// Every tool, as `tools/list` shows it in this era.
    fn tools_json(&self, era: Era) -> Vec<Value> {
        self.server
            .tools()
            .iter()
            .map(|t| tool_json(t, era))
            .collect()
    }

    /// The arguments of a `tools/call` and its tool, checked: the tool exists, the arguments are
    /// an object with every required member.
    fn tool_and_arguments(&self, params: &Value) -> Result<(Tool, Value), RpcError> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("tools/call: \"name\" must be a string"))?;
        let tool = self
            .server
            .find_tool(name)
            .ok_or_else(|| RpcError::invalid_params(format!("Unknown tool: {name}")))?;
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(args @ Value::Object(_)) => args.clone(),
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "tools/call: \"arguments\" must be an object",
                ));
            }
        };
        check_required_arguments(&tool, &arguments)?;
        Ok((tool, arguments))
    }

    /// Store a new task for this call, leased to this host; the task and the run to start.
    /// Answered to the client only after this returns: a `tasks/get` then finds it. For a tool
    /// with a `dedup-window`, the task an equal call created within it instead, and no run.
    fn create_task(
        &self,
        era: Era,
        tool: &Tool,
        params: &Value,
        requested_ttl: Option<u64>,
        arguments: &Value,
    ) -> Result<(Task, Vec<Action>), RpcError> {
        let id = match tool.dedup_window {
            None => None,
            Some(window) => match self.equal_call(tool, arguments, window)? {
                dedup::Equal::Found(task) => return Ok((*task, Vec::new())),
                dedup::Equal::Free(id) => Some(id),
            },
        };
        let queued = tool.queue || self.settings.queue;
        let task = match self.new_task(era, &tool.steps, params, requested_ttl, id, queued) {
            Ok(task) => task,
            // An equal call through another host took the ID a moment ago: answer with its task.
            Err(StoreError::AlreadyExists) if tool.dedup_window.is_some() => {
                let window = tool.dedup_window.unwrap_or_default();
                return match self.equal_call(tool, arguments, window)? {
                    dedup::Equal::Found(task) => Ok((*task, Vec::new())),
                    dedup::Equal::Free(_) => Err(store_failure(StoreError::AlreadyExists)),
                };
            }
            Err(e) => return Err(store_failure(e)),
        };
        if queued {
            return Ok((task, Vec::new())); // A host that claims it runs it.
        }
        let state = workflow::progress_state(era, Some(params));
        if tool.steps.is_empty() {
            let run = self.run_action(&task, &tool.name, arguments, state);
            return Ok((task, vec![run]));
        }
        // A workflow runs its first step.
        match self.next_run(&task) {
            Ok((step, arguments)) => {
                let run = self.run_action(&task, &step.name, &arguments, state);
                Ok((task, vec![run]))
            }
            Err(why) => {
                let failed = self.conclude(task.clone(), tool_error_result(&why), Some(why));
                Ok((task, failed))
            }
        }
    }

    /// Store a new `working` task for the `tools/call` with these params, with this ID (else a
    /// random one): leased to this host, or `queued` for a host that claims it (no executor,
    /// attempt 0, its lease already over so that the next sweep anywhere sees it). A workflow's
    /// (whose tool has `steps`) starts at its first step.
    fn new_task(
        &self,
        era: Era,
        steps: &[String],
        params: &Value,
        requested_ttl: Option<u64>,
        id: Option<String>,
        queued: bool,
    ) -> Result<Task, StoreError> {
        let settings = &self.settings;
        let ttl = grant_ttl(requested_ttl, settings.default_ttl, settings.max_ttl);
        let now = self.ctx.now;
        let task = Task {
            era,
            id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            owner: self.ctx.owner.clone(),
            status: Status::Working,
            status_message: None,
            created_at: now,
            last_updated_at: now,
            ttl,
            poll_interval: Some(settings.poll_interval),
            version: 1,
            request: json!({ "method": "tools/call", "params": params }).to_string(),
            outcome: None,
            input_requests: Vec::new(),
            // This host runs the tool, and says so until it stops renewing the lease.
            executor: Some(self.ctx.executor.clone()),
            lease_until: Some(now.saturating_add(settings.lease)),
            attempt: 1,
            variables: None,
        };
        let task = if steps.is_empty() {
            task
        } else {
            let workflow = workflow::Workflow::start(steps);
            Task {
                status_message: Some(format!("{} started.", workflow.label())),
                variables: Some(workflow.into_variables(None)),
                ..task
            }
        };
        let task = if queued {
            Task {
                status_message: Some("Queued: waiting for a host to run it.".into()),
                executor: None,
                lease_until: Some(now),
                attempt: 0,
                ..task
            }
        } else {
            task
        };
        self.store.create(&task)?;
        Ok(task)
    }

    /// Cancel a task: it becomes `cancelled` and its tool is stopped. The refusal (a terminal
    /// task) is the caller's to word, as the eras answer it differently.
    fn cancel(&self, task: Task) -> Result<Updated, RpcError> {
        let now = self.ctx.now;
        self.update(task, |t| {
            let t = machine::transition(t, Status::Cancelled, Some(CANCELLED_MESSAGE.into()), now)?;
            Ok(Edit::Change(t))
        })
    }

    /// What follows a cancel: stop the tool, wake what waits, tell a legacy owner.
    fn cancelled(&self, task: &Task) -> Vec<Action> {
        let mut actions = self.status_changed(task);
        actions.push(Action::StopTool(RunRef::Task(task.id.clone()).token()));
        actions
    }

    /// The client answered some of a task's questions (`inputResponses` in the modern era, one
    /// response at a time in the legacy one). Answers to keys that are not outstanding are
    /// ignored, as the extension asks. When none is left outstanding the task works again.
    /// Answers reach the tool here if this host runs it; otherwise its host's next sweep hands
    /// them over. `Ok(None)`: nothing was outstanding for these keys.
    fn answer(
        &self,
        task: Task,
        answers: &Map<String, Value>,
    ) -> Result<Option<(Task, Vec<Action>)>, RpcError> {
        let now = self.ctx.now;
        let here = self.ctx.executor.as_str();
        let mut handed = Vec::new();
        let answered = self.update(task, |mut t| {
            let mut any = false;
            let runs_here = t.executor.as_deref() == Some(here);
            for q in &mut t.input_requests {
                if let Some(answer) = answers.get(&q.key).filter(|_| q.state.is_outstanding()) {
                    q.response = Some(answer.to_string());
                    q.state = InputState::Answered;
                    any = true;
                }
            }
            if !any {
                return Ok(Edit::Nothing);
            }
            handed = if runs_here {
                hand_over(&mut t)
            } else {
                Vec::new()
            };
            if t.awaits_input() {
                Ok(Edit::Change(t))
            } else {
                Ok(Edit::Change(machine::transition(
                    t,
                    Status::Working,
                    None,
                    now,
                )?))
            }
        })?;
        let Updated::Written(task) = answered else {
            return Ok(None);
        };
        let mut actions = replies(&RunRef::Task(task.id.clone()).token(), handed);
        if task.status == Status::Working {
            actions.extend(self.status_changed(&task));
        }
        Ok(Some((task, actions)))
    }

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
    fn progress_sent(&self, token: &str, state: RunState, progress: Option<Value>) -> Vec<Action> {
        let Some(params) = progress else {
            return Vec::new();
        };
        vec![
            Action::Send(protocol::notification("notifications/progress", &params)),
            Action::UpdateRun {
                token: token.to_string(),
                state: state.encode(),
            },
        ]
    }

    /// A working task's status message becomes `message`. It never changes the status: a task
    /// waiting for input keeps saying what it waits for. No notification follows: the message
    /// reaches the client on `tasks/get`, and in `notifications/progress` when it asked for them.
    fn set_status_message(&self, task: Task, message: &str) {
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
            Some(RunRef::Request(_, id)) => vec![answer(&id, &outcome, Era::Legacy)],
            Some(RunRef::Call(_, id)) => vec![answer(&id, &outcome, Era::Modern)],
            Some(RunRef::Task(task_id)) => self.settle(&task_id, outcome, message),
            None => Vec::new(),
        }
    }

    fn settle(&self, task_id: &str, outcome: Outcome, message: Option<String>) -> Vec<Action> {
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
    fn conclude(&self, task: Task, outcome: Outcome, message: Option<String>) -> Vec<Action> {
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
    fn ask_for_task(
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

    /// What the client of a task can answer: a modern task's request declared it; a legacy
    /// task's connection declared it at `initialize`.
    fn task_capabilities(&self, task: &Task) -> Capabilities {
        match task.era {
            Era::Modern => serde_json::from_str::<Value>(&task.request)
                .ok()
                .and_then(|r| {
                    r.pointer("/params/_meta")
                        .and_then(|m| m.get(protocol::META_CLIENT_CAPABILITIES))
                        .map(capabilities_of)
                })
                .unwrap_or_default(),
            Era::Legacy => self.session_capabilities(),
        }
    }

    /// What the connection's client declared at `initialize`.
    fn session_capabilities(&self) -> Capabilities {
        serde_json::from_str::<Value>(&self.ctx.session)
            .ok()
            .and_then(|s| s.get("clientCapabilities").map(capabilities_of))
            .unwrap_or_default()
    }

    /// Housekeeping: delete expired tasks, renew this host's leases, hand answers taken by other
    /// hosts to this host's tools, stop runs whose task ended elsewhere, and fail tasks whose
    /// executor is gone.
    pub fn sweep(&self, running: &[String]) -> Vec<Action> {
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
        // Claims are bounded by what this host may run at once.
        let limit = self.settings.claim_limit as usize;
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
    fn keep_running(&self, token: &str, task_id: &str) -> Vec<Action> {
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
    fn fail_abandoned(&self, task: Task) -> Vec<Action> {
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
        let message = workflow::step_message(&task, &message);
        // A modern task fails only on a JSON-RPC error; a legacy one the way it always has.
        let outcome = match task.era {
            Era::Legacy => tool_error_result(&message),
            Era::Modern => Outcome::Error(RpcError::internal(message.clone())),
        };
        let failed = self.update(task, |t| {
            // Renewed, or ended, since the store listed it: not abandoned after all.
            if t.lease_until.is_none_or(|until| until > now) {
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

    /// What follows a change of a task's status: tell its owner, if a legacy client connected
    /// here, and wake what waits on it (waiting requests, subscriptions).
    fn status_changed(&self, task: &Task) -> Vec<Action> {
        let mut actions = Vec::new();
        // Another owner's task (failed by this host's sweep) is none of this client's business;
        // modern clients are told only through a subscription.
        if task.owner == self.ctx.owner && task.era == Era::Legacy {
            actions.push(legacy::status_notification(task));
        }
        actions.push(Action::Changed(task.id.clone()));
        actions
    }

    /// The task named by `params.taskId`, if the caller may see it: it exists, belongs to the
    /// caller, and has not expired. Anything else is -32602, worded so that another owner's
    /// task is indistinguishable from none.
    fn visible_task(&self, method: &str, params: Params<'_>) -> Result<Task, RpcError> {
        #[derive(Deserialize)]
        struct TaskIdParams<'p> {
            #[serde(rename = "taskId", borrow)]
            task_id: Cow<'p, str>,
        }
        let TaskIdParams { task_id } = params.parse(method)?;
        self.visible_task_by_id(&task_id)
    }

    fn visible_task_by_id(&self, task_id: &str) -> Result<Task, RpcError> {
        let task = self
            .store
            .get(task_id)
            .map_err(store_failure)?
            .filter(|t| t.owner == self.ctx.owner)
            .ok_or_else(|| RpcError::invalid_params("Failed to retrieve task: Task not found"))?;
        if task.is_expired(self.ctx.now) {
            return Err(RpcError::invalid_params(
                "Failed to retrieve task: Task has expired",
            ));
        }
        Ok(task)
    }
}

/// The ttl granted for a requested one: clamped to the maximum; the default (or, if none, the
/// maximum) when none is asked for.
fn grant_ttl(requested: Option<u64>, default: Option<u64>, max: Option<u64>) -> Option<u64> {
    let wanted = requested.or(default).or(max);
    match (wanted, max) {
        (Some(w), Some(m)) => Some(w.min(m)),
        (w, _) => w,
    }
}

/// -32602 when the arguments lack a property the tool's input schema lists as required.
fn check_required_arguments(tool: &Tool, arguments: &Value) -> Result<(), RpcError> {
    let Ok(schema) = serde_json::from_str::<Value>(&tool.input_schema) else {
        return Ok(());
    };
    let missing: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|key| arguments.get(key).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(RpcError::invalid_params(format!(
        "Invalid arguments for tool '{}': missing required argument(s): {}",
        tool.name,
        missing.join(", ")
    )))
}

/// The capabilities a `ClientCapabilities` object declares (none, if it is not one).
fn capabilities_of(capabilities: &Value) -> Capabilities {
    serde_json::from_str(&capabilities.to_string()).unwrap_or_default()
}

/// Mark the task's answered questions as handed to its tool; their keys and answers. The answer
/// and the params leave the store with it: only the key stays, so it is never used again.
fn hand_over(task: &mut Task) -> Vec<(String, String)> {
    let mut handed = Vec::new();
    for q in &mut task.input_requests {
        if q.state == InputState::Answered {
            q.state = InputState::Done;
            q.params.clear();
            handed.push((q.key.clone(), q.response.take().unwrap_or_default()));
        }
    }
    handed
}

/// Whether a stored `CallToolResult` says `isError: true`.
fn is_error_result(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("isError").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// A `CallToolResult` with `isError: true` and this text.
fn tool_error_result(text: &str) -> Outcome {
    Outcome::Result(
        json!({ "content": [{ "type": "text", "text": text }], "isError": true }).to_string(),
    )
}

/// Why a tool's question could not be put to this client.
fn missing_capability_message(method: &str, era: Era) -> String {
    let capability = protocol::capability_for(method).unwrap_or("elicitation");
    match era {
        Era::Legacy => format!(
            "The tool asked the client for input ({method}), but the client did not declare \
             the {capability} capability at initialize."
        ),
        Era::Modern => format!(
            "The tool asked the client for input ({method}), but the request did not declare \
             the {capability} capability."
        ),
    }
}

fn tool_json(tool: &Tool, era: Era) -> Value {
    let mut t = json!({
        "name": tool.name,
        "inputSchema": serde_json::from_str::<Value>(&tool.input_schema)
            .unwrap_or_else(|_| json!({ "type": "object" })),
    });
    // The legacy era's per-tool task support; in the modern one the server decides.
    if era == Era::Legacy {
        t["execution"] = json!({ "taskSupport": tool.support().as_wire() });
    }
    if let Some(title) = &tool.title {
        t["title"] = Value::String(title.clone());
    }
    if let Some(description) = &tool.description {
        t["description"] = Value::String(description.clone());
    }
    if let Some(schema) = tool
        .output_schema
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
    {
        t["outputSchema"] = schema;
    }
    t
}

/// The answer to a plain call: the tool's result (modern: with `resultType`), or its error.
fn answer(id: &Value, outcome: &Outcome, era: Era) -> Action {
    match outcome {
        Outcome::Result(text) => match serde_json::from_str::<Value>(text) {
            Ok(mut result) => {
                if era == Era::Modern
                    && let Some(obj) = result.as_object_mut()
                {
                    obj.insert("resultType".into(), json!("complete"));
                }
                send_result(id, result)
            }
            Err(e) => send_error(
                id,
                &RpcError::internal(format!("tool result is not JSON: {e}")),
            ),
        },
        Outcome::Error(e) => send_error(id, e),
    }
}

fn store_failure(e: StoreError) -> RpcError {
    RpcError::internal(format!("Internal error: {e}"))
}

fn send_result(id: &Value, result: impl Serialize) -> Action {
    Action::Send(protocol::response(id, &result))
}

fn send_error(id: &Value, error: &RpcError) -> Action {
    Action::Send(protocol::error_response(id, error))
}

/// Hand these answers (key, response) to the run `token`.
fn replies(token: &str, handed: Vec<(String, String)>) -> Vec<Action> {
    handed
        .into_iter()
        .map(|(key, response)| {
            Action::ReplyTool(ToolReply {
                token: token.to_string(),
                key,
                response,
            })
        })
        .collect()
}

/// An error for the tool that asked a question, in place of the client's answer.
fn reply_error(token: &str, key: &str, code: i32, message: &str) -> Action {
    Action::ReplyTool(ToolReply {
        token: token.to_string(),
        key: key.to_string(),
        response: json!({ "error": { "code": code, "message": message } }).to_string(),
    })
}

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
