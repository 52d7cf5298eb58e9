//! The state-machine component on its own: the task rules without a store, a server or a
//! router, for a host that only wants to ask them.

use wasmtime::Store;
use wasmtime::component::Linker;

use crate::cache::CompileCache;
use crate::component::{
    CALL_BUDGET_TICKS, ComponentSource, GuestError, Wasi, budgeted_store, compile,
};
use crate::types::{Status, Task};

mod bindings {
    wasmtime::component::bindgen!({
        world: "state-machine",
        path: "wit",
        additional_derives: [PartialEq],
        // The same task types as the tasks world, so a task moves between the two unchanged.
        with: { "mcp:tasks/types": crate::bindings::mcp::tasks::types },
    });
}

use bindings::exports::mcp::tasks::machine::Guest as Exports;
pub use bindings::exports::mcp::tasks::machine::TransitionError;

/// The WIT world `state-machine`, loaded into wasmtime with WASI alone: `can-transition`,
/// `is-terminal` and `transition`, the same rules the tasks component applies.
///
/// ```
/// use mcp_tasks::types::Status;
/// use mcp_tasks::{ComponentSource, Machine};
///
/// let mut machine = Machine::new(&ComponentSource::embedded_machine())?;
/// assert!(machine.can_transition(Status::Working, Status::InputRequired)?);
/// assert!(!machine.can_transition(Status::Completed, Status::Working)?);
/// assert!(machine.is_terminal(Status::Cancelled)?);
/// # Ok::<(), mcp_tasks::GuestError>(())
/// ```
///
/// Calls take `&mut self`: one instance serves one caller at a time. The tasks component
/// exports the same interface but imports a store, so it does not load here: use
/// [`Guest`](crate::Guest) for it.
pub struct Machine {
    store: Store<Wasi>,
    bindings: Exports,
}

impl Machine {
    /// Compile `component` (or load it from the [`CompileCache`] the environment names) and
    /// instantiate it with WASI only. Fails if it does not export `mcp:tasks/machine@0.9.0`, or
    /// wants an import beyond WASI.
    pub fn new(component: &ComponentSource) -> Result<Self, GuestError> {
        let (engine, compiled) = compile(component, &CompileCache::from_env())?;
        let mut linker = Linker::<Wasi>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(GuestError::load)?;
        let mut store = budgeted_store(&engine, Wasi::new());
        let world = bindings::StateMachine::instantiate(&mut store, &compiled, &linker)
            .map_err(GuestError::load)?;
        Ok(Self {
            store,
            bindings: world.mcp_tasks_machine().clone(),
        })
    }

    /// One call, with a fresh time budget; a trap becomes [`GuestError::Trap`].
    fn call<R>(
        &mut self,
        f: impl FnOnce(&Exports, &mut Store<Wasi>) -> wasmtime::Result<R>,
    ) -> Result<R, GuestError> {
        self.store.set_epoch_deadline(CALL_BUDGET_TICKS);
        f(&self.bindings, &mut self.store).map_err(GuestError::trap)
    }

    /// `machine.can-transition`: whether a task may move from `from` to `to`.
    pub fn can_transition(&mut self, from: Status, to: Status) -> Result<bool, GuestError> {
        self.call(|m, store| m.call_can_transition(store, from, to))
    }

    /// `machine.is-terminal`: whether `status` is completed, failed or cancelled.
    pub fn is_terminal(&mut self, status: Status) -> Result<bool, GuestError> {
        self.call(|m, store| m.call_is_terminal(store, status))
    }

    /// `machine.transition`: `task` moved to `to` at `now` (ms since the Unix epoch) with a new
    /// status message and its version bumped, ready for `store.update(task, old_version)`; or
    /// why the rules refuse the move.
    pub fn transition(
        &mut self,
        task: &Task,
        to: Status,
        message: Option<&str>,
        now: u64,
    ) -> Result<Result<Task, TransitionError>, GuestError> {
        self.call(|m, store| m.call_transition(store, task, to, message, now))
    }
}
