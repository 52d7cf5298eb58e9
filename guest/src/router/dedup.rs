//! De-duplication: a tool with a `dedup-window` answers a call whose owner and arguments equal
//! those of a task created within the window with that task, instead of starting another.
//!
//! The store has no index for "an equal call", and needs none: such a task's ID is derived from
//! the owner, the tool and the arguments, so any host finds it with `get`. An equal call after
//! the window takes the next ID of the same series (the earlier task is kept for its ttl), so
//! the series is walked until a free ID or a task within the window.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Router, store_failure};
use crate::model::{RpcError, Task, Tool};

/// How far a series of derived IDs is walked. Past it (equal calls more than this many windows
/// apart whose tasks are all still kept), a call starts a task with a random ID.
const SERIES: u32 = 64;

/// What an equal call left in the store.
pub(super) enum Equal {
    /// The task an equal call created within the window.
    Found(Box<Task>),
    /// The ID the new task takes.
    Free(String),
}

impl Router<'_> {
    /// The task an equal call of `tool` made within `window`, or the ID a new one takes.
    pub(super) fn equal_call(
        &self,
        tool: &Tool,
        arguments: &Value,
        window: u64,
    ) -> Result<Equal, RpcError> {
        let now = self.ctx.now;
        let owner = self.ctx.owner.as_str();
        for n in 0..SERIES {
            let id = derived_id(owner, &tool.name, arguments, n);
            match self.store.get(&id).map_err(store_failure)? {
                None => return Ok(Equal::Free(id)),
                Some(task)
                    if task.owner == owner
                        && now < task.created_at.saturating_add(window)
                        && task
                            .ttl
                            .is_none_or(|ttl| now < task.created_at.saturating_add(ttl)) =>
                {
                    return Ok(Equal::Found(Box::new(task)));
                }
                // An equal call's task from before the window (or expired, not yet swept).
                Some(_) => {}
            }
        }
        Ok(Equal::Free(uuid::Uuid::new_v4().to_string()))
    }
}

/// The `n`th ID of the series for this owner, tool and arguments: a UUID (version 8) made of a
/// SHA-256 of them.
fn derived_id(owner: &str, tool: &str, arguments: &Value, n: u32) -> String {
    let mut hash = Sha256::new();
    for part in [owner, tool, &canonical(arguments)] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(n.to_le_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// JSON text with every object's members in order of their names, so that equal arguments give
/// equal text whatever order they came in.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            names.sort();
            let inner: Vec<String> = names
                .into_iter()
                .map(|name| {
                    format!(
                        "{}:{}",
                        Value::String(name.clone()),
                        canonical(&members[name])
                    )
                })
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_arguments_in_any_order_give_the_same_series() {
        let a = json!({ "b": [1, { "y": 2, "x": 1 }], "a": "s" });
        let b: Value = serde_json::from_str(r#"{"a":"s","b":[1,{"x":1,"y":2}]}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(derived_id("o", "t", &a, 0), derived_id("o", "t", &b, 0));
        assert_ne!(derived_id("o", "t", &a, 0), derived_id("o", "t", &a, 1));
        assert_ne!(derived_id("o", "t", &a, 0), derived_id("p", "t", &a, 0));
        assert_ne!(derived_id("o", "t", &a, 0), derived_id("o", "u", &a, 0));
        let id = derived_id("o", "t", &a, 0);
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 8);
    }
}
