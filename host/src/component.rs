//! Loading the tasks component into wasmtime and calling its router.
//!
//! The guest keeps no state between calls, so instances are interchangeable: a small pool keeps
//! idle ones for reuse, a concurrent request takes another, and an instance that trapped is
//! dropped rather than returned, so a trap costs only the call that hit it.

mod admin;

pub use admin::{AdminCall, AdminDone};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::Instrument as _;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::cache::CompileCache;
use crate::store::TaskStore;
use crate::tools::Catalog;

use crate::bindings;

use bindings::exports::mcp::tasks::router::{
    Action, Context, LogEntry, ProtocolVersion, Report, ToolQuestion,
};
use bindings::mcp::tasks::types::Outcome;
use bindings::mcp::tasks::{server, store, types};

/// The component this crate was built with: `guest/` compiled for `wasm32-wasip2`.
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mcp_tasks.wasm"));

/// The state-machine component this build embeds: the world `state-machine` of the WIT, built
/// from the same rules. It exports `machine` (`can-transition`, `is-terminal`, `transition`)
/// and imports no store and no router: any WASI host can call it.
pub const EMBEDDED_MACHINE_COMPONENT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mcp_tasks_machine.wasm"));

/// The most memory one instance of the component may hold. A message that would take more
/// (it is at most `--max-body` long, but parsed it takes several times that) traps its call: that
/// request fails with -32603, the instance is dropped, and the server goes on.
const GUEST_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// How often the epoch ticks; a guest call may run for [`CALL_BUDGET_TICKS`] of them.
const EPOCH_TICK: Duration = Duration::from_millis(100);
/// A guest call that computes for longer than this (30 s) is stopped with a trap. Generous:
/// time spent in the store's host functions counts too, and a database may be slow.
pub(crate) const CALL_BUDGET_TICKS: u64 = 300;
/// Idle instances kept for reuse; more are created under load and dropped when idle.
const MAX_IDLE: usize = 64;
/// The most calls in the component at once; more wait their turn. A call that awaits its store
/// (a file or a database) holds an instance, and each instance reserves gigabytes of address
/// space for its linear memory: without a bound, a burst of pipelined requests against a slow
/// store would exhaust the address space. The same bound keeps every instance reusable.
const MAX_CONCURRENT_CALLS: usize = MAX_IDLE;

/// Why the component could not be loaded or called.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// The component could not be read, compiled or linked.
    #[error("cannot load the tasks component: {0}")]
    Load(String),
    /// The component trapped (or ran out of time) during a call; the instance was dropped.
    #[error("the tasks component trapped: {0}")]
    Trap(String),
}

/// One call into the component's `router` export.
pub enum Call {
    /// `router.handle`: one incoming JSON-RPC message.
    Handle(String),
    /// `router.tool-progress`: a running tool's report of how it is getting on.
    Progress {
        /// The run's token.
        token: String,
        /// The run's state (as `run-tool`, `rename-run` or `update-run` gave it).
        run_state: String,
        /// The report.
        report: Report,
    },
    /// `router.tool-finished`: a tool's outcome.
    Finished {
        /// The run's token.
        token: String,
        /// The result or error.
        outcome: Outcome,
        /// A status message for the task.
        message: Option<String>,
    },
    /// `router.tool-input`: a running tool asks the client questions.
    Input {
        /// The run's token.
        token: String,
        /// The run's state (as `run-tool` or `rename-run` gave it).
        run_state: String,
        /// The questions, each with its key.
        questions: Vec<ToolQuestion>,
    },
    /// `router.tool-detached`: a running tool asks to go on as a task.
    Detached {
        /// The run's token.
        token: String,
        /// The run's state (as `run-tool` or `rename-run` gave it).
        run_state: String,
    },
    /// `router.task-changed`: a task a subscription follows may have changed.
    TaskChanged {
        /// The subscription (as in the `listen` action).
        subscription: String,
        /// The task.
        task_id: String,
    },
    /// `router.tool-log`: a running tool logged a line.
    Log {
        /// The run's token.
        token: String,
        /// The line.
        entry: LogEntry,
    },
    /// `router.request-stopped`: the host stops while this message waits.
    Stopped(String),
    /// `router.listen-ended`: the host ends a subscription itself (it is shutting down).
    ListenEnded {
        /// The subscription (as in the `listen` action).
        subscription: String,
    },
    /// `router.sweep`: housekeeping, given the tokens of the runs this host has going.
    Sweep {
        /// The tokens of the runs this host has going.
        running: Vec<String>,
        /// Whether to claim tasks waiting for a host (not while draining).
        claim: bool,
    },
    /// `router.tool-released`: the host stops a run at shutdown, before its tool finished.
    Released {
        /// The run's token.
        token: String,
        /// Whether the task goes back to wait for another host (the store outlives this one)
        /// rather than failing.
        hand_back: bool,
    },
}

impl Call {
    /// The router function it calls, as the WIT names it (for its trace span).
    fn function(&self) -> &'static str {
        match self {
            Call::Handle(_) => "handle",
            Call::Progress { .. } => "tool-progress",
            Call::Finished { .. } => "tool-finished",
            Call::Input { .. } => "tool-input",
            Call::Detached { .. } => "tool-detached",
            Call::TaskChanged { .. } => "task-changed",
            Call::Log { .. } => "tool-log",
            Call::Stopped(_) => "request-stopped",
            Call::ListenEnded { .. } => "listen-ended",
            Call::Sweep { .. } => "sweep",
            Call::Released { .. } => "tool-released",
        }
    }
}

/// The WASI a component gets: what the standard library needs (clocks, random) and nothing
/// inherited from this process: no env, files or stdio.
pub(crate) struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl Wasi {
    pub(crate) fn new() -> Self {
        Self {
            ctx: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for Wasi {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// What the component's imports see: the store and the server's catalog, and [`Wasi`].
struct HostState {
    store: Arc<dyn TaskStore>,
    catalog: Arc<Catalog>,
    wasi: Wasi,
    /// What the instance's memory may grow to.
    limits: StoreLimits,
    /// A store call of the current component call failed as `unavailable`.
    store_failed: bool,
}

impl HostState {
    /// Pass a store's answer on, noting a backend failure.
    fn noted<T>(&mut self, result: Result<T, store::StoreError>) -> Result<T, store::StoreError> {
        if let Err(store::StoreError::Unavailable(_)) = &result {
            self.store_failed = true;
        }
        result
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

impl types::Host for HostState {}

impl store::Host for HostState {
    async fn get(&mut self, id: String) -> Result<Option<types::Task>, store::StoreError> {
        let result = observed("get", self.store.get(&id)).await;
        self.noted(result)
    }

    async fn create(&mut self, task: types::Task) -> Result<(), store::StoreError> {
        let written = crate::metrics::created(&task);
        let result = observed("create", self.store.create(task)).await;
        crate::metrics::count_written(written, &result);
        self.noted(result)
    }

    async fn update(
        &mut self,
        task: types::Task,
        expected_version: u64,
    ) -> Result<(), store::StoreError> {
        let written = crate::metrics::updated(&task);
        let result = observed("update", self.store.update(task, expected_version)).await;
        crate::metrics::count_written(written, &result);
        self.noted(result)
    }

    async fn list(
        &mut self,
        owner: String,
        status: Option<types::Status>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<store::Page, store::StoreError> {
        let call = self.store.list(&owner, status, cursor.as_deref(), limit);
        let result = observed("list", call).await;
        self.noted(result)
    }

    async fn delete(&mut self, id: String) -> Result<(), store::StoreError> {
        let result = observed("delete", self.store.delete(&id)).await;
        self.noted(result)
    }

    async fn expire(&mut self, now: u64) -> Result<Vec<String>, store::StoreError> {
        let result = observed("expire", self.store.expire(now)).await;
        self.noted(result)
    }

    async fn abandoned(&mut self, now: u64, limit: u32) -> Result<Vec<String>, store::StoreError> {
        let result = observed("abandoned", self.store.abandoned(now, limit)).await;
        self.noted(result)
    }
}

/// One store call `op` of the component: timed for the metrics and traced, when they are on
/// (here rather than in a wrapping store, which would cost a boxed future per call).
async fn observed<T>(
    op: &'static str,
    call: impl Future<Output = Result<T, store::StoreError>>,
) -> Result<T, store::StoreError> {
    let span = crate::traces::store(op);
    let since = crate::metrics::enabled().then(std::time::Instant::now);
    let result = if span.is_disabled() {
        call.await
    } else {
        call.instrument(span.clone()).await
    };
    if let Err(e) = &result {
        crate::traces::store_failed(&span, e);
    }
    if let Some(since) = since {
        let failed = matches!(result, Err(store::StoreError::Unavailable(_)));
        crate::metrics::store_call(op, since, failed);
    }
    result
}

impl server::Host for HostState {
    async fn get_settings(&mut self) -> server::Settings {
        self.catalog.settings().clone()
    }

    async fn tools(&mut self) -> Vec<server::Tool> {
        self.catalog.infos()
    }

    async fn find_tool(&mut self, name: String) -> Option<server::Tool> {
        self.catalog.get(&name).map(|t| t.info().clone())
    }
}

struct Instance {
    store: Store<HostState>,
    bindings: bindings::Tasks,
}

/// The loaded component with its imports wired to a store and a catalog of tools, ready to be
/// called from many tasks at once. [`Server`](crate::Server) drives one over a byte stream; an
/// embedder with another transport can drive one directly, carrying out the returned
/// [`Action`]s itself.
pub struct Guest {
    engine: Engine,
    pre: bindings::TasksPre<HostState>,
    idle: Mutex<Vec<Instance>>,
    /// Permits for calls in the component: [`MAX_CONCURRENT_CALLS`].
    calls: tokio::sync::Semaphore,
    store: Arc<dyn TaskStore>,
    catalog: Arc<Catalog>,
}

impl Guest {
    /// Compile `component` (or load it from the [`CompileCache`] the environment names), link
    /// its imports to `store` and to these settings and tools.
    pub fn new(
        component: &ComponentSource,
        store: Arc<dyn TaskStore>,
        settings: crate::types::Settings,
        tools: Vec<Arc<dyn crate::Tool>>,
    ) -> Result<Self, GuestError> {
        let catalog = Arc::new(Catalog::new(settings, tools));
        Self::load(component, &CompileCache::from_env(), store, catalog)
    }

    /// Compile `component` (the bytes of a component, or a path to one), or load it from
    /// `cache`, and link it.
    pub(crate) fn load(
        component: &ComponentSource,
        cache: &CompileCache,
        store: Arc<dyn TaskStore>,
        catalog: Arc<Catalog>,
    ) -> Result<Self, GuestError> {
        let (engine, compiled) = compile(component, cache)?;
        let load = GuestError::load;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(load)?;
        bindings::Tasks::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(load)?;
        let pre = bindings::TasksPre::new(linker.instantiate_pre(&compiled).map_err(load)?)
            .map_err(load)?;
        Ok(Self {
            engine,
            pre,
            idle: Mutex::new(Vec::new()),
            calls: tokio::sync::Semaphore::new(MAX_CONCURRENT_CALLS),
            store,
            catalog,
        })
    }

    /// Make one call on an idle instance (or a new one), returning the router's actions.
    pub async fn call(&self, call: Call, ctx: Context) -> Result<Vec<Action>, GuestError> {
        self.call_noting_store(call, ctx)
            .await
            .map(|(actions, _)| actions)
    }

    /// [`Guest::call`], and whether a store call it made failed as `unavailable` (what it
    /// meant to write may not be written: a caller that holds an outcome can give it again).
    pub async fn call_noting_store(
        &self,
        call: Call,
        ctx: Context,
    ) -> Result<(Vec<Action>, bool), GuestError> {
        let span = crate::traces::component(call.function());
        let (_permit, mut instance) = self.checkout().await?;
        instance.store.data_mut().store_failed = false;
        let router = instance.bindings.mcp_tasks_router();
        let store = &mut instance.store;
        // The call's future, not a guard held over its awaits: it runs in its span wherever it
        // is polled.
        let result = async move {
            match call {
                Call::Handle(message) => router.call_handle(store, &message, &ctx).await,
                Call::Progress {
                    token,
                    run_state,
                    report,
                } => {
                    router
                        .call_tool_progress(store, &token, &run_state, &report, &ctx)
                        .await
                }
                Call::Finished {
                    token,
                    outcome,
                    message,
                } => {
                    router
                        .call_tool_finished(store, &token, &outcome, message.as_deref(), &ctx)
                        .await
                }
                Call::Input {
                    token,
                    run_state,
                    questions,
                } => {
                    router
                        .call_tool_input(store, &token, &run_state, &questions, &ctx)
                        .await
                }
                Call::Detached { token, run_state } => {
                    router
                        .call_tool_detached(store, &token, &run_state, &ctx)
                        .await
                }
                Call::TaskChanged {
                    subscription,
                    task_id,
                } => {
                    router
                        .call_task_changed(store, &subscription, &task_id, &ctx)
                        .await
                }
                Call::Log { token, entry } => {
                    router.call_tool_log(store, &token, &entry, &ctx).await
                }
                Call::Stopped(message) => router.call_request_stopped(store, &message, &ctx).await,
                Call::ListenEnded { subscription } => {
                    router.call_listen_ended(store, &subscription, &ctx).await
                }
                Call::Sweep { running, claim } => {
                    router.call_sweep(store, &running, claim, &ctx).await
                }
                Call::Released { token, hand_back } => {
                    router
                        .call_tool_released(store, &token, hand_back, &ctx)
                        .await
                }
            }
        }
        .instrument(span)
        .await;
        let store_failed = instance.store.data().store_failed;
        Ok((self.checkin(instance, result)?, store_failed))
    }

    /// `router.handle-batch`: lines of one client that arrived together, handled in one call
    /// while they only read; the actions of each line handled, in order (see the WIT).
    pub async fn call_batch(
        &self,
        messages: &[String],
        ctx: Context,
    ) -> Result<Vec<Vec<Action>>, GuestError> {
        let span = crate::traces::component("handle-batch");
        let (_permit, mut instance) = self.checkout().await?;
        let router = instance.bindings.mcp_tasks_router();
        let result = router
            .call_handle_batch(&mut instance.store, messages, &ctx)
            .instrument(span)
            .await;
        self.checkin(instance, result)
    }

    /// Whether its store reads in this process's memory (see [`TaskStore::reads_locally`]).
    pub(crate) fn reads_locally(&self) -> bool {
        self.store.reads_locally()
    }

    /// Its store.
    pub(crate) fn task_store(&self) -> Arc<dyn TaskStore> {
        self.store.clone()
    }

    /// Whether its store outlives this process (see [`TaskStore::outlives_process`]).
    pub(crate) fn store_outlives_process(&self) -> bool {
        self.store.outlives_process()
    }

    /// Every protocol revision the component's router speaks (`router.versions`), newest first.
    pub async fn versions(&self) -> Result<Vec<ProtocolVersion>, GuestError> {
        let (_permit, mut instance) = self.checkout().await?;
        let router = instance.bindings.mcp_tasks_router();
        let result = router.call_versions(&mut instance.store).await;
        self.checkin(instance, result)
    }

    /// A turn in the component and an instance to take it on (an idle one, or a new one), with
    /// a fresh time budget. Give it back with `checkin`.
    async fn checkout(&self) -> Result<(tokio::sync::SemaphorePermit<'_>, Instance), GuestError> {
        // The semaphore is never closed, so acquiring only ever waits.
        let permit = self
            .calls
            .acquire()
            .await
            .map_err(|e| GuestError::Load(e.to_string()))?;
        let mut instance = match self.take_idle() {
            Some(i) => i,
            None => self.instantiate().await?,
        };
        instance.store.set_epoch_deadline(CALL_BUDGET_TICKS);
        Ok((permit, instance))
    }

    /// The end of a call on `instance`: it goes back among the idle ones, unless the call trapped
    /// (an instance may be in any state after a trap: it is dropped).
    fn checkin<T>(&self, instance: Instance, result: wasmtime::Result<T>) -> Result<T, GuestError> {
        match result {
            Ok(value) => {
                self.put_idle(instance);
                Ok(value)
            }
            Err(trap) => {
                crate::metrics::trap();
                Err(GuestError::trap(trap))
            }
        }
    }

    fn take_idle(&self) -> Option<Instance> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn put_idle(&self, instance: Instance) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(instance);
        }
    }

    async fn instantiate(&self) -> Result<Instance, GuestError> {
        let state = HostState {
            store: self.store.clone(),
            catalog: self.catalog.clone(),
            wasi: Wasi::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(GUEST_MEMORY_BYTES)
                .trap_on_grow_failure(true)
                .build(),
            store_failed: false,
        };
        let mut store = budgeted_store(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        let bindings = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(GuestError::load)?;
        Ok(Instance { store, bindings })
    }
}

/// Where the component comes from.
#[derive(Debug, Clone)]
pub enum ComponentSource {
    /// The bytes of a component (e.g. [`EMBEDDED_COMPONENT`]).
    Bytes(Arc<[u8]>),
    /// A component file on disk.
    File(std::path::PathBuf),
}

impl ComponentSource {
    /// The component embedded in this binary.
    pub fn embedded() -> Self {
        Self::Bytes(Arc::from(EMBEDDED_COMPONENT))
    }

    /// The state-machine component embedded in this binary ([`EMBEDDED_MACHINE_COMPONENT`]).
    pub fn embedded_machine() -> Self {
        Self::Bytes(Arc::from(EMBEDDED_MACHINE_COMPONENT))
    }

    /// A component file.
    pub fn file(path: impl AsRef<Path>) -> Self {
        Self::File(path.as_ref().to_path_buf())
    }
}

impl GuestError {
    pub(crate) fn load(e: wasmtime::Error) -> Self {
        Self::Load(format!("{e:?}"))
    }

    /// The trap's cause, for the client; its wasm backtrace goes to the log only.
    pub(crate) fn trap(e: wasmtime::Error) -> Self {
        tracing::error!("the tasks component trapped: {e:?}");
        Self::Trap(e.root_cause().to_string())
    }
}

/// An engine whose calls are interrupted by epoch (see [`CALL_BUDGET_TICKS`]), and `component`
/// compiled for it (or loaded from `cache`, where it was compiled before).
pub(crate) fn compile(
    component: &ComponentSource,
    cache: &CompileCache,
) -> Result<(Engine, wasmtime::component::Component), GuestError> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    if std::env::var_os("MCP_TASKS_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config).map_err(GuestError::load)?;
    let compiled = match component {
        ComponentSource::Bytes(bytes) => cache.component(&engine, bytes),
        ComponentSource::File(path) => match std::fs::read(path) {
            Ok(bytes) => cache.component(&engine, &bytes),
            Err(e) => {
                return Err(GuestError::Load(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        },
    }
    .map_err(GuestError::load)?;
    spawn_epoch_ticker(&engine);
    Ok((engine, compiled))
}

/// A store for `engine` whose calls trap after [`CALL_BUDGET_TICKS`].
pub(crate) fn budgeted_store<T>(engine: &Engine, data: T) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(CALL_BUDGET_TICKS);
    store
}

/// Ticks the engine's epoch so runaway guest calls trap instead of hanging the server. The
/// thread holds only a weak reference and ends with the engine.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("mcp-tasks-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .ok();
}
