//! The legacy wire: MCP 2025-11-25 (`basic/utilities/tasks`). A connection opens with
//! `initialize`; the client asks for a task with `params.task`, waits with `tasks/result`, lists
//! with `tasks/list`, and gets a task's questions as JSON-RPC requests.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::update::{Edit, Updated};
use super::{
    CANCELLED_MESSAGE, Capabilities, Handled, Router, RunRef, RunState, admin,
    missing_capability_message, send_error, send_result, store_failure, tool_error_result,
};
use crate::machine::{self, TransitionError};
use crate::model::{
    Action, Era, InputRequest, InputState, Outcome, Outgoing, RpcError, Status, StoreError, Task,
    TaskSupport, ToolQuestion, ToolReply, Wait,
};
use crate::protocol::{self, Params, code};

impl Router<'_> {
    pub(super) fn legacy_request(&self, id: &Value, method: &str, params: Params<'_>) -> Handled {
        match method {
            "initialize" => self.initialize(id, &params.value()),
            "ping" => Ok(vec![send_result(id, Map::new())]),
            "tools/list" => {
                let tools = self.tools_json(Era::Legacy);
                Ok(vec![send_result(id, json!({ "tools": tools }))])
            }
            "tools/call" => self.legacy_tools_call(id, &params.value()),
            "tasks/get" => {
                let task = self.visible_task(method, params)?;
                let mut got = protocol::task_json(&task);
                if let Some(meta) = admin::task_meta(&task) {
                    got = got.with("_meta", meta);
                }
                let mut actions = vec![send_result(id, got)];
                // Where the host can push, a task's questions follow the first tasks/get that
                // shows them: the client knows the task by then (a question pushed the moment
                // it is asked can reach a client before the task it belongs to, and the official
                // extension client then cannot place it), and it need not call tasks/result.
                if self.ctx.push {
                    actions.extend(self.deliver_questions(task)?);
                }
                Ok(actions)
            }
            "tasks/list" => self.tasks_list(id, params),
            "tasks/result" => self.tasks_result(id, params),
            "tasks/cancel" => self.legacy_cancel(id, params),
            "logging/setLevel" => self.set_log_level(id, &params.value()),
            // The modern era's discovery answers whoever asks, with or without `_meta`.
            "server/discover" => Ok(vec![send_result(id, self.discover_result())]),
            _ => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
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
        let settings = &self.settings;
        let mut result = json!({
            "protocolVersion": version,
            "capabilities": {
                "tools": { "listChanged": false },
                "logging": {},
                "tasks": {
                    "list": {},
                    "cancel": {},
                    "requests": { "tools": { "call": {} } }
                }
            },
            "serverInfo": { "name": settings.name, "version": settings.version },
        });
        if let Some(instructions) = &settings.instructions {
            result["instructions"] = Value::String(instructions.clone());
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

    fn legacy_tools_call(&self, id: &Value, params: &Value) -> Handled {
        let (tool, arguments) = self.tool_and_arguments(params)?;
        let name = tool.name.as_str();
        match (params.get("task"), tool.support()) {
            (Some(_), TaskSupport::Forbidden) => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("Tool '{name}' does not support task-augmented calls"),
            )),
            (None, TaskSupport::Required) => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("Tool '{name}' must be called as a task (add \"task\" to the params)"),
            )),
            (Some(task), _) => {
                if !task.is_object() {
                    return Err(RpcError::invalid_params(
                        "tools/call: \"task\" must be an object",
                    ));
                }
                let requested_ttl = match task.get("ttl") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v.as_u64().ok_or_else(|| {
                        RpcError::invalid_params(
                            "tools/call: \"task.ttl\" must be a non-negative integer",
                        )
                    })?),
                };
                let (task, run) =
                    self.create_task(Era::Legacy, &tool, params, requested_ttl, &arguments)?;
                let mut created = json!({ "task": protocol::task_json(&task) });
                if let Some(sentence) = &tool.immediate_response {
                    created["_meta"] = json!({ protocol::META_IMMEDIATE_RESPONSE: sentence });
                }
                Ok(std::iter::once(send_result(id, created))
                    .chain(run)
                    .collect())
            }
            (None, _) => Ok(vec![Action::RunTool(crate::model::Run {
                token: RunRef::Request(self.ctx.client.clone(), id.clone()).token(),
                state: RunState::with_progress(protocol::progress_token(params)).encode(),
                task_id: None,
                tool: name.to_string(),
                arguments: arguments.to_string(),
                trace_context: protocol::trace_context(params),
            })]),
        }
    }

    fn tasks_list(&self, id: &Value, params: Params<'_>) -> Handled {
        #[derive(Deserialize)]
        struct ListParams {
            cursor: Option<String>,
        }
        let ListParams { cursor } = params.parse("tasks/list")?;
        let cursor = cursor.as_deref();
        let page_size = self.settings.page_size.max(1);
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
            let mut actions = self.deliver_questions(task)?;
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

    fn legacy_cancel(&self, id: &Value, params: Params<'_>) -> Handled {
        let task = self.visible_task("tasks/cancel", params)?;
        let cancelled = match self.cancel(task)? {
            Updated::Written(task) => task,
            Updated::Refused(TransitionError::Terminal(s)) => {
                return Err(RpcError::invalid_params(format!(
                    "Cannot cancel task: already in terminal status '{}'",
                    s.as_wire()
                )));
            }
            Updated::Refused(other) => {
                return Err(RpcError::invalid_params(format!(
                    "Cannot cancel task: {other}"
                )));
            }
            Updated::Unchanged => {
                return Err(RpcError::invalid_params("Cannot cancel task"));
            }
        };
        let mut actions = vec![send_result(id, protocol::task_json(&cancelled))];
        actions.extend(self.cancelled(&cancelled));
        Ok(actions)
    }

    /// The task's open questions, sent once: marked sent in the store first, so that of several
    /// `tasks/result` (or `tasks/get`) requests, on this host or another, exactly one sends each.
    fn deliver_questions(&self, task: Task) -> Handled {
        if !task
            .input_requests
            .iter()
            .any(|q| q.state == InputState::Open)
        {
            return Ok(Vec::new());
        }
        let mut sent = Vec::new();
        let marked = self.update(task, |mut t| {
            sent.clear();
            for q in &mut t.input_requests {
                if q.state == InputState::Open {
                    q.state = InputState::Sent;
                    sent.push(q.clone());
                }
            }
            if sent.is_empty() {
                // Answered, retired or sent by another request meanwhile.
                return Ok(Edit::Nothing);
            }
            Ok(Edit::Change(t))
        })?;
        match marked {
            Updated::Written(task) => Ok(question_requests(&task, &sent)),
            Updated::Unchanged | Updated::Refused(_) => Ok(Vec::new()),
        }
    }

    /// The client answered a request of the server's: hand the answer to the tool that asked.
    /// An answer nobody waits for is logged and dropped, never an error to the client.
    pub(super) fn legacy_response(
        &self,
        id: &Value,
        reply: Result<&RawValue, &RawValue>,
    ) -> Vec<Action> {
        let dropped = |why: &str| vec![Action::Log(format!("dropped a response to {id}: {why}"))];
        let Some((run, key)) = id.as_str().and_then(RunRef::from_input_id) else {
            return dropped("the server sent no request with that id");
        };
        let response = match reply {
            Ok(result) => result.get().to_string(),
            Err(error) => format!("{{\"error\":{}}}", error.get()),
        };
        let task_id = match run {
            RunRef::Task(task_id) => task_id,
            // A plain call's question is in no store: the host knows whether its run still waits.
            plain => {
                return vec![Action::ReplyTool(ToolReply {
                    token: plain.token(),
                    key,
                    response,
                })];
            }
        };
        let task = match self.store.get(&task_id) {
            Ok(Some(task)) if task.owner == self.ctx.owner => task,
            Ok(_) => return dropped("its task does not exist"),
            Err(e) => return dropped(&e.to_string()),
        };
        let Ok(answer) = serde_json::from_str::<Value>(&response) else {
            return dropped("the response is not JSON");
        };
        let answers = Map::from_iter([(key, answer)]);
        match self.take_answers(task, &answers) {
            Ok(Some((_, actions))) => actions,
            Ok(None) => dropped("its task no longer waits for it (answered, cancelled or ended)"),
            Err(e) => dropped(&e.message),
        }
    }

    /// A legacy plain call's questions: the client waits on that very call, so they go at once.
    pub(super) fn legacy_plain_ask(
        &self,
        token: &str,
        run: &RunRef,
        asked: Vec<(&ToolQuestion, Map<String, Value>)>,
    ) -> Vec<Action> {
        let can: Capabilities = self.session_capabilities();
        if let Some((q, _)) = asked.iter().find(|(q, _)| !can.allows(&q.method)) {
            let RunRef::Request(_, id) = run else {
                return Vec::new();
            };
            let message = missing_capability_message(&q.method, Era::Legacy);
            return vec![
                super::call_answer(id, &tool_error_result(&message), Era::Legacy),
                Action::StopTool(token.to_string()),
            ];
        }
        asked
            .iter()
            .map(|(q, params)| {
                let params = Value::Object(params.clone()).to_string();
                request_action(&run.input_id(&q.key), &q.method, &params)
            })
            .collect()
    }
}

/// The requests that put these questions of `task` to a legacy client.
fn question_requests(task: &Task, questions: &[InputRequest]) -> Vec<Action> {
    let run = RunRef::Task(task.id.clone());
    questions
        .iter()
        .map(|q| request_action(&run.input_id(&q.key), &q.method, &q.params))
        .collect()
}

fn request_action(id: &str, method: &str, params: &str) -> Action {
    match serde_json::from_str::<&RawValue>(params) {
        Ok(params) => Action::Send(Outgoing::request(protocol::request(id, method, params))),
        Err(e) => Action::Log(format!("a stored question is not JSON ({e}); not sent")),
    }
}

/// `notifications/tasks/status` with the task as the legacy wire shows it.
pub(super) fn status_notification(task: &Task) -> Action {
    Action::Send(Outgoing::notification(protocol::notification(
        "notifications/tasks/status",
        &protocol::task_json(task),
    )))
}
