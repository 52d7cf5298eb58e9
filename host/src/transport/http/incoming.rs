//! One POSTed message: read once, placed in its era, and (2026-07-28) its envelope and headers
//! checked against each other.

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::{Http, META_VERSION, Refused, headers, refusal};

/// One POSTed message, read and placed in its era.
pub(super) struct Incoming {
    pub(super) text: String,
    pub(super) message: Value,
    /// A request's id; none for a notification or a response.
    pub(super) id: Option<Value>,
    pub(super) method: Option<String>,
    /// A 2026-07-28 message (by its header or by its `_meta`), rather than a session's.
    pub(super) stateless: bool,
}

impl Incoming {
    /// Read one POSTed body; `stateless` is the version whose requests are stateless.
    pub(super) fn read(body: &[u8], headers: &HeaderMap, stateless: &str) -> Result<Self, Refused> {
        let refused =
            |code, message: &str| Box::new(refusal(StatusCode::BAD_REQUEST, None, code, message));
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| refused(-32700, "Parse error: the body is not UTF-8"))?;
        let message: Value = serde_json::from_str(&text)
            .map_err(|e| refused(-32700, &format!("Parse error: {e}")))?;
        if !message.is_object() {
            return Err(refused(
                -32600,
                "Invalid Request: a POST carries one JSON-RPC message, not a batch",
            ));
        }
        let id = message.get("id").filter(|id| !id.is_null()).cloned();
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        let stateless =
            header_version(headers) == Some(stateless) || body_version(&message).is_some();
        Ok(Self {
            text,
            message,
            id,
            method,
            stateless,
        })
    }

    pub(super) fn is_request(&self) -> bool {
        self.method.is_some() && self.id.is_some()
    }

    pub(super) fn is(&self, method: &str) -> bool {
        self.method.as_deref() == Some(method)
    }
}

pub(super) fn header_version(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("mcp-protocol-version")
        .and_then(|h| h.to_str().ok())
}

fn body_version(message: &Value) -> Option<&str> {
    message
        .pointer("/params/_meta")
        .and_then(|m| m.get(META_VERSION))
        .and_then(Value::as_str)
}

impl Http {
    /// A 2026-07-28 request's envelope (`_meta`) and headers, checked against each other.
    pub(super) fn check_stateless(
        &self,
        headers: &HeaderMap,
        incoming: &Incoming,
    ) -> Result<(), Refused> {
        let id = incoming.id.as_ref();
        let refused =
            |code, message: String| Box::new(refusal(StatusCode::BAD_REQUEST, id, code, &message));
        // A request the header puts in the stateless era must say so in its body too: 400, as
        // the spec asks of envelope errors. (The rest of the envelope, its capabilities, is the
        // component's to check: it answers their absence with a 400 of its own.)
        let stateless = &self.versions.stateless;
        if body_version(&incoming.message).is_none() {
            return Err(refused(
                -32602,
                format!(
                    "Invalid params: a {stateless} request carries {META_VERSION} in params._meta"
                ),
            ));
        }
        let (header, body) = (header_version(headers), body_version(&incoming.message));
        if header != body {
            return Err(refused(
                -32020,
                format!(
                    "Header mismatch: MCP-Protocol-Version header {} does not match _meta {META_VERSION} {}",
                    header.unwrap_or("(missing)"),
                    body.unwrap_or("(missing)")
                ),
            ));
        }
        let schema = match incoming.message.pointer("/params/name") {
            Some(Value::String(tool)) if incoming.is("tools/call") => self.hub.input_schema(tool),
            _ => None,
        };
        headers::check(headers, &incoming.message, schema.as_ref())
            .map_err(|mismatch| refused(-32020, format!("Header mismatch: {mismatch}")))
    }
}
