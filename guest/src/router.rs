//! The MCP JSON-RPC router: every tasks method, decided here, carried out by the host.
//!
//! Stateless: each call reads and writes the store and returns the actions the host must take.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::machine::{self, TransitionError};
use crate::model::{
    Action, Context, InputRequest, Outcome, RpcError, Run, Server, Status, Store, StoreError, Task,
    TaskSupport, Tool, ToolReply, Wait,
};
use crate::protocol::{self, Incoming, Params, code};

/// How often a compare-and-swap is retried before the router gives up with -32603. Conflicts
/// come only from concurrent writers of the same task, so a handful of rounds always suffices
/// in practice; the bound keeps a misbehaving store from looping forever.
const CAS_ROUNDS: usize = 16;

/// How many tasks with lapsed leases one sweep fails at most (the rest wait for the next).
const ABANDONED_PER_SWEEP: u32 = 100;

/// The status message of a task cancelled through `tasks/cancel`.
const CANCELLED_MESSAGE: &str = "The task was cancelled by request.";

/// The status message of a task whose tool failed because the client cannot answer questions.
const NO_ELICITATION_MESSAGE: &str = "The tool asked the client for input, but the client did \
     not declare the elicitation capability at initialize.";

/// The ids of the server's own requests start with this: `mcp-tasks/input/<n>/<run token>`,
/// so a response leads back to the run that asked, with no state kept between calls.
const INPUT_ID_PREFIX: &str = "mcp-tasks/input/";

/// Names a tool run so the host can report back on it: a task's run, or a plain call's.
#[derive(Debug, Clone, PartialEq)]
enum RunRef {
    Task(String),
    Request(Value),
}

impl RunRef {
    fn token(&self) -> String {
        match self {
            RunRef::Task(id) => format!("task:{id}"),
            RunRef::Request(id) => format!("request:{id}"),
        }
    }

    fn parse(token: &str) -> Option<RunRef> {
        if let Some(id) = token.strip_prefix("task:") {
            return Some(RunRef::Task(id.to_string()));
        }
        let id = token.strip_prefix("request:")?;
        serde_json::from_str(id).ok().map(RunRef::Request)
    }

    /// The id of the server's `n`th question for this run (`n` tells apart the questions of
    /// one run, so a late answer to an earlier one is not taken for the current one).
    fn input_id(&self, n: u64) -> String {
        format!("{INPUT_ID_PREFIX}{n}/{}", self.token())
    }

    /// The run whose question this response id answers.
    fn from_input_id(id: &str) -> Option<RunRef> {
        let (_, token) = id.strip_prefix(INPUT_ID_PREFIX)?.split_once('/')?;
        RunRef::parse(token)
    }
}

/// The router's view of one call: where tasks live, what the server offers, who calls.
pub struct Router<'a> {
    store: &'a dyn Store,
    server: &'a dyn Server,
    ctx: &'a Context,
}

type Handled = Result<Vec<Action>, RpcError>;

impl<'a> Router<'a> {
    /// A router over this store and server, for one call in this context.
    pub fn new(store: &'a dyn Store, server: &'a dyn Server, ctx: &'a Context) -> Self {
        Self { store, server, ctx }
    }

    /// Handle one incoming JSON-RPC message.
    pub fn handle(&self, message: &str) -> Vec<Action> {
        match protocol::parse(message) {
            Err((id, error)) => vec![send_error(&id, &error)],
            Ok(Incoming::Request { id, method, params }) => self
                .request(&id, &method, params)
                .unwrap_or_else(|error| vec![send_error(&id, &error)]),
            Ok(Incoming::Notification { method, params }) => self.notification(&method, params),
            Ok(Incoming::Response { id, reply }) => self.response(&id, reply),
        }
    }

    fn request(&self, id: &Value, method: &str, params: Params<'_>) -> Handled {
        match method {
            "initialize" => self.initialize(id, &params.value()),
            "ping" => Ok(vec![send_result(id, Map::new())]),
            "tools/list" => self.tools_list(id),
            "tools/call" => self.tools_call(id, &params.value()),
            "tasks/get" => {
                let task = self.visible_task(method, params)?;
                Ok(vec![send_result(id, protocol::task_json(&task))])
            }
            "tasks/list" => self.tasks_list(id, params),
            "tasks/result" => self.tasks_result(id, params),
            "tasks/cancel" => self.tasks_cancel(id, params),
            _ => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
        }
    }

    fn notification(&self, method: &str, params: Params<'_>) -> Vec<Action> {
        match method {
            // A plain (not task-augmented) call the client gave up on: stop its tool. Tasks are
            // cancelled through tasks/cancel instead, as the spec asks.
            "notifications/cancelled" => params
                .value()
                .get("requestId")
                .map(|id| vec![Action::StopTool(RunRef::Request(id.clone()).token())])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn initialize(&self, id: &Value, params: &Value) -> Handled {
        let requested = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::invalid_params("initialize: \"protocolVersion\" is required")
            })?;
        let version = protocol::SUPPORTED_PROTOCOL_VERSIONS
            .iter()
            .find(|v| **v == requested)
            .copied()
            .unwrap_or(protocol::LATEST_PROTOCOL_VERSION);
        let settings = self.server.settings();
        let mut result = json!({
            "protocolVersion": version,
            "capabilities": {
                "tools": { "listChanged": false },
                "tasks": {
                    "list": {},
                    "cancel": {},
                    "requests": { "tools": { "call": {} } }
                }
            },
            "serverInfo": { "name": settings.name, "version": settings.version },
        });
        if let Some(instructions) = settings.instructions {
            result["instructions"] = Value::String(instructions);
        }
        let session = json!({
            "protocolVersion": version,
            "clientCapabilities": params.get("capabilities").cloned().unwrap_or(Value::Null),
        });
        Ok(vec![
            Action::SetSession(session.to_string()),
            send_result(id, result),
        ])
    }

    fn tools_list(&self, id: &Value) -> Handled {
        let tools: Vec<Value> = self.server.tools().iter().map(tool_json).collect();
        Ok(vec![send_result(id, json!({ "tools": tools }))])
    }

    fn tools_call(&self, id: &Value, params: &Value) -> Handled {
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
        let task = params.get("task");
        match (task, tool.task_support) {
            (Some(_), TaskSupport::Forbidden) => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("Tool '{name}' does not support task-augmented calls"),
            )),
            (None, TaskSupport::Required) => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("Tool '{name}' must be called as a task (add \"task\" to the params)"),
            )),
            (Some(task), _) => self.create_task(id, name, params, task, arguments),
            (None, _) => Ok(vec![Action::RunTool(Run {
                token: RunRef::Request(id.clone()).token(),
                task_id: None,
                tool: name.to_string(),
                arguments: arguments.to_string(),
            })]),
        }
    }

    fn create_task(
        &self,
        id: &Value,
        tool: &str,
        params: &Value,
        task_params: &Value,
        arguments: Value,
    ) -> Handled {
        if !task_params.is_object() {
            return Err(RpcError::invalid_params(
                "tools/call: \"task\" must be an object",
            ));
        }
        let requested_ttl = match task_params.get("ttl") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                RpcError::invalid_params("tools/call: \"task.ttl\" must be a non-negative integer")
            })?),
        };
        let settings = self.server.settings();
        let ttl = grant_ttl(requested_ttl, settings.default_ttl, settings.max_ttl);
        let now = self.ctx.now;
        let task = Task {
            id: uuid::Uuid::new_v4().to_string(),
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
            input_request: None,
            // This host runs the tool, and says so until it stops renewing the lease.
            executor: Some(self.ctx.executor.clone()),
            lease_until: Some(now.saturating_add(settings.lease)),
        };
        self.store.create(&task).map_err(store_failure)?;
        Ok(vec![
            send_result(id, json!({ "task": protocol::task_json(&task) })),
            Action::RunTool(Run {
                token: RunRef::Task(task.id.clone()).token(),
                task_id: Some(task.id),
                tool: tool.to_string(),
                arguments: arguments.to_string(),
            }),
        ])
    }

    fn tasks_list(&self, id: &Value, params: Params<'_>) -> Handled {
        #[derive(Deserialize)]
        struct ListParams {
            cursor: Option<String>,
        }
        let ListParams { cursor } = params.parse("tasks/list")?;
        let cursor = cursor.as_deref();
        let page_size = self.server.settings().page_size.max(1);
        let page = self
            .store
            .list(&self.ctx.owner, None, cursor, page_size)
            .map_err(|e| match e {
                StoreError::InvalidCursor => RpcError::invalid_params("tasks/list: invalid cursor"),
                other => store_failure(other),
            })?;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ListResult<'t> {
            tasks: Vec<protocol::WireTask<'t>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_cursor: Option<String>,
        }
        let tasks = page
            .tasks
            .iter()
            .filter(|t| !t.is_expired(self.ctx.now))
            .map(protocol::task_json)
            .collect();
        Ok(vec![send_result(
            id,
            ListResult {
                tasks,
                next_cursor: page.next_cursor,
            },
        )])
    }

    fn tasks_result(&self, id: &Value, params: Params<'_>) -> Handled {
        let task = self.visible_task("tasks/result", params)?;
        if !machine::is_terminal(task.status) {
            let recheck_after = task.poll_interval.unwrap_or(1_000);
            let task_id = task.id.clone();
            let mut actions = self.deliver_question(task)?;
            actions.push(Action::Wait(Wait {
                task_id,
                recheck_after,
            }));
            return Ok(actions);
        }
        match task.outcome {
            Some(Outcome::Result(text)) => {
                let mut result: Value = serde_json::from_str(&text).map_err(|e| {
                    RpcError::internal(format!(
                        "stored result of task {} is not JSON: {e}",
                        task.id
                    ))
                })?;
                let Some(obj) = result.as_object_mut() else {
                    return Err(RpcError::internal(format!(
                        "stored result of task {} is not a JSON object",
                        task.id
                    )));
                };
                protocol::add_related_task(obj, &task.id);
                Ok(vec![send_result(id, result)])
            }
            Some(Outcome::Error(error)) => Ok(vec![send_error(id, &error)]),
            None if task.status == Status::Cancelled => Ok(vec![send_error(
                id,
                &RpcError {
                    code: code::REQUEST_CANCELLED,
                    message: format!(
                        "Task was cancelled: {}",
                        task.status_message.as_deref().unwrap_or(CANCELLED_MESSAGE)
                    ),
                    data: Some(json!({ "taskId": task.id, "status": "cancelled" }).to_string()),
                },
            )]),
            None => Err(RpcError::internal(format!(
                "task {} is {} but has no stored outcome",
                task.id,
                task.status.as_wire()
            ))),
        }
    }

    fn tasks_cancel(&self, id: &Value, params: Params<'_>) -> Handled {
        let task = self.visible_task("tasks/cancel", params)?;
        let now = self.ctx.now;
        let cancelled = self.update(task, |t| {
            machine::transition(t, Status::Cancelled, Some(CANCELLED_MESSAGE.into()), now)
        })?;
        let cancelled = cancelled.map_err(|e| match e {
            TransitionError::Terminal(s) => RpcError::invalid_params(format!(
                "Cannot cancel task: already in terminal status '{}'",
                s.as_wire()
            )),
            other => RpcError::invalid_params(format!("Cannot cancel task: {other}")),
        })?;
        let wire = protocol::task_json(&cancelled);
        Ok(vec![
            send_result(id, &wire),
            status_notification(&wire),
            Action::StopTool(RunRef::Task(cancelled.id.clone()).token()),
            Action::Changed(cancelled.id),
        ])
    }

    /// The task's question, sent once: marked delivered in the store first, so that of several
    /// `tasks/result` requests (on this host or another) exactly one sends it.
    fn deliver_question(&self, task: Task) -> Handled {
        if task.input_request.as_ref().is_none_or(|q| q.delivered) {
            return Ok(Vec::new());
        }
        let now = self.ctx.now;
        let marked = self.update(task, |mut t| match &mut t.input_request {
            Some(q) if !q.delivered => {
                q.delivered = true;
                t.last_updated_at = now;
                t.version += 1;
                Ok(t)
            }
            // Answered, retired or sent by another request meanwhile.
            _ => Err(TransitionError::NotAllowed(t.status, t.status)),
        })?;
        let Ok(task) = marked else {
            return Ok(Vec::new());
        };
        let Some(question) = &task.input_request else {
            return Ok(Vec::new());
        };
        let params: &RawValue = serde_json::from_str(&question.params).map_err(|e| {
            RpcError::internal(format!(
                "stored question of task {} is not JSON: {e}",
                task.id
            ))
        })?;
        Ok(vec![Action::Send(protocol::request(
            &question.id,
            "elicitation/create",
            params,
        ))])
    }

    /// The client answered a request of the server's: hand the answer to the tool that asked.
    /// An answer nobody waits for is logged and dropped, never an error to the client.
    fn response(&self, id: &Value, reply: Result<&RawValue, &RawValue>) -> Vec<Action> {
        let dropped = |why: &str| vec![Action::Log(format!("dropped a response to {id}: {why}"))];
        let Some((id_text, run)) = id
            .as_str()
            .and_then(|text| Some((text, RunRef::from_input_id(text)?)))
        else {
            return dropped("the server sent no request with that id");
        };
        let response = match reply {
            Ok(result) => result.get().to_string(),
            Err(error) => format!("{{\"error\":{}}}", error.get()),
        };
        let task_id = match run {
            RunRef::Task(task_id) => task_id,
            // A plain call's question is in no store: the host knows whether its run still waits.
            request @ RunRef::Request(_) => {
                return vec![Action::ReplyTool(ToolReply {
                    token: request.token(),
                    response,
                })];
            }
        };
        let task = match self.store.get(&task_id) {
            Ok(Some(task)) if task.owner == self.ctx.owner => task,
            Ok(_) => return dropped("its task does not exist"),
            Err(e) => return dropped(&e.to_string()),
        };
        let now = self.ctx.now;
        let answered = self.update(task, |t| {
            if t.input_request.as_ref().map(|q| q.id.as_str()) != Some(id_text) {
                return Err(TransitionError::NotAllowed(t.status, Status::Working));
            }
            machine::transition(t, Status::Working, None, now)
        });
        match answered {
            Ok(Ok(task)) => vec![
                Action::ReplyTool(ToolReply {
                    token: RunRef::Task(task.id.clone()).token(),
                    response,
                }),
                status_notification(&protocol::task_json(&task)),
            ],
            Ok(Err(_)) => dropped("its task no longer waits for it (answered, cancelled or ended)"),
            Err(e) => dropped(&e.message),
        }
    }

    /// A running tool asks the client a question (the params of `elicitation/create`).
    pub fn tool_input(&self, token: &str, request: &str) -> Vec<Action> {
        let Some(run) = RunRef::parse(token) else {
            return vec![Action::Log(format!(
                "a question from an unknown run ({token}) was ignored"
            ))];
        };
        let mut question = match serde_json::from_str::<Value>(request) {
            Ok(Value::Object(q)) if q.get("message").is_some_and(Value::is_string) => q,
            _ => {
                return vec![reply_error(
                    token,
                    code::INVALID_PARAMS,
                    "a question must be a JSON object with a \"message\" string (and a \
                     \"requestedSchema\")",
                )];
            }
        };
        if !self.client_can_elicit() {
            let outcome = Outcome::Result(
                json!({
                    "content": [{ "type": "text", "text": NO_ELICITATION_MESSAGE }],
                    "isError": true,
                })
                .to_string(),
            );
            let mut actions = match &run {
                RunRef::Request(id) => vec![answer(id, &outcome)],
                RunRef::Task(id) => self.settle(id, outcome, Some(NO_ELICITATION_MESSAGE.into())),
            };
            actions.push(Action::StopTool(token.to_string()));
            return actions;
        }
        let task_id = match run {
            RunRef::Task(task_id) => task_id,
            // A plain call: the client waits on that very call, so the question goes at once.
            request @ RunRef::Request(_) => {
                let params = Value::Object(question).to_string();
                let params: &RawValue =
                    serde_json::from_str(&params).expect("a serialized value parses");
                return vec![Action::Send(protocol::request(
                    &request.input_id(self.ctx.now),
                    "elicitation/create",
                    params,
                ))];
            }
        };
        protocol::add_related_task(&mut question, &task_id);
        let message = format!(
            "Waiting for input: {}",
            question["message"].as_str().unwrap_or_default()
        );
        let params = Value::Object(question).to_string();
        let task = match self.store.get(&task_id) {
            Ok(Some(task)) => task,
            Ok(None) => return vec![reply_error(token, code::INVALID_PARAMS, "the task is gone")],
            Err(e) => return vec![reply_error(token, code::INTERNAL_ERROR, &e.to_string())],
        };
        let now = self.ctx.now;
        let asked = self.update(task, |t| {
            let mut t = machine::transition(t, Status::InputRequired, Some(message.clone()), now)?;
            t.input_request = Some(InputRequest {
                id: RunRef::Task(t.id.clone()).input_id(t.version),
                params: params.clone(),
                delivered: false,
            });
            Ok(t)
        });
        match asked {
            Ok(Ok(task)) => vec![
                status_notification(&protocol::task_json(&task)),
                // A tasks/result already waiting delivers the question now.
                Action::Changed(task.id),
            ],
            // Cancelled (or ended) meanwhile: the tool is being stopped; nothing to ask.
            Ok(Err(TransitionError::Terminal(_))) => vec![Action::StopTool(token.to_string())],
            Ok(Err(TransitionError::NotAllowed(..))) => vec![reply_error(
                token,
                code::INVALID_REQUEST,
                "the task already waits for the answer to another question",
            )],
            Err(e) => vec![reply_error(token, e.code, &e.message)],
        }
    }

    /// Whether the client declared the elicitation capability at initialize.
    fn client_can_elicit(&self) -> bool {
        serde_json::from_str::<Value>(&self.ctx.session)
            .ok()
            .and_then(|s| s.pointer("/clientCapabilities/elicitation").cloned())
            .is_some_and(|e| e.is_object())
    }

    /// A running tool reported progress: it becomes the status message of its task.
    pub fn tool_progress(&self, token: &str, message: &str) -> Vec<Action> {
        let Some(RunRef::Task(task_id)) = RunRef::parse(token) else {
            return Vec::new();
        };
        let now = self.ctx.now;
        let Ok(Some(task)) = self.store.get(&task_id) else {
            return Vec::new();
        };
        // Progress never changes the status; terminal tasks keep their final message, and a task
        // waiting for input keeps saying what it waits for.
        let _ = self.update(task, |mut t| {
            if t.status != Status::Working || t.status_message.as_deref() == Some(message) {
                return Err(TransitionError::Terminal(t.status));
            }
            t.status_message = Some(message.to_string());
            t.last_updated_at = now;
            t.version += 1;
            Ok(t)
        });
        Vec::new()
    }

    /// A tool finished: answer its plain call, or complete or fail its task.
    pub fn tool_finished(
        &self,
        token: &str,
        outcome: Outcome,
        message: Option<String>,
    ) -> Vec<Action> {
        match RunRef::parse(token) {
            Some(RunRef::Request(id)) => vec![answer(&id, &outcome)],
            Some(RunRef::Task(task_id)) => self.settle(&task_id, outcome, message),
            None => Vec::new(),
        }
    }

    fn settle(&self, task_id: &str, outcome: Outcome, message: Option<String>) -> Vec<Action> {
        let (to, message) = match &outcome {
            Outcome::Result(text) if is_error_result(text) => (Status::Failed, message),
            Outcome::Result(_) => (Status::Completed, message),
            Outcome::Error(e) => (Status::Failed, message.or_else(|| Some(e.message.clone()))),
        };
        let Ok(Some(task)) = self.store.get(task_id) else {
            // Expired and swept, or deleted: nobody can ask for the outcome any more.
            return Vec::new();
        };
        let now = self.ctx.now;
        let settled = self.update(task, |t| {
            let mut t = machine::transition(t, to, message.clone(), now)?;
            t.outcome = Some(outcome.clone());
            Ok(t)
        });
        match settled {
            Ok(Ok(task)) => self.settled(&task),
            // Already terminal (cancelled while the tool ran): it stays as it is, as the spec
            // requires. A store failure leaves the task to its ttl; nothing else can be done.
            _ => Vec::new(),
        }
    }

    /// Housekeeping: delete expired tasks, renew this host's leases, stop runs whose task ended
    /// elsewhere, and fail tasks whose executor is gone.
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
        if let Ok(abandoned) = self.store.abandoned(self.ctx.now, ABANDONED_PER_SWEEP) {
            for id in abandoned {
                actions.extend(self.fail_abandoned(&id));
            }
        }
        actions
    }

    /// A run this host has going: renew its lease when half of it is used up, or stop it if its
    /// task is terminal (cancelled through another host, say) or gone.
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
        let lease = self.server.settings().lease;
        let fresh = |t: &Task| {
            t.executor.as_deref() == Some(self.ctx.executor.as_str())
                && t.lease_until
                    .is_some_and(|until| until.saturating_sub(now) > lease / 2)
        };
        if fresh(&task) {
            return Vec::new();
        }
        let renewed = self.update(task, |mut t| {
            if machine::is_terminal(t.status) {
                return Err(TransitionError::Terminal(t.status));
            }
            t.executor = Some(self.ctx.executor.clone());
            t.lease_until = Some(now.saturating_add(lease));
            t.version += 1;
            Ok(t)
        });
        match renewed {
            Ok(Err(TransitionError::Terminal(_))) => stop(),
            _ => Vec::new(),
        }
    }

    /// Fail a task whose executor stopped renewing its lease: that host died mid-run.
    fn fail_abandoned(&self, task_id: &str) -> Vec<Action> {
        let Ok(Some(task)) = self.store.get(task_id) else {
            return Vec::new();
        };
        let now = self.ctx.now;
        let message = format!(
            "The server running this task ({}) stopped: its lease expired at {} without renewal.",
            task.executor.as_deref().unwrap_or("unknown"),
            task.lease_until.map(protocol::iso8601).unwrap_or_default()
        );
        let outcome = Outcome::Result(
            json!({ "content": [{ "type": "text", "text": message }], "isError": true })
                .to_string(),
        );
        let failed = self.update(task, |t| {
            // Renewed, or ended, since the store listed it: not abandoned after all.
            if t.lease_until.is_none_or(|until| until > now) {
                return Err(TransitionError::NotAllowed(t.status, Status::Failed));
            }
            let mut t = machine::transition(t, Status::Failed, Some(message.clone()), now)?;
            t.outcome = Some(outcome.clone());
            Ok(t)
        });
        match failed {
            Ok(Ok(task)) => self.settled(&task),
            _ => Vec::new(),
        }
    }

    /// What follows a task reaching a terminal status: tell its owner, if connected here, and
    /// wake what waits on it.
    fn settled(&self, task: &Task) -> Vec<Action> {
        let mut actions = Vec::new();
        // Another owner's task (failed by this host's sweep) is none of this client's business.
        if task.owner == self.ctx.owner {
            actions.push(status_notification(&protocol::task_json(task)));
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
        let task = self
            .store
            .get(&task_id)
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

    /// Apply `change` to `task` and store it with compare-and-swap, re-reading and re-applying
    /// on conflict. The outer error is the store's; the inner is `change`'s refusal.
    fn update(
        &self,
        mut task: Task,
        mut change: impl FnMut(Task) -> Result<Task, TransitionError>,
    ) -> Result<Result<Task, TransitionError>, RpcError> {
        for _ in 0..CAS_ROUNDS {
            let expected = task.version;
            let changed = match change(task) {
                Ok(t) => t,
                Err(refused) => return Ok(Err(refused)),
            };
            match self.store.update(&changed, expected) {
                Ok(()) => return Ok(Ok(changed)),
                Err(StoreError::Conflict(_)) => {
                    task = self
                        .store
                        .get(&changed.id)
                        .map_err(store_failure)?
                        .ok_or_else(|| {
                            RpcError::invalid_params("Failed to retrieve task: Task not found")
                        })?;
                }
                Err(StoreError::NotFound) => {
                    return Err(RpcError::invalid_params(
                        "Failed to retrieve task: Task not found",
                    ));
                }
                Err(other) => return Err(store_failure(other)),
            }
        }
        Err(RpcError::internal(format!(
            "task kept changing under {CAS_ROUNDS} concurrent updates; try again"
        )))
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

/// Whether a stored `CallToolResult` says `isError: true` (the task then fails, per the spec).
fn is_error_result(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("isError").and_then(Value::as_bool))
        .unwrap_or(false)
}

fn tool_json(tool: &Tool) -> Value {
    let mut t = json!({
        "name": tool.name,
        "inputSchema": serde_json::from_str::<Value>(&tool.input_schema)
            .unwrap_or_else(|_| json!({ "type": "object" })),
        "execution": { "taskSupport": tool.task_support.as_wire() },
    });
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

fn answer(id: &Value, outcome: &Outcome) -> Action {
    match outcome {
        Outcome::Result(text) => match serde_json::from_str::<Value>(text) {
            Ok(result) => send_result(id, result),
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

/// An error for the tool that asked a question, in place of the client's answer.
fn reply_error(token: &str, code: i32, message: &str) -> Action {
    Action::ReplyTool(ToolReply {
        token: token.to_string(),
        response: json!({ "error": { "code": code, "message": message } }).to_string(),
    })
}

fn status_notification(task: &protocol::WireTask<'_>) -> Action {
    Action::Send(protocol::notification("notifications/tasks/status", task))
}

#[cfg(test)]
mod tests;
