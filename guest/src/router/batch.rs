//! Messages that arrived together, handled in one call while they only read.
//!
//! A client that pipelines (many `tasks/get` at once) would otherwise cost one crossing into the
//! component per message. A batch handles them in order, each as `handle` would, against a store
//! that refuses every write: the first message that would write ends the batch, with nothing
//! written and its actions dropped, for the host to hand to `handle` alone. So a batch never
//! changes anything but through the actions it returns, and a host whose batch call failed (a
//! trap) may hand each of its messages to `handle` again, losing nothing.

use std::cell::Cell;

use super::Router;
use crate::model::{Action, Context, Page, Server, Status, Store, StoreError, Task};

/// A store that reads through to another and refuses every write, noting that one was tried.
struct ReadOnly<'a> {
    store: &'a dyn Store,
    wrote: Cell<bool>,
}

impl ReadOnly<'_> {
    fn refuse<T>(&self) -> Result<T, StoreError> {
        self.wrote.set(true);
        Err(StoreError::Unavailable(
            "a batch only reads; this message is handled on its own".into(),
        ))
    }
}

impl Store for ReadOnly<'_> {
    fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        self.store.get(id)
    }
    fn create(&self, _: &Task) -> Result<(), StoreError> {
        self.refuse()
    }
    fn update(&self, _: &Task, _: u64) -> Result<(), StoreError> {
        self.refuse()
    }
    fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        self.store.list(owner, status, cursor, limit)
    }
    fn delete(&self, _: &str) -> Result<(), StoreError> {
        self.refuse()
    }
    fn expire(&self, _: u64) -> Result<Vec<String>, StoreError> {
        self.refuse()
    }
    fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError> {
        self.store.abandoned(now, limit)
    }
}

/// Handle `messages` of one client in order, each as [`Router::handle`] would, while they only
/// read: the actions of each message handled. The list stops before the first message that
/// would write (it has not been handled at all), so it may be shorter than `messages`, or empty.
/// A `set-session` action of one message is the session of the messages after it.
pub fn handle_batch(
    store: &dyn Store,
    server: &dyn Server,
    ctx: &Context,
    messages: &[String],
) -> Vec<Vec<Action>> {
    let read_only = ReadOnly {
        store,
        wrote: Cell::new(false),
    };
    let mut ctx = ctx.clone();
    let mut handled = Vec::with_capacity(messages.len());
    for message in messages {
        let actions = Router::new(&read_only, server, &ctx).handle(message);
        if read_only.wrote.get() {
            break;
        }
        for action in &actions {
            if let Action::SetSession(session) = action {
                ctx.session.clone_from(session);
            }
        }
        handled.push(actions);
    }
    handled
}
