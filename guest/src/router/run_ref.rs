//! How a tool run is named: a task's run, or a plain call's (which request of which client it
//! answers), as a token the host passes back; and the id of a question sent to a legacy client.

use serde_json::{Value, json};

/// The ids of the server's own requests (legacy era) start with this, followed by the JSON array
/// `[run token, question key]`, so a response leads back to the run and question that asked,
/// with no state kept between calls.
pub(super) const INPUT_ID_PREFIX: &str = "mcp-tasks/input/";

/// Names a tool run so the host can report back on it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RunRef {
    /// A task's run.
    Task(String),
    /// A legacy plain call's run: it answers this request id of this client.
    Request(String, Value),
    /// A modern plain call's run: it answers this request id of this client. What the client
    /// can answer is in the run's state (see [`RunState`]).
    Call(String, Value),
}

impl RunRef {
    pub(super) fn token(&self) -> String {
        match self {
            RunRef::Task(id) => format!("task:{id}"),
            RunRef::Request(client, id) => format!("request:{}", json!([client, id])),
            RunRef::Call(client, id) => format!("call:{}", json!([client, id])),
        }
    }

    pub(super) fn parse(token: &str) -> Option<RunRef> {
        if let Some(id) = token.strip_prefix("task:") {
            return Some(RunRef::Task(id.to_string()));
        }
        if let Some(scoped) = token.strip_prefix("request:") {
            let (client, id) = serde_json::from_str(scoped).ok()?;
            return Some(RunRef::Request(client, id));
        }
        let (client, id) = serde_json::from_str(token.strip_prefix("call:")?).ok()?;
        Some(RunRef::Call(client, id))
    }

    /// The id of the server's request for question `key` of this run (legacy era).
    pub(super) fn input_id(&self, key: &str) -> String {
        format!("{INPUT_ID_PREFIX}{}", json!([self.token(), key]))
    }

    /// The run and question key that a response id answers.
    pub(super) fn from_input_id(id: &str) -> Option<(RunRef, String)> {
        let (token, key): (String, String) =
            serde_json::from_str(id.strip_prefix(INPUT_ID_PREFIX)?).ok()?;
        Some((RunRef::parse(&token)?, key))
    }
}
