//! Which tasks an operator asks for: statuses and owner (what a store's indexes select), tool,
//! creation time and text in the status message (checked on what the store returns).

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use crate::store::Scan;
use crate::types::{Status, Task};

/// Why a filter could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// Not a status.
    #[error(
        "unknown status '{0}': expected working, input_required, completed, failed or cancelled"
    )]
    Status(String),
    /// Neither a time nor an age.
    #[error(
        "cannot read the time '{0}': give an RFC 3339 time (2026-12-05T10:00:00Z) or an age \
         (90s, 15m, 2h, 7d)"
    )]
    Time(String),
}

/// A filter over every owner's tasks. The default selects every task.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these statuses; any when empty.
    pub statuses: Vec<Status>,
    /// Only this owner's.
    pub owner: Option<String>,
    /// Only this tool's (the `name` of the task's `tools/call`).
    pub tool: Option<String>,
    /// Only tasks created at or after this (ms since the epoch).
    pub created_after: Option<u64>,
    /// Only tasks created before this (ms since the epoch).
    pub created_before: Option<u64>,
    /// Only tasks whose status message holds this text (ignoring case).
    pub text: Option<String>,
}

impl Filter {
    /// What the store selects for this filter.
    pub fn scan(&self) -> Scan {
        Scan {
            owner: self.owner.clone(),
            statuses: self.statuses.clone(),
        }
    }

    /// Whether `task` passes every part of the filter.
    pub fn matches(&self, task: &Task) -> bool {
        crate::store::selected(self.owner.as_deref(), &self.statuses, task)
            && self.created_after.is_none_or(|t| task.created_at >= t)
            && self.created_before.is_none_or(|t| task.created_at < t)
            && self
                .tool
                .as_ref()
                .is_none_or(|tool| tool_of(task).as_deref() == Some(tool.as_str()))
            && self.text.as_ref().is_none_or(|text| {
                task.status_message
                    .as_deref()
                    .is_some_and(|m| m.to_lowercase().contains(&text.to_lowercase()))
            })
    }
}

/// The tool a task's `tools/call` named.
pub fn tool_of(task: &Task) -> Option<String> {
    let request: Value = serde_json::from_str(&task.request).ok()?;
    Some(request.pointer("/params/name")?.as_str()?.to_string())
}

/// A status as operators write it: the protocol's spelling (`input_required`), or the WIT's
/// (`input-required`).
pub fn parse_status(name: &str) -> Result<Status, FilterError> {
    Ok(match name {
        "working" => Status::Working,
        "input_required" | "input-required" => Status::InputRequired,
        "completed" => Status::Completed,
        "failed" => Status::Failed,
        "cancelled" => Status::Cancelled,
        other => return Err(FilterError::Status(other.to_string())),
    })
}

/// A time as operators write it, in ms since the epoch: an RFC 3339 time, or an age (`2h`:
/// two hours before `now`).
pub fn parse_time(text: &str, now: u64) -> Result<u64, FilterError> {
    let bad = || FilterError::Time(text.to_string());
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(now.saturating_sub(millis(age)));
    }
    let at = humantime::parse_rfc3339_weak(text).map_err(|_| bad())?;
    at.duration_since(UNIX_EPOCH).map(millis).map_err(|_| bad())
}

/// An age as operators write it (`90s`, `15m`, `2h`, `7d`), in ms.
pub fn parse_age(text: &str) -> Result<u64, FilterError> {
    humantime::parse_duration(text)
        .map(millis)
        .map_err(|_| FilterError::Time(text.to_string()))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A time in ms since the epoch as RFC 3339, to the second (UTC).
pub fn format_time(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ages_or_rfc3339() {
        let now = 1_764_900_000_000;
        assert_eq!(parse_time("2h", now), Ok(now - 7_200_000));
        assert_eq!(
            parse_time("2026-12-05T10:00:00Z", now),
            Ok(1_796_464_800_000)
        );
        assert!(matches!(
            parse_time("yesterday", now),
            Err(FilterError::Time(_))
        ));
        assert_eq!(format_time(1_796_464_800_000), "2026-12-05T10:00:00Z");
        assert_eq!(parse_status("input-required"), Ok(Status::InputRequired));
        assert!(parse_status("done").is_err());
    }
}
