//! The rules of MCP Tasks (protocol revision 2025-11-25), built as the WebAssembly component
//! `mcp:tasks/tasks` and usable natively as a plain Rust library.
//!
//! - [`machine`]: the task state machine (which status may follow which).
//! - [`router`]: the JSON-RPC router for `initialize`, `tools/*` and every `tasks/*` method. It
//!   keeps no state: it reads and writes a [`model::Store`] and returns [`model::Action`]s for
//!   its host to carry out.
//! - [`protocol`]: the JSON-RPC and MCP wire format.
//! - [`model`]: plain Rust mirrors of the WIT types, and the [`model::Store`] and
//!   [`model::Server`] traits the component's imports implement.
//!
//! Compiled for `wasm32-wasip2`, the private `component` module binds these to `wit/tasks.wit`:
//! to the world `tasks` by default, or, with the feature `machine-only`, to the world
//! `state-machine` (the pure state machine, importing no store).
//! Compiled natively, the same code runs against any Rust implementation of the two traits:
//!
//! ```
//! use mcp_tasks_guest::machine::{can_transition, is_terminal};
//! use mcp_tasks_guest::model::Status;
//!
//! assert!(can_transition(Status::Working, Status::InputRequired));
//! assert!(!can_transition(Status::Completed, Status::Working));
//! assert!(is_terminal(Status::Cancelled));
//! ```
#![deny(missing_docs)]

pub mod machine;
pub mod model;
pub mod protocol;
pub mod request_state;
pub mod router;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

#[cfg(target_arch = "wasm32")]
mod component;
