//! The `list` cursor every backend hands out: the (created_at, id) of the last task a page
//! returned. Clients treat it as opaque; the next page resumes strictly after it.

use crate::types::{StoreError, Task};

/// The cursor after `task`.
pub(super) fn encode(task: &Task) -> String {
    format!("{}:{}", task.created_at, task.id)
}

/// The (created_at, id) a cursor names; `InvalidCursor` if it names none.
pub(super) fn decode(cursor: &str) -> Result<(u64, String), StoreError> {
    let (at, id) = cursor.split_once(':').ok_or(StoreError::InvalidCursor)?;
    let at = at.parse().map_err(|_| StoreError::InvalidCursor)?;
    Ok((at, id.to_string()))
}
