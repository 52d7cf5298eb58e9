//! The world `tasks`: the admin export (an operator's changes), over the same imports as the
//! router.

use super::exports::mcp::tasks::admin as wit_admin;
use super::exports::mcp::tasks::router as wit_router;
use super::tasks::{ImportedServer, ImportedStore, convert};
use super::{Component, wit};
use crate::router::{AdminError, Router};

impl wit_admin::Guest for Component {
    fn cancel(
        task_id: String,
        ctx: wit_router::Context,
    ) -> Result<(wit::Task, Vec<wit_router::Action>), wit_admin::AdminError> {
        let ctx = ctx.into();
        Router::new(&ImportedStore, &ImportedServer, &ctx)
            .admin_cancel(&task_id)
            .map(|(task, actions)| (task.into(), convert(actions)))
            .map_err(Into::into)
    }

    fn retry(
        task_id: String,
        ctx: wit_router::Context,
    ) -> Result<wit::Task, wit_admin::AdminError> {
        let ctx = ctx.into();
        Router::new(&ImportedStore, &ImportedServer, &ctx)
            .admin_retry(&task_id)
            .map(Into::into)
            .map_err(Into::into)
    }

    fn purge(task_id: String, ctx: wit_router::Context) -> Result<(), wit_admin::AdminError> {
        let ctx = ctx.into();
        Router::new(&ImportedStore, &ImportedServer, &ctx)
            .admin_purge(&task_id)
            .map_err(Into::into)
    }
}

impl From<AdminError> for wit_admin::AdminError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound => wit_admin::AdminError::NotFound,
            AdminError::Terminal(s) => wit_admin::AdminError::Terminal(s.into()),
            AdminError::Refused(s) => wit_admin::AdminError::Refused(s.into()),
            AdminError::Store(why) => wit_admin::AdminError::Store(why),
        }
    }
}
