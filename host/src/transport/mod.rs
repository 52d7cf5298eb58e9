//! How messages reach clients: newline-delimited JSON-RPC on a byte stream (`stdio`), and MCP's
//! Streamable HTTP ([`http`]). Both hand each incoming message to the same hub; only where the
//! answers go differs, and that is an outbox (`crate::outbox`).

pub mod http;
pub(crate) mod stdio;

pub use crate::limits::Limits;
