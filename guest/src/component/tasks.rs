//! The world `tasks`: the router export and the `store` and `server` imports.

use super::exports::mcp::tasks::router as wit_router;
use super::mcp::tasks::{server as wit_server, store as wit_store};
use super::{Component, wit};
use crate::model::{self, Action, Context, Page, Status, StoreError, Task};
use crate::router::Router;

impl wit_router::Guest for Component {
    fn versions() -> Vec<wit_router::ProtocolVersion> {
        crate::protocol::ALL_PROTOCOL_VERSIONS
            .iter()
            .map(|&version| wit_router::ProtocolVersion {
                version: version.to_string(),
                era: if version == crate::protocol::MODERN_PROTOCOL_VERSION {
                    wit::Era::Modern
                } else {
                    wit::Era::Legacy
                },
            })
            .collect()
    }

    fn handle(message: String, ctx: wit_router::Context) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        convert(Router::new(&ImportedStore, &ImportedServer, &ctx).handle(&message))
    }

    fn handle_batch(
        messages: Vec<String>,
        ctx: wit_router::Context,
    ) -> Vec<Vec<wit_router::Action>> {
        let ctx = ctx.into();
        crate::router::handle_batch(&ImportedStore, &ImportedServer, &ctx, &messages)
            .into_iter()
            .map(convert)
            .collect()
    }

    fn tool_progress(
        token: String,
        run_state: String,
        report: wit_router::Report,
        ctx: wit_router::Context,
    ) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        let report = model::Report {
            progress: report.progress,
            total: report.total,
            message: report.message,
        };
        convert(
            Router::new(&ImportedStore, &ImportedServer, &ctx)
                .tool_progress(&token, &run_state, &report),
        )
    }

    fn tool_log(
        token: String,
        entry: wit_router::LogEntry,
        ctx: wit_router::Context,
    ) -> Vec<wit_router::Action> {
        use wit_router::LogLevel as L;
        let ctx = ctx.into();
        let entry = model::LogEntry {
            level: match entry.level {
                L::Debug => model::LogLevel::Debug,
                L::Info => model::LogLevel::Info,
                L::Notice => model::LogLevel::Notice,
                L::Warning => model::LogLevel::Warning,
                L::Error => model::LogLevel::Error,
                L::Critical => model::LogLevel::Critical,
                L::Alert => model::LogLevel::Alert,
                L::Emergency => model::LogLevel::Emergency,
            },
            logger: entry.logger,
            data: entry.data,
        };
        convert(Router::new(&ImportedStore, &ImportedServer, &ctx).tool_log(&token, &entry))
    }

    fn tool_finished(
        token: String,
        outcome: wit::Outcome,
        message: Option<String>,
        ctx: wit_router::Context,
    ) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        convert(
            Router::new(&ImportedStore, &ImportedServer, &ctx).tool_finished(
                &token,
                outcome.into(),
                message,
            ),
        )
    }

    fn tool_input(
        token: String,
        run_state: String,
        questions: Vec<wit_router::ToolQuestion>,
        ctx: wit_router::Context,
    ) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        let questions: Vec<model::ToolQuestion> = questions
            .into_iter()
            .map(|q| model::ToolQuestion {
                key: q.key,
                method: q.method,
                params: q.params,
            })
            .collect();
        convert(
            Router::new(&ImportedStore, &ImportedServer, &ctx)
                .tool_input(&token, &run_state, &questions),
        )
    }

    fn tool_released(
        token: String,
        hand_back: bool,
        ctx: wit_router::Context,
    ) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        convert(Router::new(&ImportedStore, &ImportedServer, &ctx).tool_released(&token, hand_back))
    }

    fn tool_detached(
        token: String,
        run_state: String,
        ctx: wit_router::Context,
    ) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        convert(
            Router::new(&ImportedStore, &ImportedServer, &ctx).tool_detached(&token, &run_state),
        )
    }

    fn task_changed(
        subscription: String,
        task_id: String,
        ctx: wit_router::Context,
    ) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        convert(
            Router::new(&ImportedStore, &ImportedServer, &ctx)
                .task_changed(&subscription, &task_id),
        )
    }

    fn request_stopped(message: String, ctx: wit_router::Context) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        convert(Router::new(&ImportedStore, &ImportedServer, &ctx).request_stopped(&message))
    }

    fn listen_ended(subscription: String, ctx: wit_router::Context) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        convert(Router::new(&ImportedStore, &ImportedServer, &ctx).listen_ended(&subscription))
    }

    fn sweep(
        running: Vec<String>,
        claim: bool,
        ctx: wit_router::Context,
    ) -> Vec<wit_router::Action> {
        let ctx = ctx.into();
        convert(Router::new(&ImportedStore, &ImportedServer, &ctx).sweep(&running, claim))
    }
}
/// The imported `store` interface behind the router's [`model::Store`] trait.
pub(super) struct ImportedStore;

impl model::Store for ImportedStore {
    fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        wit_store::get(id)
            .map(|t| t.map(Into::into))
            .map_err(Into::into)
    }

    fn create(&self, task: &Task) -> Result<(), StoreError> {
        wit_store::create(&task.clone().into()).map_err(Into::into)
    }

    fn update(&self, task: &Task, expected_version: u64) -> Result<(), StoreError> {
        wit_store::update(&task.clone().into(), expected_version).map_err(Into::into)
    }

    fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let page = wit_store::list(owner, status.map(Into::into), cursor, limit)?;
        Ok(Page {
            tasks: page.tasks.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        })
    }

    fn delete(&self, id: &str) -> Result<(), StoreError> {
        wit_store::delete(id).map_err(Into::into)
    }

    fn expire(&self, now: u64) -> Result<Vec<String>, StoreError> {
        wit_store::expire(now).map_err(Into::into)
    }

    fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError> {
        wit_store::abandoned(now, limit).map_err(Into::into)
    }
}

/// The imported `server` interface behind the router's [`model::Server`] trait.
pub(super) struct ImportedServer;

impl model::Server for ImportedServer {
    fn settings(&self) -> std::borrow::Cow<'_, model::Settings> {
        // Read across the boundary once per instance: the host's settings never change.
        static SETTINGS: std::sync::OnceLock<model::Settings> = std::sync::OnceLock::new();
        std::borrow::Cow::Borrowed(SETTINGS.get_or_init(imported_settings))
    }

    fn tools(&self) -> Vec<model::Tool> {
        wit_server::tools().into_iter().map(Into::into).collect()
    }

    fn find_tool(&self, name: &str) -> Option<model::Tool> {
        wit_server::find_tool(name).map(Into::into)
    }
}

/// The host's settings, read across the boundary.
fn imported_settings() -> model::Settings {
    let s = wit_server::get_settings();
    model::Settings {
        name: s.name,
        version: s.version,
        instructions: s.instructions,
        default_ttl: s.default_ttl,
        max_ttl: s.max_ttl,
        poll_interval: s.poll_interval,
        page_size: s.page_size,
        lease: s.lease,
        state_key: s.state_key,
        progress_interval: s.progress_interval,
        queue: s.queue,
        claim_limit: s.claim_limit,
    }
}

pub(super) fn convert(actions: Vec<Action>) -> Vec<wit_router::Action> {
    actions
        .into_iter()
        .map(|a| match a {
            Action::Send(o) => wit_router::Action::Send(wit_router::Outgoing {
                message: o.message,
                kind: match o.kind {
                    model::MessageKind::Response => wit_router::MessageKind::Response,
                    model::MessageKind::Notification => wit_router::MessageKind::Notification,
                    model::MessageKind::Request => wit_router::MessageKind::Request,
                },
                answers: o.answers,
                http_status: o.http_status,
                method: o.method,
                era: o.era.map(|e| match e {
                    model::Era::Legacy => wit::Era::Legacy,
                    model::Era::Modern => wit::Era::Modern,
                }),
                is_error: o.is_error,
            }),
            Action::SetSession(s) => wit_router::Action::SetSession(s),
            Action::RunTool(r) => wit_router::Action::RunTool(wit_router::Run {
                token: r.token,
                state: r.state,
                task_id: r.task_id,
                tool: r.tool,
                arguments: r.arguments,
                trace_context: r.trace_context,
            }),
            Action::StopTool(t) => wit_router::Action::StopTool(t),
            Action::Wait(w) => wit_router::Action::Wait(wit_router::Wait {
                task_id: w.task_id,
                recheck_after: w.recheck_after,
            }),
            Action::Changed(id) => wit_router::Action::Changed(id),
            Action::ReplyTool(r) => wit_router::Action::ReplyTool(wit_router::ToolReply {
                token: r.token,
                key: r.key,
                response: r.response,
            }),
            Action::UpdateRun { token, state } => {
                wit_router::Action::UpdateRun(wit_router::RunUpdate { token, state })
            }
            Action::RenameRun { from, to, state } => {
                wit_router::Action::RenameRun(wit_router::Rename { from, to, state })
            }
            Action::Listen {
                subscription,
                task_ids,
            } => wit_router::Action::Listen(wit_router::Listen {
                subscription,
                task_ids,
            }),
            Action::Unlisten(s) => wit_router::Action::Unlisten(s),
            Action::Log(m) => wit_router::Action::Log(m),
        })
        .collect()
}
impl From<wit_router::Context> for Context {
    fn from(c: wit_router::Context) -> Self {
        Context {
            owner: c.owner,
            now: c.now,
            session: c.session,
            executor: c.executor,
            push: c.push,
            client: c.client,
            transport: c.transport,
        }
    }
}
impl From<wit_store::StoreError> for StoreError {
    fn from(e: wit_store::StoreError) -> Self {
        match e {
            wit_store::StoreError::NotFound => StoreError::NotFound,
            wit_store::StoreError::AlreadyExists => StoreError::AlreadyExists,
            wit_store::StoreError::Conflict(v) => StoreError::Conflict(v),
            wit_store::StoreError::InvalidCursor => StoreError::InvalidCursor,
            wit_store::StoreError::Unavailable(why) => StoreError::Unavailable(why),
        }
    }
}

impl From<wit_server::Tool> for model::Tool {
    fn from(t: wit_server::Tool) -> Self {
        model::Tool {
            name: t.name,
            title: t.title,
            description: t.description,
            input_schema: t.input_schema,
            output_schema: t.output_schema,
            defer_task: t.defer_task,
            immediate_response: t.immediate_response,
            max_attempts: t.max_attempts,
            retry_backoff: t.retry_backoff,
            dedup_window: t.dedup_window,
            queue: t.queue,
            steps: t.steps,
            task_support: match t.task_support {
                wit_server::TaskSupport::Forbidden => model::TaskSupport::Forbidden,
                wit_server::TaskSupport::Optional => model::TaskSupport::Optional,
                wit_server::TaskSupport::Required => model::TaskSupport::Required,
            },
        }
    }
}
