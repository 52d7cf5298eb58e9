//! The JSON-RPC 2.0 and MCP wire format: parsing incoming messages, building outgoing ones.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::model::{Era, RpcError, Task};

/// The legacy revision this implementation speaks; `initialize` answers it when a client asks
/// for one we do not know.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";

/// Revisions a client may negotiate with `initialize`. Tasks exist only in the first; the older
/// ones share everything else this server offers.
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// The modern revision: no `initialize`, the version and capabilities on every request.
pub const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";

/// Every revision served, newest first, as `server/discover` and -32022 list them.
pub const ALL_PROTOCOL_VERSIONS: [&str; 4] = [
    MODERN_PROTOCOL_VERSION,
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
];

/// The identifier of the tasks extension (SEP-2663).
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// The `_meta` key of a modern request's protocol version.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key of a modern request's client capabilities.
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// The `_meta` key of the server's identity on modern results.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// The `_meta` key that ties a notification to its `subscriptions/listen`.
pub const META_SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// The `_meta` key that ties a message to its task.
pub const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";
/// The `_meta` key of a 2025-11-25 `CreateTaskResult` that holds a sentence for the model while
/// the task works.
pub const META_IMMEDIATE_RESPONSE: &str = "io.modelcontextprotocol/model-immediate-response";

/// JSON-RPC error codes.
pub mod code {
    /// Invalid JSON.
    pub const PARSE_ERROR: i32 = -32700;
    /// Not a valid request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// Unknown method, or a tool called in a way its task support forbids.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Bad parameters: unknown task, bad cursor, unknown tool.
    pub const INVALID_PARAMS: i32 = -32602;
    /// A failure inside the server (the store, a tool runner).
    pub const INTERNAL_ERROR: i32 = -32603;
    /// `tasks/result` of a task that was cancelled before its request finished.
    pub const REQUEST_CANCELLED: i32 = -32800;
    /// Modern: the request lacks a client capability the server needs to serve it.
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i32 = -32021;
    /// Modern: the request's protocol version is not one this server serves.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
    /// Modern, over HTTP: a header does not match the body (the transport checks headers).
    pub const HEADER_MISMATCH: i32 = -32020;
    /// A request the server stopped before answering it: it is shutting down (a server error).
    pub const SERVER_STOPPING: i32 = -32000;
}

/// Which era a request is to be served in, from its `_meta`.
#[derive(Debug, Clone, PartialEq)]
pub enum Requested {
    /// No modern protocol version (or a legacy one): the connection's `initialize` era.
    Legacy,
    /// `2026-07-28`, with the client capabilities this request declares.
    Modern(Capabilities),
    /// A protocol version this server does not serve.
    Unsupported(String),
    /// `2026-07-28` without the `clientCapabilities` every request of that version carries.
    MissingCapabilities,
}

/// The era of a request, read from `params._meta` alone (the rest of the params is skipped, not
/// parsed, so the legacy hot path pays little for the check).
pub fn requested_era(params: Params<'_>) -> Requested {
    #[derive(Deserialize)]
    struct WithMeta<'a> {
        #[serde(rename = "_meta", borrow)]
        meta: Option<Meta<'a>>,
    }
    #[derive(Deserialize)]
    struct Meta<'a> {
        #[serde(rename = "io.modelcontextprotocol/protocolVersion", borrow)]
        version: Option<Cow<'a, str>>,
        #[serde(rename = "io.modelcontextprotocol/clientCapabilities", borrow)]
        capabilities: Option<&'a RawValue>,
    }
    let Some(raw) = params.0 else {
        return Requested::Legacy;
    };
    // A quick look first: most legacy requests carry no `_meta` at all.
    if !raw.get().contains(META_PROTOCOL_VERSION) {
        return Requested::Legacy;
    }
    let Ok(WithMeta {
        meta: Some(Meta {
            version: Some(version),
            capabilities,
        }),
    }) = serde_json::from_str::<WithMeta>(raw.get())
    else {
        return Requested::Legacy;
    };
    if version == MODERN_PROTOCOL_VERSION {
        let Some(capabilities) = capabilities else {
            return Requested::MissingCapabilities;
        };
        // Capabilities that cannot be read declare nothing.
        Requested::Modern(serde_json::from_str(capabilities.get()).unwrap_or_default())
    } else if SUPPORTED_PROTOCOL_VERSIONS.contains(&version.as_ref()) {
        Requested::Legacy
    } else {
        Requested::Unsupported(version.into_owned())
    }
}

/// What a modern request's client capabilities say that the server acts on: whether it declares
/// the tasks extension, and which server-to-client requests it can answer. Read without building
/// the whole capabilities object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// `elicitation` is declared.
    #[serde(deserialize_with = "is_object")]
    pub elicitation: bool,
    /// `sampling` is declared.
    #[serde(deserialize_with = "is_object")]
    pub sampling: bool,
    /// `roots` is declared.
    #[serde(deserialize_with = "is_object")]
    pub roots: bool,
    /// `extensions["io.modelcontextprotocol/tasks"]` is declared.
    #[serde(rename = "extensions", deserialize_with = "declares_tasks")]
    pub tasks: bool,
}

impl Capabilities {
    /// Whether these capabilities let the server put this request to the client.
    pub fn allows(self, method: &str) -> bool {
        match capability_for(method) {
            Some("elicitation") => self.elicitation,
            Some("sampling") => self.sampling,
            Some("roots") => self.roots,
            _ => false,
        }
    }
}

/// A capability is declared by an object.
fn is_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(<&RawValue>::deserialize(d)?.get().starts_with('{'))
}

/// Whether an `extensions` object declares the tasks extension with an object.
fn declares_tasks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    struct Extensions<'a> {
        #[serde(rename = "io.modelcontextprotocol/tasks", borrow)]
        tasks: Option<&'a RawValue>,
    }
    Ok(Extensions::deserialize(d)?
        .tasks
        .is_some_and(|t| t.get().starts_with('{')))
}

/// The `progressToken` a request's `params._meta` carries, if it is one the spec allows (a
/// string or an integer).
pub fn progress_token(params: &Value) -> Option<Value> {
    let token = params.get("_meta")?.get("progressToken")?;
    (token.is_string() || token.is_i64() || token.is_u64()).then(|| token.clone())
}

/// The `_meta` keys that carry W3C trace context (SEP-414), in the order a run gives them.
pub const TRACE_CONTEXT_KEYS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// The trace context a request's `params` carry: each of [`TRACE_CONTEXT_KEYS`] whose value in
/// `_meta` is a string, as (key, value). Checked by nobody here: a host's propagator parses it
/// and ignores what is malformed, as W3C Trace Context asks of a receiver.
pub fn trace_context(params: &Value) -> Vec<(String, String)> {
    let Some(meta) = params.get("_meta") else {
        return Vec::new();
    };
    TRACE_CONTEXT_KEYS
        .iter()
        .filter_map(|key| Some((key.to_string(), meta.get(*key)?.as_str()?.to_string())))
        .collect()
}

/// The client capability a server-to-client request needs: `elicitation`, `sampling` or
/// `roots`; `None` for a method that is not one of the three.
pub fn capability_for(method: &str) -> Option<&'static str> {
    Some(match method {
        "elicitation/create" => "elicitation",
        "sampling/createMessage" => "sampling",
        "roots/list" => "roots",
        _ => return None,
    })
}

impl RpcError {
    /// An error without data.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32602 with this message.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_PARAMS, message)
    }

    /// -32603 with this message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(code::INTERNAL_ERROR, message)
    }

    /// The error as a JSON object.
    pub fn to_json(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            // Data that is not valid JSON is still worth passing on, as a string.
            e["data"] = serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.clone()));
        }
        e
    }
}

/// The params of a message, still as raw JSON text: each method parses what it needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<'a>(pub Option<&'a RawValue>);

impl<'a> Params<'a> {
    /// The params as a JSON value (`{}` when absent).
    pub fn value(&self) -> Value {
        self.0
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// The params as `T`, or -32602 saying what is wrong with them.
    pub fn parse<T: Deserialize<'a>>(&self, method: &str) -> Result<T, RpcError> {
        let text = self.0.map_or("{}", RawValue::get);
        serde_json::from_str(text)
            .map_err(|e| RpcError::invalid_params(format!("{method}: invalid params: {e}")))
    }
}

/// One incoming message, classified.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A request: it gets exactly one response.
    Request {
        /// The request ID (a string or an integer).
        id: Value,
        /// The method.
        method: Cow<'a, str>,
        /// The params (an object, or absent).
        params: Params<'a>,
    },
    /// A notification: no response.
    Notification {
        /// The method.
        method: Cow<'a, str>,
        /// The params.
        params: Params<'a>,
    },
    /// A response to a request the server sent.
    Response {
        /// The ID it answers.
        id: Value,
        /// The `result` member, or `Err` with the `error` member.
        reply: Result<&'a RawValue, &'a RawValue>,
    },
}

/// The members of a JSON-RPC message that classify it, borrowed from the line. Every member is
/// kept raw: a member of the wrong type is an invalid request (-32600), not a parse error, and
/// `"id": null` must be told apart from no `id` at all.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// `Some(raw)` for any member that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Classify one line of input, or say which error to answer (and to which ID).
pub fn parse(line: &str) -> Result<Incoming<'_>, (Value, RpcError)> {
    let envelope: Envelope = match serde_json::from_str(line) {
        Ok(envelope) => envelope,
        Err(e) => {
            // Valid JSON that is not an object is an invalid request; anything else a parse error.
            let error = match serde_json::from_str::<IgnoredAny>(line) {
                Err(_) => RpcError::new(code::PARSE_ERROR, format!("Parse error: {e}")),
                Ok(_) if line.trim_start().starts_with('[') => RpcError::new(
                    code::INVALID_REQUEST,
                    "Invalid request: batches are not supported; send one JSON-RPC object per line",
                ),
                Ok(_) => RpcError::new(
                    code::INVALID_REQUEST,
                    "Invalid request: a JSON-RPC message must be a JSON object",
                ),
            };
            return Err((Value::Null, error));
        }
    };
    let id: Option<Value> = envelope
        .id
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
    let invalid = |id: Option<Value>, why: &str| {
        let id = id.filter(valid_id).unwrap_or(Value::Null);
        (
            id,
            RpcError::new(code::INVALID_REQUEST, format!("Invalid request: {why}")),
        )
    };
    if envelope.jsonrpc.map(RawValue::get) != Some("\"2.0\"") {
        return Err(invalid(id, "\"jsonrpc\" must be \"2.0\""));
    }
    let Some(method) = envelope.method else {
        let reply = match (envelope.result, envelope.error) {
            (Some(result), None) => Some(Ok(result)),
            (None, Some(error)) => Some(Err(error)),
            _ => None,
        };
        return match (id, reply) {
            (Some(id), Some(reply)) => Ok(Incoming::Response { id, reply }),
            (id, _) => Err(invalid(
                id,
                "no \"method\", and not a response (one of \"result\" or \"error\")",
            )),
        };
    };
    let Ok(method) = serde_json::from_str::<Cow<'_, str>>(method.get()) else {
        return Err(invalid(id, "\"method\" must be a string"));
    };
    if envelope.params.is_some_and(|p| !p.get().starts_with('{')) {
        return Err(invalid(id, "\"params\" must be an object"));
    }
    let params = Params(envelope.params);
    match id {
        None => Ok(Incoming::Notification { method, params }),
        Some(id) if valid_id(&id) => Ok(Incoming::Request { id, method, params }),
        Some(id) => Err(invalid(Some(id), "\"id\" must be a string or an integer")),
    }
}

/// MCP request IDs are strings or integers (never null, never fractional).
fn valid_id(id: &Value) -> bool {
    id.is_string() || id.is_i64() || id.is_u64()
}

/// A success response.
pub fn response(id: &Value, result: &impl Serialize) -> String {
    #[derive(Serialize)]
    struct Response<'a, T> {
        jsonrpc: &'static str,
        id: &'a Value,
        result: &'a T,
    }
    serde_json::to_string(&Response {
        jsonrpc: "2.0",
        id,
        result,
    })
    .expect("a JSON value always serializes")
}

/// An error response. Where the request's ID is unknown (`Value::Null`: unparseable input) the
/// `id` is left out, as MCP's schema has it (JSON-RPC 2.0 would write `null`, which MCP's
/// `RequestId` does not allow).
pub fn error_response(id: &Value, error: &RpcError) -> String {
    if id.is_null() {
        return json!({ "jsonrpc": "2.0", "error": error.to_json() }).to_string();
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() }).to_string()
}

/// A request from the server to the client.
pub fn request(id: &str, method: &str, params: &RawValue) -> String {
    #[derive(Serialize)]
    struct Request<'a> {
        jsonrpc: &'static str,
        id: &'a str,
        method: &'a str,
        params: &'a RawValue,
    }
    serde_json::to_string(&Request {
        jsonrpc: "2.0",
        id,
        method,
        params,
    })
    .expect("a JSON value always serializes")
}

/// A notification.
pub fn notification(method: &str, params: &impl Serialize) -> String {
    #[derive(Serialize)]
    struct Notification<'a, T> {
        jsonrpc: &'static str,
        method: &'a str,
        params: &'a T,
    }
    serde_json::to_string(&Notification {
        jsonrpc: "2.0",
        method,
        params,
    })
    .expect("a JSON value always serializes")
}

/// The task as the protocol shows it (`Task` in either era's schema): never the owner, the
/// version, the request or the outcome. The eras name two members differently (`ttl` and
/// `pollInterval` in 2025-11-25, `ttlMs` and `pollIntervalMs` in 2026-07-28); a modern result also
/// carries `resultType`, and a modern `DetailedTask` one member its status asks for.
#[derive(Debug, Clone)]
pub struct WireTask<'a> {
    task: &'a Task,
    era: Era,
    result_type: Option<&'static str>,
    extra: Vec<(&'static str, Value)>,
}

impl<'a> WireTask<'a> {
    /// The same task with `resultType` first (a modern result).
    pub fn with_result_type(mut self, result_type: &'static str) -> Self {
        self.result_type = Some(result_type);
        self
    }

    /// The same task with one more member (a modern `DetailedTask`'s `result`, `error` or
    /// `inputRequests`, or a notification's `_meta`).
    pub fn with(mut self, name: &'static str, value: Value) -> Self {
        self.extra.push((name, value));
        self
    }
}

impl Serialize for WireTask<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let task = self.task;
        let modern = self.era == Era::Modern;
        let mut map = serializer.serialize_map(None)?;
        if let Some(result_type) = self.result_type {
            map.serialize_entry("resultType", result_type)?;
        }
        map.serialize_entry("taskId", &task.id)?;
        map.serialize_entry("status", task.status.as_wire())?;
        if let Some(message) = &task.status_message {
            map.serialize_entry("statusMessage", message)?;
        }
        map.serialize_entry("createdAt", &iso8601(task.created_at))?;
        map.serialize_entry("lastUpdatedAt", &iso8601(task.last_updated_at))?;
        // `null` for unlimited: both schemas require the member.
        map.serialize_entry(if modern { "ttlMs" } else { "ttl" }, &task.ttl)?;
        if let Some(interval) = task.poll_interval {
            let name = if modern {
                "pollIntervalMs"
            } else {
                "pollInterval"
            };
            map.serialize_entry(name, &interval)?;
        }
        for (name, value) in &self.extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The 2025-11-25 wire form of `task`.
pub fn task_json(task: &Task) -> WireTask<'_> {
    WireTask {
        task,
        era: Era::Legacy,
        result_type: None,
        extra: Vec::new(),
    }
}

/// The 2026-07-28 wire form of `task` (the extension's `Task`).
pub fn modern_task_json(task: &Task) -> WireTask<'_> {
    WireTask {
        task,
        era: Era::Modern,
        result_type: None,
        extra: Vec::new(),
    }
}

/// Tie a result or params object to a task: `_meta` gains the related-task key (the other
/// members of `_meta` stay).
pub fn add_related_task(object: &mut Map<String, Value>, task_id: &str) {
    let meta = object
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        meta.insert(RELATED_TASK.into(), json!({ "taskId": task_id }));
    }
}

/// Milliseconds since the Unix epoch as an RFC 3339 / ISO 8601 UTC timestamp with milliseconds,
/// e.g. `2025-11-25T10:30:00.000Z`.
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;
