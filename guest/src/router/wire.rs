//! The wire JSON the router sends: a tool as `tools/list` shows it, a plain call's answer,
//! results, errors, and the replies a tool gets in place of its questions' answers.

use super::*;

/// Whether a stored `CallToolResult` says `isError: true`.
pub(super) fn is_error_result(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("isError").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// A `CallToolResult` with `isError: true` and this text.
pub(super) fn tool_error_result(text: &str) -> Outcome {
    Outcome::Result(
        json!({ "content": [{ "type": "text", "text": text }], "isError": true }).to_string(),
    )
}

/// Why a tool's question could not be put to this client.
pub(super) fn missing_capability_message(method: &str, era: Era) -> String {
    let capability = protocol::capability_for(method).unwrap_or("elicitation");
    match era {
        Era::Legacy => format!(
            "The tool asked the client for input ({method}), but the client did not declare \
             the {capability} capability at initialize."
        ),
        Era::Modern => format!(
            "The tool asked the client for input ({method}), but the request did not declare \
             the {capability} capability."
        ),
    }
}

pub(super) fn tool_json(tool: &Tool, era: Era) -> Value {
    let mut t = json!({
        "name": tool.name,
        "inputSchema": serde_json::from_str::<Value>(&tool.input_schema)
            .unwrap_or_else(|_| json!({ "type": "object" })),
    });
    // The legacy era's per-tool task support; in the modern one the server decides.
    if era == Era::Legacy {
        t["execution"] = json!({ "taskSupport": tool.support().as_wire() });
    }
    if let Some(title) = &tool.title {
        t["title"] = Value::String(title.clone());
    }
    if let Some(description) = &tool.description {
        t["description"] = Value::String(description.clone());
    }
    if let Some(schema) = tool
        .output_schema
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
    {
        t["outputSchema"] = schema;
    }
    t
}

/// The answer to a plain call: the tool's result (modern: with `resultType`), or its error.
pub(super) fn call_answer(id: &Value, outcome: &Outcome, era: Era) -> Action {
    match outcome {
        Outcome::Result(text) => match serde_json::from_str::<Value>(text) {
            Ok(mut result) => {
                if era == Era::Modern
                    && let Some(obj) = result.as_object_mut()
                {
                    obj.insert("resultType".into(), json!("complete"));
                }
                send_result(id, result)
            }
            Err(e) => send_error(
                id,
                &RpcError::internal(format!("tool result is not JSON: {e}")),
            ),
        },
        Outcome::Error(e) => send_error(id, e),
    }
}

pub(super) fn store_failure(e: StoreError) -> RpcError {
    RpcError::internal(format!("Internal error: {e}"))
}

pub(super) fn send_result(id: &Value, result: impl Serialize) -> Action {
    Action::Send(Outgoing::response(id, protocol::response(id, &result), 200))
}

pub(super) fn send_error(id: &Value, error: &RpcError) -> Action {
    let message = protocol::error_response(id, error);
    Action::Send(Outgoing::error(id, message, http_status(error.code)))
}

/// The HTTP status an error answer goes with in the 2026-07-28 era: 400 for an envelope the
/// version rejects, 404 for a method it does not have, else 200.
pub(super) fn http_status(code: i32) -> u16 {
    match code {
        code::UNSUPPORTED_PROTOCOL_VERSION..=code::HEADER_MISMATCH => 400,
        code::METHOD_NOT_FOUND => 404,
        _ => 200,
    }
}

/// Hand these answers (key, response) to the run `token`.
pub(super) fn replies(token: &str, handed: Vec<(String, String)>) -> Vec<Action> {
    handed
        .into_iter()
        .map(|(key, response)| {
            Action::ReplyTool(ToolReply {
                token: token.to_string(),
                key,
                response,
            })
        })
        .collect()
}

/// An error for the tool that asked a question, in place of the client's answer.
pub(super) fn reply_error(token: &str, key: &str, code: i32, message: &str) -> Action {
    Action::ReplyTool(ToolReply {
        token: token.to_string(),
        key: key.to_string(),
        response: json!({ "error": { "code": code, "message": message } }).to_string(),
    })
}
