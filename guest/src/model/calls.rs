//! What a call into the router carries and what it gives back: who calls and when, the runs it
//! starts, what running tools report, the messages for the client and the actions for the host.

use super::Era;

/// Who is calling and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The connection's owner.
    pub owner: String,
    /// Now, ms since the epoch.
    pub now: u64,
    /// The connection's session state ("" when new).
    pub session: String,
    /// This host's identity.
    pub executor: String,
    /// Whether server-to-client requests can be written to this client at any time.
    pub push: bool,
    /// Which client sent the message, where clients' request IDs may be equal.
    pub client: String,
    /// How the message came (`stdio`, `http`, `admin`, `host`, ...), for a task's history.
    pub transport: String,
}

/// A tool the host must start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Names the run in later calls.
    pub token: String,
    /// Opaque to the host; passed back with the run's questions.
    pub state: String,
    /// The task it belongs to, if any.
    pub task_id: Option<String>,
    /// The tool's name.
    pub tool: String,
    /// The arguments, a JSON object as text.
    pub arguments: String,
    /// The W3C trace context of the request the run serves (see
    /// [`trace_context`](crate::protocol::trace_context)).
    pub trace_context: Vec<(String, String)>,
}

/// A question a running tool puts to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolQuestion {
    /// The tool's key for it.
    pub key: String,
    /// `elicitation/create`, `sampling/createMessage` or `roots/list`.
    pub method: String,
    /// The params, as JSON text.
    pub params: String,
}

/// The client's answer for the tool that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolReply {
    /// The run that asked.
    pub token: String,
    /// The question's key.
    pub key: String,
    /// The `ElicitResult`, or `{"error": ...}`, as JSON text.
    pub response: String,
}

/// What a running tool reports while it works.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// How far it has come.
    pub progress: Option<f64>,
    /// What `progress` counts up to.
    pub total: Option<f64>,
    /// A line for humans.
    pub message: Option<String>,
}

/// How severe a log line is: RFC 5424's levels, least severe first, as MCP names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Detail for debugging.
    Debug,
    /// What happens, as it happens.
    Info,
    /// Normal but significant.
    Notice,
    /// Worth a look.
    Warning,
    /// Something failed.
    Error,
    /// A part failed.
    Critical,
    /// Action is needed at once.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl LogLevel {
    /// Every level, least severe first.
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
        LogLevel::Alert,
        LogLevel::Emergency,
    ];

    /// The level as the protocol spells it.
    pub fn as_wire(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }

    /// The level the protocol spells so, if any.
    pub fn from_wire(level: &str) -> Option<LogLevel> {
        Self::ALL.into_iter().find(|l| l.as_wire() == level)
    }
}

/// A line a running tool logs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// How severe it is.
    pub level: LogLevel,
    /// Which part of the tool logged it, if it says.
    pub logger: Option<String>,
    /// What it logged, as JSON text.
    pub data: String,
}

/// A message whose answer waits until a task changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// The task waited for.
    pub task_id: String,
    /// Deliver again after this many ms at the latest.
    pub recheck_after: u64,
}

/// What an outgoing message is (see the WIT's `message-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// The answer to a request of the client's.
    Response,
    /// A notification.
    Notification,
    /// A request of the server's to the client.
    Request,
}

/// One message for the client, with what a host needs to route it (see the WIT's `outgoing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The JSON text of the message.
    pub message: String,
    /// Its kind.
    pub kind: MessageKind,
    /// For a response: the id of the request it answers, as JSON text.
    pub answers: Option<String>,
    /// For a response: the HTTP status it goes with when it answers a 2026-07-28 request.
    pub http_status: u16,
    /// For a response: the method of the request it answers.
    pub method: Option<String>,
    /// For a response with a method: the era it was served in.
    pub era: Option<Era>,
    /// For a response: whether it is a JSON-RPC error.
    pub is_error: bool,
}

impl Outgoing {
    /// A response to the request `id` (null: an id that could not be read), with the HTTP status
    /// it goes with in the 2026-07-28 era.
    pub fn response(id: &serde_json::Value, message: String, http_status: u16) -> Self {
        Self {
            message,
            kind: MessageKind::Response,
            answers: (!id.is_null()).then(|| id.to_string()),
            http_status,
            method: None,
            era: None,
            is_error: false,
        }
    }

    /// An error response to the request `id` (see [`Outgoing::response`]).
    pub fn error(id: &serde_json::Value, message: String, http_status: u16) -> Self {
        Self {
            is_error: true,
            ..Self::response(id, message, http_status)
        }
    }

    /// A notification.
    pub fn notification(message: String) -> Self {
        Self {
            message,
            kind: MessageKind::Notification,
            answers: None,
            http_status: 200,
            method: None,
            era: None,
            is_error: false,
        }
    }

    /// A request of the server's.
    pub fn request(message: String) -> Self {
        Self {
            message,
            kind: MessageKind::Request,
            answers: None,
            http_status: 200,
            method: None,
            era: None,
            is_error: false,
        }
    }
}

/// One thing the host must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this JSON-RPC message to the client.
    Send(Outgoing),
    /// Keep this session state.
    SetSession(String),
    /// Start a tool.
    RunTool(Run),
    /// Stop the run with this token.
    StopTool(String),
    /// Hold the message and deliver it again later.
    Wait(Wait),
    /// This task changed: wake what waits on it.
    Changed(String),
    /// Hand the client's answer to the tool.
    ReplyTool(ToolReply),
    /// Keep this as the run's state from now on.
    UpdateRun {
        /// The run.
        token: String,
        /// Its state from now on.
        state: String,
    },
    /// Know the run `from` as `to`, with this state, from now on.
    RenameRun {
        /// The old token.
        from: String,
        /// The new token.
        to: String,
        /// The run's state from now on.
        state: String,
    },
    /// Keep a subscription to these tasks.
    Listen {
        /// The subscription's name.
        subscription: String,
        /// The tasks it follows.
        task_ids: Vec<String>,
    },
    /// End a subscription.
    Unlisten(String),
    /// Log this for the operator.
    Log(String),
}
