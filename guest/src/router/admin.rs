//! What an operator may do to any owner's task: cancel it, run it again as a new task, purge it
//! once it is finished. The same rules as the owner's own requests: every change goes through
//! [`Router::update`] (compare-and-swap, history) and the state machine, so a terminal task's
//! status never moves. Finding tasks across owners is the host's, a query of its store.

use serde_json::{Map, Value, json};

use super::update::{Edit, Updated};
use super::workflow::{self, Workflow};
use super::{Router, history};
use crate::machine::{self, TransitionError};
use crate::model::{Action, RpcError, Status, StoreError, Task};

/// The `_meta` key of `tasks/get` naming the task a retry re-ran.
const META_RETRY_OF: &str = "mcp-tasks/retry-of";
/// The `_meta` key of `tasks/get` naming the task a task was re-run as (the latest).
const META_RETRIED_AS: &str = "mcp-tasks/retried-as";
/// The variables keeping those links.
const RETRY_OF: &str = "retryOf";
const RETRIED_AS: &str = "retriedAs";

/// Why an operator's change was refused (the WIT's `admin-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// No task has that ID, or it expired.
    NotFound,
    /// The task is in this terminal status: it can no longer be cancelled.
    Terminal(Status),
    /// The task is in this status, which the change does not take: a live task is neither
    /// retried nor purged (cancel it first), a completed one is not retried.
    Refused(Status),
    /// The store failed; a description.
    Store(String),
}

impl From<RpcError> for AdminError {
    fn from(e: RpcError) -> Self {
        AdminError::Store(e.message)
    }
}

impl Router<'_> {
    /// The task with this ID, whoever owns it, unless it expired.
    fn any_task(&self, id: &str) -> Result<Task, AdminError> {
        self.store
            .get(id)
            .map_err(|e| AdminError::Store(e.to_string()))?
            .filter(|t| !t.is_expired(self.ctx.now))
            .ok_or(AdminError::NotFound)
    }

    /// Cancel a task, whoever owns it, in the name of `ctx.owner`: the task as it is now, and
    /// what the host carries out (stop its tool if it runs here, wake what waits on it).
    pub fn admin_cancel(&self, id: &str) -> Result<(Task, Vec<Action>), AdminError> {
        let task = self.any_task(id)?;
        let message = format!("The task was cancelled by {}.", self.ctx.owner);
        let now = self.ctx.now;
        match self.update(task, |t| {
            let t = machine::transition(t, Status::Cancelled, Some(message.clone()), now)?;
            Ok(Edit::Change(t))
        })? {
            Updated::Written(task) => {
                let actions = self.cancelled(&task);
                Ok((task, actions))
            }
            Updated::Refused(TransitionError::Terminal(s)) => Err(AdminError::Terminal(s)),
            Updated::Refused(TransitionError::NotAllowed(from, _)) => {
                Err(AdminError::Refused(from))
            }
            Updated::Unchanged => Err(AdminError::Store("the cancel changed nothing".into())),
        }
    }

    /// Run a `failed` or `cancelled` task again as a new task of the same owner, request, era
    /// and ttl, queued for any host that claims tasks; the two name each other in their
    /// variables (and so in `tasks/get`'s `_meta`), and the old one's history says who retried
    /// it. The old task's status does not move. Returns the new task.
    pub fn admin_retry(&self, id: &str) -> Result<Task, AdminError> {
        let old = self.any_task(id)?;
        if !matches!(old.status, Status::Failed | Status::Cancelled) {
            return Err(AdminError::Refused(old.status));
        }
        let now = self.ctx.now;
        let workflow = Workflow::of(&old).map(Workflow::restart);
        let mut variables = links(None, RETRY_OF, &old.id);
        if let Some(w) = &workflow {
            variables = w.clone().into_variables(Some(&variables));
        }
        let mut task = Task {
            era: old.era,
            id: uuid::Uuid::new_v4().to_string(),
            owner: old.owner.clone(),
            status: Status::Working,
            status_message: Some(format!(
                "Queued: a retry of task {}, waiting for a host to run it.",
                old.id
            )),
            created_at: now,
            last_updated_at: now,
            ttl: old.ttl,
            poll_interval: Some(self.settings.poll_interval),
            version: 1,
            request: old.request.clone(),
            outcome: None,
            input_requests: Vec::new(),
            executor: None,
            lease_until: Some(now),
            attempt: 0,
            variables: Some(variables),
            history: Vec::new(),
        };
        history::created(&mut task, self.ctx);
        self.store
            .create(&task)
            .map_err(|e| AdminError::Store(e.to_string()))?;
        let new_id = task.id.clone();
        self.update(old, |mut t| {
            t.variables = Some(links(t.variables.as_deref(), RETRIED_AS, &new_id));
            let entry = history::retried(&t, &new_id, self.ctx);
            history::push(&mut t, vec![entry]);
            Ok(Edit::Bookkeeping(t))
        })?;
        Ok(task)
    }

    /// Delete a finished task, with its history. A live one is refused: cancel it first.
    pub fn admin_purge(&self, id: &str) -> Result<(), AdminError> {
        let task = self
            .store
            .get(id)
            .map_err(|e| AdminError::Store(e.to_string()))?
            .ok_or(AdminError::NotFound)?;
        if !machine::is_terminal(task.status) {
            return Err(AdminError::Refused(task.status));
        }
        match self.store.delete(id) {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(e) => Err(AdminError::Store(e.to_string())),
        }
    }
}

/// The task's variables with `key` set to `id` (what else they hold stays).
fn links(variables: Option<&str>, key: &str, id: &str) -> String {
    let mut all = variables
        .and_then(|v| serde_json::from_str::<Map<String, Value>>(v).ok())
        .unwrap_or_default();
    all.insert(key.into(), json!(id));
    Value::Object(all).to_string()
}

/// The `_meta` of a task's `tasks/get` result: its workflow's steps, if it runs one, and the
/// tasks a retry links it to.
pub(super) fn task_meta(task: &Task) -> Option<Value> {
    let mut meta = match workflow::task_meta(task) {
        Some(Value::Object(meta)) => meta,
        _ => Map::new(),
    };
    if let Some(variables) = task
        .variables
        .as_deref()
        .and_then(|v| serde_json::from_str::<Map<String, Value>>(v).ok())
    {
        for (key, name) in [(RETRY_OF, META_RETRY_OF), (RETRIED_AS, META_RETRIED_AS)] {
            if let Some(id) = variables.get(key).filter(|v| v.is_string()) {
                meta.insert(name.into(), id.clone());
            }
        }
    }
    (!meta.is_empty()).then_some(Value::Object(meta))
}
