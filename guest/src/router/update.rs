//! A task changed in one place: every write of a stored task goes through [`Router::update`],
//! which applies a change, bumps the version, stamps the time and adds to the task's history
//! itself, and retries the compare-and-swap when another writer got there first.

use super::{Router, history, store_failure};
use crate::machine::TransitionError;
use crate::model::{RpcError, StoreError, Task};

/// How often a compare-and-swap is retried before the router gives up with -32603. Conflicts
/// come only from concurrent writers of the same task, so a handful of rounds always suffices
/// in practice; the bound keeps a misbehaving store from looping forever.
const CAS_ROUNDS: usize = 16;

/// What a change makes of the task it is given (see [`Router::update`]). The change sets neither
/// `version` nor `last-updated-at`: the update does.
#[derive(Debug)]
pub(crate) enum Edit {
    /// A change clients see: stored with `version` bumped by one and `last-updated-at` now.
    Change(Task),
    /// Bookkeeping clients do not see (a lease renewed, answers handed to the tool): stored with
    /// `version` bumped by one, `last-updated-at` as it was.
    Bookkeeping(Task),
    /// Nothing to write: the task already is as the change wants it, or the change no longer
    /// applies (claimed elsewhere, answered meanwhile).
    Nothing,
}

/// How [`Router::update`] ended.
// Returned once and matched at once, like the `Result<Task, _>` it names: boxing the task would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Updated {
    /// Stored: the task as it is now.
    Written(Task),
    /// The change had nothing to write.
    Unchanged,
    /// The change was refused: the task is terminal, or the move is not one the spec allows.
    Refused(TransitionError),
}

impl Router<'_> {
    /// Apply `change` to `task` and store the result with compare-and-swap, re-reading and
    /// re-applying on conflict. The error is the store's (or the task is gone).
    pub(super) fn update(
        &self,
        mut task: Task,
        mut change: impl FnMut(Task) -> Result<Edit, TransitionError>,
    ) -> Result<Updated, RpcError> {
        for _ in 0..CAS_ROUNDS {
            let expected = task.version;
            let last_updated_at = task.last_updated_at;
            let before = task.clone();
            let mut changed = match change(task) {
                Ok(Edit::Change(mut t)) => {
                    t.last_updated_at = self.ctx.now;
                    t
                }
                Ok(Edit::Bookkeeping(mut t)) => {
                    t.last_updated_at = last_updated_at;
                    t
                }
                Ok(Edit::Nothing) => return Ok(Updated::Unchanged),
                Err(refused) => return Ok(Updated::Refused(refused)),
            };
            changed.version = expected + 1;
            history::record(&before, &mut changed, self.ctx);
            match self.store.update(&changed, expected) {
                Ok(()) => return Ok(Updated::Written(changed)),
                Err(StoreError::Conflict(_)) => {
                    task = self
                        .store
                        .get(&changed.id)
                        .map_err(store_failure)?
                        .ok_or_else(|| {
                            RpcError::invalid_params("Failed to retrieve task: Task not found")
                        })?;
                }
                Err(StoreError::NotFound) => {
                    return Err(RpcError::invalid_params(
                        "Failed to retrieve task: Task not found",
                    ));
                }
                Err(other) => return Err(store_failure(other)),
            }
        }
        Err(RpcError::internal(format!(
            "task kept changing under {CAS_ROUNDS} concurrent updates; try again"
        )))
    }
}
