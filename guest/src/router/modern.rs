//! The modern wire: MCP 2026-07-28 with the extension `io.modelcontextprotocol/tasks`
//! (SEP-2663). No `initialize`: every request carries its protocol version and the client's
//! capabilities in `_meta`, and is served on its own. The server decides when a `tools/call`
//! becomes a task; results are inlined on `tasks/get`; questions are keyed `inputRequests`
//! answered by `tasks/update`; a plain call asks through an `InputRequiredResult`.

use serde_json::{Map, Value, json};

use super::update::Updated;
use super::{
    Capabilities, Handled, Router, RunRef, RunState, admin, missing_capability_message, send_result,
};
use crate::model::{
    Action, Era, Outcome, Outgoing, RpcError, Status, Task, TaskSupport, ToolQuestion,
};
use crate::protocol::{self, Params, code};
use crate::request_state::{self, RequestState, StateError};

/// How long a client may cache `server/discover` and `tools/list` (the tools file is read once,
/// at start-up), in ms.
const CACHE_TTL_MS: u64 = 60_000;

impl Router<'_> {
    pub(super) fn modern_request(
        &self,
        id: &Value,
        method: &str,
        params: Params<'_>,
        capabilities: Capabilities,
    ) -> Handled {
        let declares_tasks = capabilities.tasks;
        match method {
            "server/discover" => Ok(vec![send_result(id, self.discover_result())]),
            "tools/list" => {
                let mut result = Map::new();
                result.insert("tools".into(), Value::Array(self.tools_json(Era::Modern)));
                result.insert("ttlMs".into(), json!(CACHE_TTL_MS));
                result.insert("cacheScope".into(), json!("public"));
                Ok(vec![send_result(id, complete(result))])
            }
            "tools/call" => {
                self.modern_tools_call(id, &params.value(), capabilities, declares_tasks)
            }
            // Checked before the task is looked up, so a client that does not declare the
            // extension learns nothing about which tasks exist.
            "tasks/get" | "tasks/update" | "tasks/cancel" if !declares_tasks => {
                Err(missing_tasks_capability(method))
            }
            "tasks/get" => {
                let task = self.visible_task(method, params)?;
                let mut got = detailed_task(&task)?.with_result_type("complete");
                if let Some(meta) = admin::task_meta(&task) {
                    got = got.with("_meta", meta);
                }
                Ok(vec![send_result(id, got)])
            }
            "tasks/update" => self.tasks_update(id, &params.value()),
            "tasks/cancel" => {
                let task = self.visible_task(method, params)?;
                let mut actions = vec![send_result(id, complete(Map::new()))];
                // A terminal task stays as it is; the acknowledgement is the same.
                if let Updated::Written(cancelled) = self.cancel(task)? {
                    actions.extend(self.cancelled(&cancelled));
                }
                Ok(actions)
            }
            "tasks/result" | "tasks/list" => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!(
                    "Method not found: {method} is not part of protocol version {}; the tasks \
                     extension inlines results on tasks/get and has no task list",
                    protocol::MODERN_PROTOCOL_VERSION
                ),
            )),
            "subscriptions/listen" => self.listen(id, &params.value(), declares_tasks),
            "initialize" | "ping" | "logging/setLevel" => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!(
                    "Method not found: {method} is not part of protocol version {}, which \
                     carries the version and capabilities on every request",
                    protocol::MODERN_PROTOCOL_VERSION
                ),
            )),
            _ => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
        }
    }

    /// `server/discover`: the versions served, the tasks extension, the server's identity.
    pub(super) fn discover_result(&self) -> Value {
        let settings = &self.settings;
        let mut result = json!({
            "resultType": "complete",
            "supportedVersions": protocol::ALL_PROTOCOL_VERSIONS,
            "capabilities": {
                "tools": { "listChanged": false },
                "extensions": { protocol::TASKS_EXTENSION: {} },
            },
            "ttlMs": CACHE_TTL_MS,
            "cacheScope": "public",
            "_meta": {
                protocol::META_SERVER_INFO: { "name": settings.name, "version": settings.version },
            },
        });
        if let Some(instructions) = &settings.instructions {
            result["instructions"] = Value::String(instructions.clone());
        }
        result
    }

    fn modern_tools_call(
        &self,
        id: &Value,
        params: &Value,
        capabilities: Capabilities,
        declares_tasks: bool,
    ) -> Handled {
        if let Some(state) = params.get("requestState") {
            return self.resume_call(id, params, state, capabilities);
        }
        let (tool, arguments) = self.tool_and_arguments(params)?;
        let name = tool.name.as_str();
        match (declares_tasks, tool.support()) {
            // A tool that gathers input first runs as a plain call until it says to go on as
            // a task (`tool_detached`).
            (true, TaskSupport::Optional | TaskSupport::Required)
                if tool.defer_task && tool.steps.is_empty() =>
            {
                Ok(vec![Action::RunTool(crate::model::Run {
                    token: RunRef::Call(self.ctx.client.clone(), id.clone()).token(),
                    state: RunState::new(
                        capabilities,
                        Some(params),
                        protocol::progress_token(params),
                    )
                    .encode(),
                    task_id: None,
                    tool: name.to_string(),
                    arguments: arguments.to_string(),
                    trace_context: protocol::trace_context(params),
                })])
            }
            // `params.task` means nothing in this era: the server decides.
            (true, TaskSupport::Optional | TaskSupport::Required) => {
                let (task, run) = self.create_task(Era::Modern, &tool, params, None, &arguments)?;
                let created = protocol::modern_task_json(&task).with_result_type("task");
                Ok(std::iter::once(send_result(id, created))
                    .chain(run)
                    .collect())
            }
            (false, TaskSupport::Required) => Err(missing_tasks_capability(&format!(
                "tools/call of '{name}', which runs only as a task,"
            ))),
            _ => Ok(vec![Action::RunTool(crate::model::Run {
                token: RunRef::Call(self.ctx.client.clone(), id.clone()).token(),
                state: RunState::new(capabilities, None, protocol::progress_token(params)).encode(),
                task_id: None,
                tool: name.to_string(),
                arguments: arguments.to_string(),
                trace_context: protocol::trace_context(params),
            })]),
        }
    }

    /// `tasks/update`: keyed answers to a task's questions. Always acknowledged for a visible
    /// task; answers to keys that are not outstanding (never issued, already answered, retired
    /// with a terminal task) are ignored, as the extension asks.
    fn tasks_update(&self, id: &Value, params: &Value) -> Handled {
        let task_id = params
            .get("taskId")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("tasks/update: \"taskId\" must be a string"))?;
        let answers = params
            .get("inputResponses")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                RpcError::invalid_params("tasks/update: \"inputResponses\" must be an object")
            })?;
        let task = self.visible_task_by_id(task_id)?;
        let mut actions = vec![send_result(id, complete(Map::new()))];
        if task.status == Status::InputRequired
            && let Some((_, more)) = self.take_answers(task, answers)?
        {
            actions.extend(more);
        }
        Ok(actions)
    }

    /// `subscriptions/listen`: acknowledge the task IDs this caller may follow, and have the host
    /// call `task-changed` for each now and as they change.
    fn listen(&self, id: &Value, params: &Value, declares_tasks: bool) -> Handled {
        let filter = params
            .get("notifications")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                RpcError::invalid_params(
                    "subscriptions/listen: \"notifications\" must be an object",
                )
            })?;
        let requested: Vec<&str> = match filter.get("taskIds") {
            None => Vec::new(),
            Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_str).collect(),
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "subscriptions/listen: \"notifications.taskIds\" must be an array of strings",
                ));
            }
        };
        if filter.contains_key("taskIds") && !declares_tasks {
            return Err(missing_tasks_capability(
                "task notifications on subscriptions/listen",
            ));
        }
        // Only the caller's own tasks: another owner's ID is left out, as an unknown one is.
        let followed: Vec<Task> = requested
            .iter()
            .filter_map(|task_id| self.visible_task_by_id(task_id).ok())
            .collect();
        let ids: Vec<&str> = followed.iter().map(|t| t.id.as_str()).collect();
        let mut notifications = Map::new();
        if filter.contains_key("taskIds") {
            notifications.insert("taskIds".into(), json!(ids));
        }
        // The host sends each task's state right after the acknowledgement, through
        // `task-changed`, as it does for every later change.
        Ok(vec![
            Action::Send(Outgoing::notification(protocol::notification(
                "notifications/subscriptions/acknowledged",
                &json!({
                    "_meta": { protocol::META_SUBSCRIPTION_ID: id },
                    "notifications": notifications,
                }),
            ))),
            Action::Listen {
                subscription: id.to_string(),
                task_ids: ids.iter().map(|s| s.to_string()).collect(),
            },
        ])
    }

    /// A followed task may have changed: its `notifications/tasks`, if the caller may see it.
    pub fn task_changed(&self, subscription: &str, task_id: &str) -> Vec<Action> {
        let Ok(id) = serde_json::from_str::<Value>(subscription) else {
            return Vec::new();
        };
        match self.visible_task_by_id(task_id) {
            Ok(task) => task_notification(&id, &task).into_iter().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The host ends the subscription itself (it is shutting down): the result that completes
    /// its `subscriptions/listen` request, as the spec asks of a server that ends a stream.
    pub fn listen_ended(&self, subscription: &str) -> Vec<Action> {
        let Ok(id) = serde_json::from_str::<Value>(subscription) else {
            return Vec::new();
        };
        vec![send_result(
            &id,
            json!({
                "resultType": "complete",
                "_meta": { protocol::META_SUBSCRIPTION_ID: id },
            }),
        )]
    }

    /// A modern plain call's questions: answered with an `InputRequiredResult`; the run waits
    /// for the retry that carries the answers.
    pub(super) fn modern_plain_ask(
        &self,
        token: &str,
        id: &Value,
        state: RunState,
        asked: Vec<(&ToolQuestion, Map<String, Value>)>,
    ) -> Vec<Action> {
        let can = state.capabilities();
        // The request cannot be served without the capability: -32021, as SEP-2575 asks.
        if let Some((q, _)) = asked.iter().find(|(q, _)| !can.allows(&q.method)) {
            let capability = protocol::capability_for(&q.method).unwrap_or("elicitation");
            let error = RpcError {
                code: code::MISSING_REQUIRED_CLIENT_CAPABILITY,
                message: format!(
                    "Missing required client capability: {}",
                    missing_capability_message(&q.method, Era::Modern)
                ),
                data: Some(json!({ "requiredCapabilities": { capability: {} } }).to_string()),
            };
            return vec![
                super::send_error(id, &error),
                Action::StopTool(token.to_string()),
            ];
        }
        let questions = asked
            .iter()
            .map(|(q, params)| {
                (
                    q.key.clone(),
                    q.method.clone(),
                    Value::Object(params.clone()).to_string(),
                )
            })
            .collect();
        vec![
            self.input_required(id, token, questions),
            // That answers the request: its progress token is spent. The retry brings its own.
            Action::UpdateRun {
                token: token.to_string(),
                state: state.without_progress().encode(),
            },
        ]
    }

    /// The tool of a run asks to go on as a task: for a call that deferred its task, create it,
    /// answer the request with the `CreateTaskResult`, and rename the run to the task's token.
    pub fn tool_detached(&self, token: &str, run_state: &str) -> Vec<Action> {
        let state = RunState::parse(run_state);
        let (Some(RunRef::Call(_, id)), Some(params)) = (RunRef::parse(token), state.deferred())
        else {
            return Vec::new(); // Already a task, or a call that cannot become one.
        };
        let task = match self.new_task(Era::Modern, &[], params, None, None, false) {
            Ok(task) => task,
            Err(e) => {
                // The call goes on as a plain call; say why it could not become a task.
                return vec![Action::Log(format!(
                    "{token} could not go on as a task: {e}"
                ))];
            }
        };
        let created = protocol::modern_task_json(&task).with_result_type("task");
        vec![
            send_result(&id, created),
            Action::RenameRun {
                from: token.to_string(),
                to: RunRef::Task(task.id.clone()).token(),
                state: String::new(),
            },
        ]
    }

    /// An `InputRequiredResult` for request `id`, whose retry resumes the run `token`.
    fn input_required(
        &self,
        id: &Value,
        token: &str,
        questions: Vec<(String, String, String)>,
    ) -> Action {
        let mut requests = Map::new();
        for (key, method, params) in &questions {
            let params = serde_json::from_str::<Value>(params).unwrap_or(Value::Null);
            requests.insert(key.clone(), json!({ "method": method, "params": params }));
        }
        let state = RequestState {
            token: token.to_string(),
            owner: self.ctx.owner.clone(),
            expires: self.ctx.now.saturating_add(request_state::LIFETIME_MS),
            questions,
        };
        let mut result = Map::new();
        result.insert("resultType".into(), json!("input_required"));
        result.insert("inputRequests".into(), Value::Object(requests));
        result.insert(
            "requestState".into(),
            json!(state.seal(&self.settings.state_key)),
        );
        send_result(id, result)
    }

    /// The retry of a plain call that waited for input: hand the answers to the waiting run,
    /// which answers this request from now on; ask again for what is still missing.
    fn resume_call(
        &self,
        id: &Value,
        params: &Value,
        state: &Value,
        capabilities: Capabilities,
    ) -> Handled {
        let refused = |why: &str| RpcError::invalid_params(format!("tools/call: {why}"));
        let text = state
            .as_str()
            .ok_or_else(|| refused("\"requestState\" must be a string"))?;
        let state = RequestState::open(text, &self.settings.state_key, self.ctx.now).map_err(
            |e| match e {
                StateError::Forged => refused("\"requestState\" is not one this server issued"),
                StateError::Expired => refused("\"requestState\" has expired; call the tool again"),
            },
        )?;
        if state.owner != self.ctx.owner {
            return Err(refused("\"requestState\" belongs to another call"));
        }
        let answers = params
            .get("inputResponses")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let to = RunRef::Call(self.ctx.client.clone(), id.clone()).token();
        // The retry carries the call again: whether its task is still deferred, it says anew.
        let deferred = capabilities.tasks
            && params
                .get("name")
                .and_then(Value::as_str)
                .and_then(|name| self.server.find_tool(name))
                .is_some_and(|t| t.defer_task && t.support() != TaskSupport::Forbidden);
        let mut actions = vec![Action::RenameRun {
            from: state.token.clone(),
            to: to.clone(),
            state: RunState::new(
                capabilities,
                deferred.then_some(params),
                protocol::progress_token(params),
            )
            .encode(),
        }];
        let mut missing = Vec::new();
        for (key, method, question) in state.questions {
            match answers.get(&key) {
                Some(answer) => actions.push(Action::ReplyTool(crate::model::ToolReply {
                    token: to.clone(),
                    key,
                    response: answer.to_string(),
                })),
                None => missing.push((key, method, question)),
            }
        }
        if !missing.is_empty() {
            actions.push(self.input_required(id, &to, missing));
        }
        Ok(actions)
    }
}

/// The task as `tasks/get` and `notifications/tasks` show it (`DetailedTask`): its result when
/// completed, its error when failed, its outstanding questions when input is required.
fn detailed_task(task: &Task) -> Result<protocol::WireTask<'_>, RpcError> {
    let wire = protocol::modern_task_json(task);
    let stored = |text: &str| {
        serde_json::from_str::<Value>(text).map_err(|e| {
            RpcError::internal(format!(
                "stored result of task {} is not JSON: {e}",
                task.id
            ))
        })
    };
    Ok(match (task.status, &task.outcome) {
        (Status::InputRequired, _) => {
            let requests: Map<String, Value> = task
                .input_requests
                .iter()
                .filter(|q| q.state.is_outstanding())
                .map(|q| {
                    let params = serde_json::from_str::<Value>(&q.params).unwrap_or(Value::Null);
                    (
                        q.key.clone(),
                        json!({ "method": q.method, "params": params }),
                    )
                })
                .collect();
            wire.with("inputRequests", Value::Object(requests))
        }
        (Status::Completed, Some(Outcome::Result(text))) => {
            let mut result = stored(text)?;
            if let Some(obj) = result.as_object_mut() {
                // The result as the call would have answered it: complete, and without the
                // legacy era's related-task meta.
                obj.insert("resultType".into(), json!("complete"));
            }
            wire.with("result", result)
        }
        (Status::Failed, Some(Outcome::Error(error))) => wire.with("error", error.to_json()),
        // A legacy task that failed on a tool's `isError` result: the extension keeps `failed`
        // for JSON-RPC errors, so the result travels as the error's data.
        (Status::Failed, Some(Outcome::Result(text))) => {
            let message = task
                .status_message
                .clone()
                .unwrap_or_else(|| "The tool reported an error.".into());
            let error =
                json!({ "code": code::INTERNAL_ERROR, "message": message, "data": stored(text)? });
            wire.with("error", error)
        }
        (Status::Failed, None) => {
            let message = task.status_message.clone().unwrap_or_default();
            wire.with(
                "error",
                json!({ "code": code::INTERNAL_ERROR, "message": message }),
            )
        }
        (Status::Completed, _) => {
            return Err(RpcError::internal(format!(
                "task {} is completed but has no stored result",
                task.id
            )));
        }
        (Status::Working | Status::Cancelled, _) => wire,
    })
}

/// `notifications/tasks` for a subscription.
fn task_notification(subscription: &Value, task: &Task) -> Result<Action, RpcError> {
    let params = detailed_task(task)?.with(
        "_meta",
        json!({ protocol::META_SUBSCRIPTION_ID: subscription }),
    );
    Ok(Action::Send(Outgoing::notification(
        protocol::notification("notifications/tasks", &params),
    )))
}

/// A result object with `resultType: "complete"`.
fn complete(mut result: Map<String, Value>) -> Map<String, Value> {
    result.insert("resultType".into(), json!("complete"));
    result
}

/// -32021: the request must declare the tasks extension for `what`.
fn missing_tasks_capability(what: &str) -> RpcError {
    RpcError {
        code: code::MISSING_REQUIRED_CLIENT_CAPABILITY,
        message: format!(
            "Missing required client capability: {what} needs the extension {} declared in \
             the request's _meta[\"{}\"].extensions",
            protocol::TASKS_EXTENSION,
            protocol::META_CLIENT_CAPABILITIES
        ),
        data: Some(
            json!({ "requiredCapabilities": { "extensions": { protocol::TASKS_EXTENSION: {} } } })
                .to_string(),
        ),
    }
}

/// -32022 for a protocol version this server does not serve.
pub(super) fn unsupported_version(requested: &str) -> RpcError {
    RpcError {
        code: code::UNSUPPORTED_PROTOCOL_VERSION,
        message: format!("Unsupported protocol version: {requested}"),
        data: Some(
            json!({ "supported": protocol::ALL_PROTOCOL_VERSIONS, "requested": requested })
                .to_string(),
        ),
    }
}
