//! Tools the server runs: the [`Tool`] trait an embedder implements, command tools from a TOML
//! file, and the catalog the component's `server` import reads.

mod command;
mod config;
#[cfg(target_os = "linux")]
mod guard;
pub(crate) mod reports;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use command::{CommandTool, OutputLimits};
#[cfg(feature = "fuzzing")]
pub(crate) use config::check_any_text;
pub use config::{ConfigError, ToolsFile};

use crate::types::{LogEntry, LogLevel, Outcome, Report, RpcError, Settings, ToolInfo};

impl ToolInfo {
    /// A tool named `name` whose arguments follow `input_schema` (a JSON Schema object, as JSON
    /// text), every other field at its default: no title, description or output schema;
    /// `optional` task support (a task when a 2025-11-25 client asks for one, or a 2026-07-28
    /// request declares the extension); not deferred; no immediate response; one attempt; no
    /// de-duplication; run where it is called, not queued; not a workflow. Change what a tool
    /// needs with struct update syntax:
    ///
    /// ```
    /// use mcp_tasks::types::{TaskSupport, ToolInfo};
    ///
    /// let build = ToolInfo {
    ///     description: Some("Build the project".into()),
    ///     task_support: TaskSupport::Required,
    ///     ..ToolInfo::new("build", r#"{"type":"object"}"#)
    /// };
    /// assert_eq!((build.name.as_str(), build.max_attempts), ("build", 1));
    /// ```
    pub fn new(name: impl Into<String>, input_schema: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            description: None,
            input_schema: input_schema.into(),
            output_schema: None,
            task_support: crate::types::TaskSupport::Optional,
            defer_task: false,
            immediate_response: None,
            max_attempts: 1,
            retry_backoff: 0,
            dedup_window: None,
            queue: false,
            steps: Vec::new(),
        }
    }
}

/// A tool the server can run, as a plain call or as a task.
///
/// ```
/// use mcp_tasks::{Tool, ToolContext, ToolOutcome};
/// use mcp_tasks::types::{TaskSupport, ToolInfo};
///
/// struct Greet(ToolInfo);
///
/// #[async_trait::async_trait]
/// impl Tool for Greet {
///     fn info(&self) -> &ToolInfo { &self.0 }
///     async fn call(&self, arguments: serde_json::Value, cx: ToolContext) -> ToolOutcome {
///         cx.progress("thinking of a greeting");
///         let name = arguments["name"].as_str().unwrap_or("world");
///         ToolOutcome::text(format!("hello, {name}"))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Tool: Send + Sync + 'static {
    /// How the tool appears in `tools/list`, and whether it runs as a task.
    fn info(&self) -> &ToolInfo;

    /// Run the tool with these arguments (a JSON object). Report progress through `cx`, and stop
    /// soon after `cx.cancelled()` fires: the outcome of a cancelled run is discarded.
    async fn call(&self, arguments: Value, cx: ToolContext) -> ToolOutcome;

    /// Over HTTP, how long the SSE stream of a 2025-11-25 call of this tool stays open before the
    /// server closes it, its answer not yet come, for the client to resume it later with GET and
    /// `Last-Event-ID` (SEP-1699's polling shape, for calls that take long). `None`, the
    /// default: the stream stays open until the answer.
    fn stream_close_after(&self) -> Option<std::time::Duration> {
        None
    }
}

/// A workflow: a tool made of other tools of the server (`ToolInfo::steps`), which the component
/// runs one after the other as one task. The host runs only its steps, never the workflow's own
/// name, so [`Tool::call`] only answers a run asked for by a component that does not know
/// workflows.
pub struct Workflow(ToolInfo);

impl Workflow {
    /// A workflow described by `info`, whose `steps` name the tools it runs.
    pub fn new(info: ToolInfo) -> Self {
        Self(info)
    }
}

#[async_trait::async_trait]
impl Tool for Workflow {
    fn info(&self) -> &ToolInfo {
        &self.0
    }

    async fn call(&self, _: Value, _: ToolContext) -> ToolOutcome {
        ToolOutcome::rpc_error(
            -32603,
            format!(
                "'{}' is a workflow: the component runs its steps ({}), not the workflow itself",
                self.0.name,
                self.0.steps.join(", ")
            ),
        )
    }
}

/// What a running tool can see and do besides its arguments.
#[derive(Clone)]
pub struct ToolContext {
    task_id: Option<String>,
    progress: Arc<reports::Sender>,
    questions: mpsc::UnboundedSender<FromTool>,
    next_key: Arc<AtomicU64>,
    cancel: CancellationToken,
}

/// One question for the client: a server-to-client request of MCP (elicitation, sampling or
/// roots), as a tool puts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The tool's key for it, unique over the run (and the task's) life.
    pub key: String,
    /// `elicitation/create`, `sampling/createMessage` or `roots/list`.
    pub method: String,
    /// The request's params, e.g. `{"message": ..., "requestedSchema": {...}}` for an
    /// elicitation.
    pub params: Value,
}

/// What a running tool sends the server, in order.
pub(crate) enum FromTool {
    /// Questions for the client, asked together.
    Ask(Vec<Asked>),
    /// Go on as a task (see [`ToolContext::continue_as_task`]).
    ContinueAsTask,
}

/// A question on its way from a tool to the server, with where its answer goes.
pub(crate) struct Asked {
    pub(crate) question: Question,
    /// The client's result, or `{"error": ...}`.
    pub(crate) reply: oneshot::Sender<Value>,
}

/// Why [`ToolContext::ask`] got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The question was refused or the client answered with an error: e.g. a malformed
    /// question, or a key the task already used.
    #[error("the question was refused ({code}): {message}")]
    Refused {
        /// The JSON-RPC error code.
        code: i64,
        /// What went wrong.
        message: String,
    },
    /// The run ended before an answer came: its task was cancelled, expired or failed (for
    /// example because the client cannot answer questions), or the server is shutting down.
    #[error("the run was stopped before the question was answered")]
    Stopped,
}

impl ToolContext {
    pub(crate) fn new(
        task_id: Option<String>,
        progress: reports::Sender,
        questions: mpsc::UnboundedSender<FromTool>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            task_id,
            progress: Arc::new(progress),
            questions,
            next_key: Arc::new(AtomicU64::new(0)),
            cancel,
        }
    }

    /// Ask the client a question (an MCP elicitation) and wait for its answer.
    ///
    /// `params` are those of `elicitation/create`: `message` and `requestedSchema`. The answer
    /// is the client's `ElicitResult`, e.g. `{"action": "accept", "content": {"confirm": true}}`;
    /// `decline` and `cancel` are answers too, for the tool to handle. See
    /// [`ask_all`](Self::ask_all) for how the question reaches the client.
    pub async fn ask(&self, params: Value) -> Result<Value, InputError> {
        self.request("elicitation/create", params).await
    }

    /// Put one server-to-client request to the client (`elicitation/create`,
    /// `sampling/createMessage` or `roots/list`) and wait for its result.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, InputError> {
        let key = format!("q{}", self.next_key.fetch_add(1, Ordering::Relaxed) + 1);
        let question = Question {
            key,
            method: method.to_string(),
            params,
        };
        self.ask_all(vec![question])
            .await
            .pop()
            .unwrap_or(Err(InputError::Stopped))
    }

    /// Ask several questions at once and wait for every answer; the answers come in the order
    /// of the questions.
    ///
    /// A task moves to `input_required` until all are answered: a 2026-07-28 client reads them
    /// in `inputRequests` of `tasks/get` and answers with `tasks/update` (one key at a time, or
    /// all at once); a 2025-11-25 client gets each as a request (with its next `tasks/result`,
    /// and on stdio after its next `tasks/get`). A 2026-07-28 plain call answers its request with an
    /// `InputRequiredResult` and carries on when the client retries with the answers. If the
    /// client did not declare the capability a question needs, the run fails and every answer
    /// is [`InputError::Stopped`]. A client that never answers leaves the task to its ttl.
    pub async fn ask_all(&self, questions: Vec<Question>) -> Vec<Result<Value, InputError>> {
        let mut waiting = Vec::with_capacity(questions.len());
        let mut batch = Vec::with_capacity(questions.len());
        for question in questions {
            let (reply, answer) = oneshot::channel();
            batch.push(Asked { question, reply });
            waiting.push(answer);
        }
        if self.questions.send(FromTool::Ask(batch)).is_err() {
            return waiting.iter().map(|_| Err(InputError::Stopped)).collect();
        }
        let mut answers = Vec::with_capacity(waiting.len());
        for answer in waiting {
            let answer = tokio::select! {
                answer = answer => answer.map_err(|_| InputError::Stopped),
                _ = self.cancel.cancelled() => Err(InputError::Stopped),
            };
            answers.push(answer.and_then(|answer| match answer.get("error") {
                Some(error) => Err(InputError::Refused {
                    code: error["code"].as_i64().unwrap_or(-32603),
                    message: error["message"].as_str().unwrap_or_default().to_string(),
                }),
                None => Ok(answer),
            }));
        }
        answers
    }

    /// Go on as a task: for a tool with `defer-task` (tools file: `defer_task = true`) called by
    /// a 2026-07-28 client that declared the tasks extension, the call becomes a task now and
    /// the client is answered with its `CreateTaskResult`; typically after the tool has asked
    /// what it needs (through `InputRequiredResult` rounds). The tool goes on as before; its
    /// outcome becomes the task's. For any other run this does nothing.
    pub fn continue_as_task(&self) {
        // A run that has ended has nothing to continue.
        let _ = self.questions.send(FromTool::ContinueAsTask);
    }

    /// The task this run belongs to, when it runs as a task.
    pub fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }

    /// Say what the run is doing: it becomes its task's `statusMessage`.
    pub fn progress(&self, message: impl Into<String>) {
        self.report(Report {
            progress: None,
            total: None,
            message: Some(message.into()),
        });
    }

    /// Report how far the run has come: `progress` (increasing from one report to the next)
    /// out of `total` if known, and a `message` that becomes its task's `statusMessage`. When
    /// the client asked for progress (`_meta.progressToken`), it gets a `notifications/progress`
    /// for a plain call and for a 2025-11-25 task, at most one every `progress_interval_ms`
    /// (100 by default): reports in between are dropped, but one that reaches `total` is
    /// always sent.
    ///
    /// Reports reach the component in order. While more than 64 wait for it (a tool reporting
    /// faster than the component takes them), the oldest waiting is dropped, never the latest.
    ///
    /// ```
    /// # fn f(cx: mcp_tasks::ToolContext) {
    /// use mcp_tasks::types::Report;
    /// cx.report(Report { progress: Some(3.0), total: Some(10.0), message: Some("7 to go".into()) });
    /// # }
    /// ```
    pub fn report(&self, report: Report) {
        self.progress.send(reports::Reported::Progress(report));
    }

    /// Log a line: `data` is any JSON (most often a string), `logger` names the part of the tool
    /// that logs, if you like. A 2025-11-25 client that set a level with `logging/setLevel` gets
    /// it as a `notifications/message` when it is at or above that level (related to the task,
    /// for a task); others get nothing. Lines go in order with the run's reports, and are
    /// dropped as they are when the component falls behind.
    ///
    /// ```
    /// # fn f(cx: mcp_tasks::ToolContext) {
    /// use mcp_tasks::types::LogLevel;
    /// cx.log(LogLevel::Info, None, serde_json::json!("Tool execution started"));
    /// # }
    /// ```
    pub fn log(&self, level: LogLevel, logger: Option<&str>, data: Value) {
        self.progress.send(reports::Reported::Log(LogEntry {
            level,
            logger: logger.map(str::to_string),
            data: data.to_string(),
        }));
    }

    /// Fires when the run must stop (its task was cancelled or expired, or the client went
    /// away).
    pub fn cancelled(&self) -> &CancellationToken {
        &self.cancel
    }
}

/// How a run ended: the result of the call, and an optional status message for its task.
#[derive(Debug, Clone)]
pub struct ToolOutcome {
    /// A `CallToolResult` (as JSON text) or a JSON-RPC error.
    pub outcome: Outcome,
    /// The task's final `statusMessage`, e.g. why it failed.
    pub message: Option<String>,
}

impl ToolOutcome {
    /// A successful result with one text content block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::result(json!({ "content": [{ "type": "text", "text": text.into() }] }))
    }

    /// A tool error (`isError: true`: a 2025-11-25 task fails, a 2026-07-28 one completes with
    /// it) with this text, also used as the task's status message.
    pub fn tool_error(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            outcome: Outcome::Success(
                json!({ "content": [{ "type": "text", "text": text }], "isError": true })
                    .to_string(),
            ),
            message: Some(text),
        }
    }

    /// A `CallToolResult` given as JSON.
    pub fn result(call_tool_result: Value) -> Self {
        Self {
            outcome: Outcome::Success(call_tool_result.to_string()),
            message: None,
        }
    }

    /// A JSON-RPC error in place of a result.
    pub fn rpc_error(code: i32, message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Error(RpcError {
                code,
                message: message.into(),
                data: None,
            }),
            message: None,
        }
    }

    /// The same outcome with this status message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// The server's settings and tools, as the component's `server` import shows them.
pub struct Catalog {
    settings: Settings,
    tools: Vec<Arc<dyn Tool>>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    pub(crate) fn new(settings: Settings, tools: Vec<Arc<dyn Tool>>) -> Self {
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.info().name.clone(), i))
            .collect();
        Self {
            settings,
            tools,
            by_name,
        }
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn infos(&self) -> Vec<ToolInfo> {
        self.tools.iter().map(|t| t.info().clone()).collect()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }
}

/// The settings a server has unless told otherwise.
pub fn default_settings() -> Settings {
    Settings {
        name: "mcp-tasks".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        instructions: None,
        default_ttl: Some(60 * 60 * 1000),
        max_ttl: Some(24 * 60 * 60 * 1000),
        poll_interval: 1000,
        page_size: 50,
        lease: 15_000,
        // Ten a second: a bar that moves smoothly, and a chatty tool that cannot flood a client.
        progress_interval: 100,
        // Run what it takes; claim whatever waits for a run.
        queue: false,
        claim_limit: u32::MAX,
        // Fresh at every start: a requestState outlives neither the run it names nor the process.
        state_key: format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ),
    }
}
