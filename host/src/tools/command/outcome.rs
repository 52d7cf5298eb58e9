//! How a command tool's run ends: its exit status, stdout and the tail of its stderr made into
//! the outcome its task or call gets.

use serde_json::{Value, json};

use super::STDERR_TAIL_BYTES;

use super::Ended;
use crate::tools::ToolOutcome;

/// What a run ended with. With `structured` (the tool declares an output schema), stdout that is
/// a JSON object is the result's `structuredContent` too, as the spec asks of such tools.
pub(super) fn outcome(
    program: &str,
    ended: Ended,
    stdout: &[u8],
    tail: &str,
    structured: bool,
) -> ToolOutcome {
    let status = match ended {
        Ended::Cancelled => return ToolOutcome::tool_error("cancelled"),
        Ended::TimedOut(after) => {
            return failure(format!("timed out after {} s", after.as_secs_f64()), tail);
        }
        Ended::Exited(status) => status,
    };
    if let Some(error) = rpc_error(stdout) {
        return error;
    }
    if status.success() {
        let text = String::from_utf8_lossy(stdout);
        return match serde_json::from_str::<Value>(&text) {
            Ok(result) if is_call_tool_result(&result) => ToolOutcome::result(result),
            Ok(object @ Value::Object(_)) if structured => ToolOutcome::result(json!({
                "content": [{ "type": "text", "text": text.trim_end() }],
                "structuredContent": object,
            })),
            _ => ToolOutcome::text(text.into_owned()),
        };
    }
    let how = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => format!("'{program}' exited with status {code}"),
        (None, Some(signal)) => format!("'{program}' was killed by signal {signal}"),
        (None, None) => format!("'{program}' failed: {status}"),
    };
    failure(how, tail)
}

/// An `isError` result whose text and status message say what happened and end with the tail
/// of stderr.
pub(super) fn failure(how: String, tail: &str) -> ToolOutcome {
    if tail.is_empty() {
        return ToolOutcome::tool_error(how);
    }
    ToolOutcome::tool_error(format!(
        "{how}: {}",
        truncate_front(tail, STDERR_TAIL_BYTES)
    ))
}

/// The last `max` bytes of `s` (on a char boundary).
fn truncate_front(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The JSON-RPC error a program asks to end with: stdout is exactly
/// `{"error": {"code": <integer>, "message": <string>, "data"?: ...}}`.
fn rpc_error(stdout: &[u8]) -> Option<ToolOutcome> {
    let value: Value = serde_json::from_slice(stdout).ok()?;
    let object = value.as_object().filter(|o| o.len() == 1)?;
    let error = object.get("error")?;
    let code = i32::try_from(error.get("code")?.as_i64()?).ok()?;
    let message = error.get("message")?.as_str()?;
    let mut outcome = ToolOutcome::rpc_error(code, message);
    if let (Some(data), crate::types::Outcome::Error(e)) = (error.get("data"), &mut outcome.outcome)
    {
        e.data = Some(data.to_string());
    }
    Some(outcome.with_message(message.to_string()))
}

fn is_call_tool_result(v: &Value) -> bool {
    v.get("content").is_some_and(Value::is_array)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_is_cut_at_a_char_boundary() {
        assert_eq!(truncate_front("héllo", 4), "llo");
        assert_eq!(truncate_front("abc", 10), "abc");
    }
}
