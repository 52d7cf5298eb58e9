//! The lines a command tool writes besides its result: progress reports on stderr, and
//! questions (or its wish to go on as a task) on descriptor 3.

use serde_json::{Value, json};

use crate::types::{LogLevel, Report};

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

/// The log line a line of stderr is, if it is one: a JSON object with a string `level` (one of
/// MCP's eight, `debug` to `emergency`), a `data` member (any JSON), and optionally a string
/// `logger` — the params of the `notifications/message` it may become.
pub(super) fn log_line(line: &str) -> Option<(LogLevel, Option<String>, Value)> {
    if !line.starts_with('{') {
        return None;
    }
    let mut value: Value = serde_json::from_str(line).ok()?;
    let level = match value.get("level")?.as_str()? {
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "notice" => LogLevel::Notice,
        "warning" => LogLevel::Warning,
        "error" => LogLevel::Error,
        "critical" => LogLevel::Critical,
        "alert" => LogLevel::Alert,
        "emergency" => LogLevel::Emergency,
        _ => return None,
    };
    let data = value.get_mut("data")?.take();
    let logger = value
        .get("logger")
        .and_then(Value::as_str)
        .map(str::to_string);
    Some((level, logger, data))
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
    fn a_stderr_line_is_a_log_line_with_a_known_level_and_data() {
        let (level, logger, data) =
            log_line(r#"{"level": "warning", "logger": "disk", "data": {"free": 3}}"#).unwrap();
        assert_eq!(level, LogLevel::Warning);
        assert_eq!(logger.as_deref(), Some("disk"));
        assert_eq!(data, json!({ "free": 3 }));
        let (level, logger, data) = log_line(r#"{"level": "info", "data": "started"}"#).unwrap();
        assert_eq!(
            (level, logger, data),
            (LogLevel::Info, None, json!("started"))
        );
        for line in [
            "info: started",
            r#"{"level": "loud", "data": "x"}"#,
            r#"{"level": "info"}"#,
            r#"{"progress": 1}"#,
        ] {
            assert!(log_line(line).is_none(), "{line}");
        }
    }

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
