//! Logging in the 2025-11-25 era: `logging/setLevel` keeps the client's level in its session,
//! and a tool's log lines at or above it become `notifications/message`. The 2026-07-28 era
//! sends none (SEP-2577 deprecates logging there), nor does any era before a level is set.

use super::*;
use crate::model::{LogEntry, LogLevel};

/// The session state's member that holds the level the client set.
const SESSION_LEVEL: &str = "logLevel";

impl Router<'_> {
    /// `logging/setLevel`: keep the level in the session; answer `{}`.
    pub(super) fn set_log_level(&self, id: &Value, params: &Value) -> Handled {
        let level = params
            .get("level")
            .and_then(Value::as_str)
            .and_then(LogLevel::from_wire)
            .ok_or_else(|| {
                let levels: Vec<&str> = LogLevel::ALL.iter().map(|l| l.as_wire()).collect();
                RpcError::invalid_params(format!(
                    "logging/setLevel: \"level\" must be one of {}",
                    levels.join(", ")
                ))
            })?;
        let mut session = serde_json::from_str::<Value>(&self.ctx.session)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        session[SESSION_LEVEL] = json!(level.as_wire());
        Ok(vec![
            Action::SetSession(session.to_string()),
            send_result(id, Map::new()),
        ])
    }

    /// The level this session's client set, if it set one.
    fn session_log_level(&self) -> Option<LogLevel> {
        let session = serde_json::from_str::<Value>(&self.ctx.session).ok()?;
        LogLevel::from_wire(session.get(SESSION_LEVEL)?.as_str()?)
    }

    /// A running tool logged a line: a `notifications/message` for a 2025-11-25 client that set
    /// a level at or below the line's; related to the run's task, if it runs one.
    pub fn tool_log(&self, token: &str, entry: &LogEntry) -> Vec<Action> {
        let Some(level) = self.session_log_level() else {
            return Vec::new();
        };
        if entry.level < level {
            return Vec::new();
        }
        let task_id = match RunRef::parse(token) {
            Some(RunRef::Request(..)) => None,
            Some(RunRef::Task(task_id)) => {
                match self.store.get(&task_id) {
                    // A modern task's client hears no logs; an ended task's run says no more.
                    Ok(Some(task))
                        if task.era == Era::Legacy && !machine::is_terminal(task.status) =>
                    {
                        Some(task_id)
                    }
                    _ => return Vec::new(),
                }
            }
            Some(RunRef::Call(..)) | None => return Vec::new(),
        };
        // Data that is not JSON is still worth passing on, as a string.
        let data = serde_json::from_str::<Value>(&entry.data)
            .unwrap_or_else(|_| Value::String(entry.data.clone()));
        let mut params = Map::new();
        params.insert("level".into(), json!(entry.level.as_wire()));
        if let Some(logger) = &entry.logger {
            params.insert("logger".into(), json!(logger));
        }
        params.insert("data".into(), data);
        if let Some(task_id) = &task_id {
            protocol::add_related_task(&mut params, task_id);
        }
        vec![Action::Send(Outgoing::notification(
            protocol::notification("notifications/message", &Value::Object(params)),
        ))]
    }
}
