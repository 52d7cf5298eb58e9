//! The lines a command tool writes besides its result: progress reports on stderr, and
//! questions (or its wish to go on as a task) on descriptor 3.

use serde_json::{Value, json};

use crate::types::Report;

/// The progress report a line of stderr is, if it is one: a JSON object with a number
/// `progress`, and optionally a number `total` and a string `message`.
pub(super) fn progress_report(line: &str) -> Option<Report> {
    if !line.starts_with('{') {
        return None;
    }
    let value: Value = serde_json::from_str(line).ok()?;
    Some(Report {
        progress: Some(value.get("progress")?.as_f64()?),
        total: value.get("total").and_then(Value::as_f64),
        message: value
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// What one line on the questions descriptor asks.
pub(super) enum Questions {
    /// The params of one `elicitation/create`.
    One(Value),
    /// `{"inputRequests": {KEY: {"method": ..., "params": {...}}, ...}}`.
    Keyed(Vec<crate::tools::Question>),
    /// `{"continueAsTask": true}`: not a question, and answered by nothing.
    ContinueAsTask,
}

pub(super) fn parse_questions(line: &str) -> Result<Questions, String> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| format!("the question is not JSON: {e}"))?;
    if value.get("continueAsTask") == Some(&Value::Bool(true)) {
        return Ok(Questions::ContinueAsTask);
    }
    let Some(requests) = value.get("inputRequests") else {
        return Ok(Questions::One(value));
    };
    let requests = requests
        .as_object()
        .ok_or("\"inputRequests\" must be an object of keyed requests")?;
    requests
        .iter()
        .map(|(key, request)| {
            let method = request["method"]
                .as_str()
                .ok_or_else(|| format!("inputRequests.{key}: \"method\" must be a string"))?;
            Ok(crate::tools::Question {
                key: key.clone(),
                method: method.to_string(),
                params: request.get("params").cloned().unwrap_or_else(|| json!({})),
            })
        })
        .collect::<Result<_, String>>()
        .map(Questions::Keyed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stderr_line_is_a_progress_report_only_with_a_number_progress() {
        let report = progress_report(r#"{"progress": 3, "total": 10, "message": "7 to go"}"#);
        assert_eq!(
            report,
            Some(Report {
                progress: Some(3.0),
                total: Some(10.0),
                message: Some("7 to go".into()),
            })
        );
        let bare = progress_report(r#"{"progress": 0.5}"#).unwrap();
        assert_eq!(
            (bare.progress, bare.total, bare.message),
            (Some(0.5), None, None)
        );
        for line in [
            "3 of 10",
            r#"{"progress": "3"}"#,
            r#"{"done": 3}"#,
            r#"{"progress": 3"#,
            r#"[{"progress": 3}]"#,
        ] {
            assert_eq!(progress_report(line), None, "{line}");
        }
    }
}
