//! Plain Rust mirrors of the WIT types, so the rules compile and test natively.
//!
//! `lib.rs` converts between these and the generated bindings at the component boundary.

mod calls;

pub use calls::*;

/// Where a task is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Being processed; every task starts here.
    Working,
    /// Waiting for input from the requestor.
    InputRequired,
    /// Finished; the result is available.
    Completed,
    /// Finished unsuccessfully.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl Status {
    /// The status as the protocol spells it.
    pub fn as_wire(self) -> &'static str {
        match self {
            Status::Working => "working",
            Status::InputRequired => "input_required",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i32,
    /// A human-readable description.
    pub message: String,
    /// Extra information as JSON text.
    pub data: Option<String>,
}

/// How the request underneath a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The JSON `result` object, as text.
    Result(String),
    /// The JSON-RPC error.
    Error(RpcError),
}

/// The protocol era a task was created in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// 2025-11-25: `initialize`, `params.task`, `tasks/result`.
    Legacy,
    /// 2026-07-28 with the extension `io.modelcontextprotocol/tasks`.
    Modern,
}

/// Where one of a task's questions stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputState {
    /// Waiting for the client; not sent as a request.
    Open,
    /// Sent to a legacy client as a request; waiting for its response.
    Sent,
    /// Answered; not yet handed to the tool.
    Answered,
    /// Handed to the tool; kept so the key is never reused.
    Done,
}

impl InputState {
    /// Whether the client still owes an answer.
    pub fn is_outstanding(self) -> bool {
        matches!(self, InputState::Open | InputState::Sent)
    }
}

/// A question a task put to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRequest {
    /// Unique over the task's life.
    pub key: String,
    /// The request's method.
    pub method: String,
    /// The request's params, as JSON text.
    pub params: String,
    /// Where it stands.
    pub state: InputState,
    /// The client's answer, as JSON text.
    pub response: Option<String>,
}

/// What one entry of a task's history records. See `wit/tasks.wit`'s `history-event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryEvent {
    /// Created; the detail names the transport.
    Created,
    /// The status moved; the detail is the new status message.
    Status,
    /// An attempt started on the entry's host.
    AttemptStarted,
    /// An attempt ended; the detail says how.
    AttemptEnded,
    /// A workflow went on to its next step; the detail names it.
    Step,
    /// A question was asked; the detail is its key and method.
    Asked,
    /// A question was answered; the detail is its key.
    Answered,
    /// An operator re-ran the task; the detail is the new task's ID.
    Retried,
}

/// One change in a task's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When, ms since the epoch.
    pub at: u64,
    /// What happened.
    pub event: HistoryEvent,
    /// The status after the change.
    pub status: Status,
    /// The attempt after the change (the one that ended, for `AttemptEnded`).
    pub attempt: u32,
    /// The host the entry is about.
    pub host: String,
    /// Who made the change.
    pub by: String,
    /// What the event says more.
    pub detail: Option<String>,
}

/// One task as the store keeps it. See `wit/tasks.wit` for each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The era it was created in.
    pub era: Era,
    /// The task ID.
    pub id: String,
    /// The owner; only they see the task.
    pub owner: String,
    /// The current status.
    pub status: Status,
    /// A note on the current status.
    pub status_message: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_at: u64,
    /// Time of the last change, ms since the epoch.
    pub last_updated_at: u64,
    /// Retention from creation in ms; `None` is unlimited.
    pub ttl: Option<u64>,
    /// Suggested polling interval in ms.
    pub poll_interval: Option<u64>,
    /// Compare-and-swap version; bumped by one on every change.
    pub version: u64,
    /// The original request as JSON text.
    pub request: String,
    /// The final outcome once terminal.
    pub outcome: Option<Outcome>,
    /// Every question asked, in order.
    pub input_requests: Vec<InputRequest>,
    /// The host running the task's tool.
    pub executor: Option<String>,
    /// Until when the executor's lease holds, ms since the epoch.
    pub lease_until: Option<u64>,
    /// Which run of its tool (or, in a workflow, of its step) this is, from 1.
    pub attempt: u32,
    /// What the router keeps with the task between runs, a JSON object as text.
    pub variables: Option<String>,
    /// Every change, oldest first, bounded (see `router::history`).
    pub history: Vec<HistoryEntry>,
}

#[cfg(test)]
impl Task {
    /// A working 2025-11-25 task, every other field at its plainest, for tests to change what
    /// they need with struct update syntax: the one place in the tests that lists every field.
    pub(crate) fn plain(id: &str, owner: &str, created_at: u64) -> Task {
        Task {
            era: Era::Legacy,
            id: id.into(),
            owner: owner.into(),
            status: Status::Working,
            status_message: None,
            created_at,
            last_updated_at: created_at,
            ttl: None,
            poll_interval: None,
            version: 1,
            request: "{}".into(),
            outcome: None,
            input_requests: Vec::new(),
            executor: None,
            lease_until: None,
            attempt: 1,
            variables: None,
            history: Vec::new(),
        }
    }
}

impl Task {
    /// Whether any question still waits for the client.
    pub fn awaits_input(&self) -> bool {
        self.input_requests.iter().any(|q| q.state.is_outstanding())
    }

    /// Whether the task's ttl has run out at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.ttl
            .is_some_and(|ttl| self.created_at.saturating_add(ttl) <= now)
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No task has that ID.
    NotFound,
    /// The ID is taken.
    AlreadyExists,
    /// The stored version differs; carries it.
    Conflict(u64),
    /// The cursor was not issued by this store.
    InvalidCursor,
    /// The backend failed.
    Unavailable(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("task not found"),
            Self::AlreadyExists => f.write_str("task ID already exists"),
            Self::Conflict(v) => write!(f, "version conflict (stored version {v})"),
            Self::InvalidCursor => f.write_str("invalid cursor"),
            Self::Unavailable(why) => write!(f, "store unavailable: {why}"),
        }
    }
}

/// One page of a store listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Tasks in creation order.
    pub tasks: Vec<Task>,
    /// Where the next page starts, while more remain.
    pub next_cursor: Option<String>,
}

/// Whether a tool runs as a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSupport {
    /// Never as a task.
    Forbidden,
    /// Either way.
    Optional,
    /// Only as a task.
    Required,
}

impl TaskSupport {
    /// As `execution.taskSupport` spells it.
    pub fn as_wire(self) -> &'static str {
        match self {
            TaskSupport::Forbidden => "forbidden",
            TaskSupport::Optional => "optional",
            TaskSupport::Required => "required",
        }
    }
}

/// A tool as `tools/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// Unique name.
    pub name: String,
    /// Display name.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// JSON Schema of the arguments, as text.
    pub input_schema: String,
    /// JSON Schema of `structuredContent`, as text.
    pub output_schema: Option<String>,
    /// Whether it runs as a task.
    pub task_support: TaskSupport,
    /// Whether a 2026-07-28 task of it waits for the tool to say so (see the WIT).
    pub defer_task: bool,
    /// A sentence for the model while a 2025-11-25 task of it works (see the WIT).
    pub immediate_response: Option<String>,
    /// How many times a task of it runs at most.
    pub max_attempts: u32,
    /// The wait before the second attempt, in ms; doubled for each later one.
    pub retry_backoff: u64,
    /// The window in which an equal call gets the same task, in ms.
    pub dedup_window: Option<u64>,
    /// Whether its tasks are queued for a host that claims them.
    pub queue: bool,
    /// The tools a workflow runs one after the other; empty for an ordinary tool.
    pub steps: Vec<String>,
}

impl Tool {
    /// Whether it runs as a task: a workflow only ever does (its steps are one task's runs),
    /// whatever its `task_support` says.
    pub fn support(&self) -> TaskSupport {
        if self.steps.is_empty() {
            self.task_support
        } else {
            TaskSupport::Required
        }
    }
}

/// The server's identity and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `serverInfo.name`.
    pub name: String,
    /// `serverInfo.version`.
    pub version: String,
    /// `instructions`.
    pub instructions: Option<String>,
    /// The ttl given when a request asks for none.
    pub default_ttl: Option<u64>,
    /// The longest ttl granted.
    pub max_ttl: Option<u64>,
    /// The suggested polling interval.
    pub poll_interval: u64,
    /// The most tasks one `tasks/list` page holds.
    pub page_size: u32,
    /// How long a host's lease on a task lasts, in ms.
    pub lease: u64,
    /// The secret that signs `requestState`.
    pub state_key: String,
    /// The least time (ms) between two progress notifications of one request.
    pub progress_interval: u64,
    /// Whether new tasks are queued for another host to claim.
    pub queue: bool,
    /// How many runs this host may have going when it claims more.
    pub claim_limit: u32,
}

/// Where tasks live: the guest's view of the imported `store` interface.
pub trait Store {
    /// The task with this ID, if any.
    fn get(&self, id: &str) -> Result<Option<Task>, StoreError>;
    /// Store a new task.
    fn create(&self, task: &Task) -> Result<(), StoreError>;
    /// Replace the task if the stored version is `expected_version`.
    fn update(&self, task: &Task, expected_version: u64) -> Result<(), StoreError>;
    /// One page of an owner's tasks in creation order.
    fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError>;
    /// Delete a task.
    fn delete(&self, id: &str) -> Result<(), StoreError>;
    /// Delete expired tasks; their IDs.
    fn expire(&self, now: u64) -> Result<Vec<String>, StoreError>;
    /// Non-terminal tasks whose lease lapsed by `now`; at most `limit` IDs.
    fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError>;
}

/// The guest's view of the imported `server` interface.
pub trait Server {
    /// Identity and limits.
    fn settings(&self) -> std::borrow::Cow<'_, Settings>;
    /// Every tool.
    fn tools(&self) -> Vec<Tool>;
    /// One tool by name.
    fn find_tool(&self, name: &str) -> Option<Tool>;
}
