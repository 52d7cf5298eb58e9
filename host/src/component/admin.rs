//! Calls into the component's `admin` export: an operator's changes, under the same rules and
//! with the same trap handling as the router's calls.

use super::{Guest, GuestError};
use crate::bindings::exports::mcp::tasks::admin::AdminError;
use crate::types::{Action, Context, Task};

/// One operator's change (the WIT's `admin` functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCall {
    /// `admin.cancel`.
    Cancel,
    /// `admin.retry`.
    Retry,
    /// `admin.purge`.
    Purge,
}

/// What an operator's change gave: the task it changed or made, and the actions to carry out.
#[derive(Debug)]
pub struct AdminDone {
    /// For a cancel, the task as it is now; for a retry, the new task; `None` for a purge.
    pub task: Option<Task>,
    /// What the host carries out (a cancel's: stop the tool if it runs here, wake waiters).
    pub actions: Vec<Action>,
}

impl Guest {
    /// Make an operator's change to the task `id`; `ctx.owner` names the operator.
    pub async fn admin(
        &self,
        call: AdminCall,
        id: &str,
        ctx: Context,
    ) -> Result<Result<AdminDone, AdminError>, GuestError> {
        let (_permit, mut instance) = self.checkout().await?;
        let admin = instance.bindings.mcp_tasks_admin();
        let store = &mut instance.store;
        let result = match call {
            AdminCall::Cancel => admin.call_cancel(store, id, &ctx).await.map(|r| {
                r.map(|(task, actions)| AdminDone {
                    task: Some(task),
                    actions,
                })
            }),
            AdminCall::Retry => admin.call_retry(store, id, &ctx).await.map(|r| {
                r.map(|task| AdminDone {
                    task: Some(task),
                    actions: Vec::new(),
                })
            }),
            AdminCall::Purge => admin.call_purge(store, id, &ctx).await.map(|r| {
                r.map(|()| AdminDone {
                    task: None,
                    actions: Vec::new(),
                })
            }),
        };
        self.checkin(instance, result)
    }
}
