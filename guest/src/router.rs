//! The MCP JSON-RPC router: every tasks method of both protocol eras, decided here, carried out
//! by the host.
//!
//! Stateless: each call reads and writes the store and returns the actions the host must take.
//! This module is the core every era shares (creating, settling, cancelling and sweeping tasks,
//! recording questions and answers); the wire of each era lives in a module of its own:
//! [`legacy`] (2025-11-25) and [`modern`] (2026-07-28 with the tasks extension).

mod admin;
mod batch;
mod dedup;
pub mod history;
mod legacy;
mod logging;
mod modern;
mod release;
mod retry;
mod run_ref;
mod run_state;
mod runs;
mod sweep;
mod update;
mod wire;
mod workflow;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::machine::{self, TransitionError};
use crate::model::{
    Action, Context, Era, InputRequest, InputState, MessageKind, Outcome, Outgoing, Report,
    RpcError, Server, Settings, Status, Store, StoreError, Task, Tool, ToolQuestion, ToolReply,
};
use crate::protocol::{self, Capabilities, Incoming, Params, Requested, code};
pub use admin::AdminError;
pub use batch::handle_batch;
use run_ref::RunRef;
use run_state::RunState;
use update::{Edit, Updated};
use wire::{
    call_answer, is_error_result, missing_capability_message, replies, reply_error, send_error,
    send_result, store_failure, tool_error_result, tool_json,
};

/// The status message of a task cancelled through `tasks/cancel`.
const CANCELLED_MESSAGE: &str = "The task was cancelled by request.";

/// The router's view of one call: where tasks live, what the server offers, who calls.
pub struct Router<'a> {
    store: &'a dyn Store,
    server: &'a dyn Server,
    ctx: &'a Context,
    /// The server's settings, read once: they never change while a host runs.
    settings: Cow<'a, Settings>,
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
                let requested = protocol::requested_era(params);
                let era = match requested {
                    Requested::Legacy => Era::Legacy,
                    _ => Era::Modern,
                };
                let mut actions = self.request(&id, &method, params, requested);
                // What the host's metrics count the answer under.
                let answers = id.to_string();
                for action in &mut actions {
                    if let Action::Send(o) = action
                        && o.kind == MessageKind::Response
                        && o.answers.as_deref() == Some(answers.as_str())
                    {
                        o.method = Some(method.to_string());
                        o.era = Some(era);
                    }
                }
                actions
            }
            Ok(Incoming::Notification { method, params }) => self.notification(&method, params),
            Ok(Incoming::Response { id, reply }) => self.legacy_response(&id, reply),
        }
    }

    /// Handle one request, in the era it asks for.
    fn request(
        &self,
        id: &Value,
        method: &str,
        params: Params<'_>,
        requested: Requested,
    ) -> Vec<Action> {
        let handled = match requested {
            Requested::Legacy => self.legacy_request(id, method, params),
            Requested::Modern(capabilities) => {
                self.modern_request(id, method, params, capabilities)
            }
            Requested::Unsupported(version) => Err(modern::unsupported_version(&version)),
            Requested::MissingCapabilities => {
                let error = RpcError::invalid_params(format!(
                    "a {} request carries {} in params._meta",
                    protocol::MODERN_PROTOCOL_VERSION,
                    protocol::META_CLIENT_CAPABILITIES
                ));
                // The version's envelope is broken: over HTTP, a 400.
                let message = protocol::error_response(id, &error);
                return vec![Action::Send(Outgoing::error(id, message, 400))];
            }
        };
        handled.unwrap_or_else(|error| vec![send_error(id, &error)])
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
            history: Vec::new(),
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
        let mut task = task;
        history::created(&mut task, self.ctx);
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
    fn take_answers(
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

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
