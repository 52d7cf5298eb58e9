//! `mcp-tasks`: MCP Tasks served by a WebAssembly component, in both eras of the protocol:
//! 2025-11-25 (`initialize`, `tasks/result`, `tasks/list`) and 2026-07-28 with the extension
//! `io.modelcontextprotocol/tasks` (`server/discover`, results inlined on `tasks/get`,
//! `tasks/update`), chosen per message.
//!
//! Every task rule — the status lifecycle, how a `tools/call` becomes a task, every tasks
//! method of both eras, ownership and expiry — lives in the component
//! built from `guest/` (its interface is [`WIT`]). This crate hosts it with wasmtime: it provides
//! the component's imports (a [`TaskStore`] and the server's tools), runs [`Tool`]s, and serves
//! newline-delimited JSON-RPC ([`Server::serve`]; on this process's stdin and stdout,
//! [`Server::serve_stdio_until`]) or MCP's Streamable HTTP, where each
//! authenticated caller owns its tasks ([`Server::serve_http`], [`transport::http`]). It never
//! decides a status itself.
//!
//! A host that wants only the rules, with no store and no router, loads the smaller
//! state-machine component with [`Machine`].
//!
//! An embedder builds a [`Server`] with its own store and tools:
//!
//! ```
//! use std::sync::Arc;
//! use mcp_tasks::types::{Report, TaskSupport, ToolInfo};
//! use mcp_tasks::{Server, Tool, ToolContext, ToolOutcome};
//! use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//!
//! /// Counts to `n`, reporting each step: as progress (a `notifications/progress` to a client
//! /// that asks with a `progressToken`) and as the task's status message.
//! struct Count(ToolInfo);
//!
//! #[mcp_tasks::async_trait]
//! impl Tool for Count {
//!     fn info(&self) -> &ToolInfo {
//!         &self.0
//!     }
//!     async fn call(&self, arguments: serde_json::Value, cx: ToolContext) -> ToolOutcome {
//!         let n = arguments["n"].as_u64().unwrap_or(3);
//!         for i in 1..=n {
//!             cx.report(Report {
//!                 progress: Some(i as f64),
//!                 total: Some(n as f64),
//!                 message: Some(format!("counted {i} of {n}")),
//!             });
//!         }
//!         ToolOutcome::text(format!("counted to {n}"))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let count = Count(ToolInfo {
//!     description: Some("Count to n".into()),
//!     task_support: TaskSupport::Optional,
//!     ..ToolInfo::new("count", r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#)
//! });
//! let server = Server::builder().owner("alice").tool(Arc::new(count)).build()?;
//!
//! // Any byte stream works; here an in-memory pipe stands in for stdio.
//! let (client, server_end) = tokio::io::duplex(64 * 1024);
//! let (server_in, server_out) = tokio::io::split(server_end);
//! tokio::spawn(async move { server.serve(BufReader::new(server_in), server_out).await });
//! let (client_in, mut client_out) = tokio::io::split(client);
//! let mut lines = BufReader::new(client_in).lines();
//!
//! // Call the tool as a task, then wait for its result with tasks/result.
//! client_out
//!     .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"count\",\"arguments\":{\"n\":5},\"task\":{\"ttl\":60000}}}\n")
//!     .await?;
//! let created: serde_json::Value = serde_json::from_str(&lines.next_line().await?.unwrap())?;
//! let task_id = created["result"]["task"]["taskId"].as_str().unwrap().to_string();
//! let request = serde_json::json!({
//!     "jsonrpc": "2.0", "id": 2, "method": "tasks/result", "params": { "taskId": task_id }
//! });
//! client_out.write_all(format!("{request}\n").as_bytes()).await?;
//! loop {
//!     let message: serde_json::Value = serde_json::from_str(&lines.next_line().await?.unwrap())?;
//!     if message["id"] == 2 {
//!         assert_eq!(message["result"]["content"][0]["text"], "counted to 5");
//!         break;
//!     }
//!     // Meanwhile: notifications/tasks/status as the task completes.
//!     assert_eq!(message["method"], "notifications/tasks/status");
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

// The shared test fixtures name the crate by its name, as the tests outside it do.
#[cfg(test)]
extern crate self as mcp_tasks;
#[cfg(test)]
#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

pub mod admin;
mod bindings;
mod cache;
mod component;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod hub;
mod limits;
mod lines;
mod machine;
pub mod metrics;
mod outbox;
mod server;
pub mod store;
pub mod tools;
pub mod traces;
pub mod transport;
mod util;

pub use async_trait::async_trait;
pub use cache::CompileCache;
pub use component::{
    AdminCall, AdminDone, Call, ComponentSource, EMBEDDED_COMPONENT, EMBEDDED_MACHINE_COMPONENT,
    Guest, GuestError,
};
pub use machine::{Machine, TransitionError};
pub use server::{Server, ServerBuilder};
pub use store::{MemoryStore, TaskStore};
pub use tools::{
    CommandTool, InputError, OutputLimits, Question, Tool, ToolContext, ToolOutcome, ToolsFile,
    Workflow,
};
pub use util::os_user;

/// How often, in ms, a host sweeps: expiry, lease renewal, runs whose task ended on another host
/// (so a cancel there reaches the tool here within about this long). Hubs sweep at this pace, and
/// the tools file's `lease_ms` must leave room for two sweeps.
pub(crate) const SWEEP_EVERY_MS: u64 = 500;

/// The WIT package `mcp:tasks@0.9.0` that the component implements.
pub const WIT: &str = include_str!("../wit/tasks.wit");

/// The types of the WIT package, as the host sees them.
pub mod types {
    pub use crate::bindings::exports::mcp::tasks::admin::AdminError;
    pub use crate::bindings::exports::mcp::tasks::router::{
        Action, Context, Listen, LogEntry, LogLevel, MessageKind, Outgoing, ProtocolVersion,
        Rename, Report, Run, RunUpdate, ToolQuestion, ToolReply, Wait,
    };
    pub use crate::bindings::mcp::tasks::server::{Settings, TaskSupport, Tool as ToolInfo};
    pub use crate::bindings::mcp::tasks::store::{Page, StoreError};
    pub use crate::bindings::mcp::tasks::types::{
        Era, HistoryEntry, HistoryEvent, InputRequest, InputState, Outcome, RpcError, Status, Task,
    };
}
