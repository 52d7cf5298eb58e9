//! Binding glue between `wit/tasks.wit` and the plain modules: conversions only, no rules.
//!
//! Built by default for the world `tasks` (state machine and router; imports the store). With
//! the feature `machine-only`, for the world `state-machine`: the pure state machine, importing
//! nothing a plain WASI host does not give.

#[cfg(not(feature = "machine-only"))]
wit_bindgen::generate!({
    world: "tasks",
    path: "../wit",
});

#[cfg(feature = "machine-only")]
wit_bindgen::generate!({
    world: "state-machine",
    path: "../wit",
});

#[cfg(not(feature = "machine-only"))]
mod admin;
#[cfg(not(feature = "machine-only"))]
mod tasks;

use exports::mcp::tasks::machine as wit_machine;
use mcp::tasks::types as wit;

use crate::machine::{self, TransitionError};
use crate::model::{self, Outcome, RpcError, Status, Task};

struct Component;

export!(Component);

impl wit_machine::Guest for Component {
    fn can_transition(from: wit::Status, to: wit::Status) -> bool {
        machine::can_transition(from.into(), to.into())
    }

    fn is_terminal(s: wit::Status) -> bool {
        machine::is_terminal(s.into())
    }

    fn transition(
        task: wit::Task,
        to: wit::Status,
        message: Option<String>,
        now: u64,
    ) -> Result<wit::Task, wit_machine::TransitionError> {
        machine::transition(task.into(), to.into(), message, now)
            .map(Into::into)
            .map_err(|e| match e {
                TransitionError::Terminal(s) => wit_machine::TransitionError::Terminal(s.into()),
                TransitionError::NotAllowed(a, b) => {
                    wit_machine::TransitionError::NotAllowed((a.into(), b.into()))
                }
            })
    }
}
impl From<wit::Status> for Status {
    fn from(s: wit::Status) -> Self {
        match s {
            wit::Status::Working => Status::Working,
            wit::Status::InputRequired => Status::InputRequired,
            wit::Status::Completed => Status::Completed,
            wit::Status::Failed => Status::Failed,
            wit::Status::Cancelled => Status::Cancelled,
        }
    }
}

impl From<Status> for wit::Status {
    fn from(s: Status) -> Self {
        match s {
            Status::Working => wit::Status::Working,
            Status::InputRequired => wit::Status::InputRequired,
            Status::Completed => wit::Status::Completed,
            Status::Failed => wit::Status::Failed,
            Status::Cancelled => wit::Status::Cancelled,
        }
    }
}

impl From<wit::Outcome> for Outcome {
    fn from(o: wit::Outcome) -> Self {
        match o {
            wit::Outcome::Success(r) => Outcome::Result(r),
            wit::Outcome::Error(e) => Outcome::Error(RpcError {
                code: e.code,
                message: e.message,
                data: e.data,
            }),
        }
    }
}

impl From<Outcome> for wit::Outcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Result(r) => wit::Outcome::Success(r),
            Outcome::Error(e) => wit::Outcome::Error(wit::RpcError {
                code: e.code,
                message: e.message,
                data: e.data,
            }),
        }
    }
}

impl From<wit::Task> for Task {
    fn from(t: wit::Task) -> Self {
        Task {
            id: t.id,
            owner: t.owner,
            status: t.status.into(),
            status_message: t.status_message,
            created_at: t.created_at,
            last_updated_at: t.last_updated_at,
            ttl: t.ttl,
            poll_interval: t.poll_interval,
            version: t.version,
            request: t.request,
            outcome: t.outcome.map(Into::into),
            era: match t.era {
                wit::Era::Legacy => model::Era::Legacy,
                wit::Era::Modern => model::Era::Modern,
            },
            input_requests: t
                .input_requests
                .into_iter()
                .map(|r| model::InputRequest {
                    key: r.key,
                    method: r.method,
                    params: r.params,
                    state: match r.state {
                        wit::InputState::Open => model::InputState::Open,
                        wit::InputState::Sent => model::InputState::Sent,
                        wit::InputState::Answered => model::InputState::Answered,
                        wit::InputState::Done => model::InputState::Done,
                    },
                    response: r.response,
                })
                .collect(),
            executor: t.executor,
            lease_until: t.lease_until,
            attempt: t.attempt,
            variables: t.variables,
            history: t.history.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Task> for wit::Task {
    fn from(t: Task) -> Self {
        wit::Task {
            id: t.id,
            owner: t.owner,
            status: t.status.into(),
            status_message: t.status_message,
            created_at: t.created_at,
            last_updated_at: t.last_updated_at,
            ttl: t.ttl,
            poll_interval: t.poll_interval,
            version: t.version,
            request: t.request,
            outcome: t.outcome.map(Into::into),
            era: match t.era {
                model::Era::Legacy => wit::Era::Legacy,
                model::Era::Modern => wit::Era::Modern,
            },
            input_requests: t
                .input_requests
                .into_iter()
                .map(|r| wit::InputRequest {
                    key: r.key,
                    method: r.method,
                    params: r.params,
                    state: match r.state {
                        model::InputState::Open => wit::InputState::Open,
                        model::InputState::Sent => wit::InputState::Sent,
                        model::InputState::Answered => wit::InputState::Answered,
                        model::InputState::Done => wit::InputState::Done,
                    },
                    response: r.response,
                })
                .collect(),
            executor: t.executor,
            lease_until: t.lease_until,
            attempt: t.attempt,
            variables: t.variables,
            history: t.history.into_iter().map(Into::into).collect(),
        }
    }
}

/// The history events, the same names on both sides.
macro_rules! history_events {
    ($from:path => $to:path: $($name:ident),*) => {{
        use $from as F;
        use $to as T;
        |e: F| match e { $(F::$name => T::$name),* }
    }};
}

impl From<wit::HistoryEntry> for model::HistoryEntry {
    fn from(e: wit::HistoryEntry) -> Self {
        let event = history_events!(wit::HistoryEvent => model::HistoryEvent:
            Created, Status, AttemptStarted, AttemptEnded, Step, Asked, Answered, Retried);
        model::HistoryEntry {
            at: e.at,
            event: event(e.event),
            status: e.status.into(),
            attempt: e.attempt,
            host: e.host,
            by: e.by,
            detail: e.detail,
        }
    }
}

impl From<model::HistoryEntry> for wit::HistoryEntry {
    fn from(e: model::HistoryEntry) -> Self {
        let event = history_events!(model::HistoryEvent => wit::HistoryEvent:
            Created, Status, AttemptStarted, AttemptEnded, Step, Asked, Answered, Retried);
        wit::HistoryEntry {
            at: e.at,
            event: event(e.event),
            status: e.status.into(),
            attempt: e.attempt,
            host: e.host,
            by: e.by,
            detail: e.detail,
        }
    }
}
// Talc beats the standard library's dlmalloc on the many small, short-lived allocations of a
// JSON-RPC call (measured by `cargo bench -p mcp-tasks`).
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
