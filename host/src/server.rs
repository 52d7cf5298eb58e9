//! The server: the hub that carries out what the component decides, for the clients of a
//! transport (stdio's one connection here; HTTP's requests in `transport::http`).
//!
//! The component decides every status and every reply; this module only runs tools, holds
//! `tasks/result` requests until their task changes, passes tools' questions and the clients'
//! answers between them, and hands messages to each client's outbox.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncWrite};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cache::CompileCache;
use crate::component::bindings::exports::mcp::tasks::router::{
    Action, Context, Run, ToolQuestion, Wait,
};
use crate::component::{Call, ComponentSource, Guest, GuestError};
use crate::store::{MemoryStore, TaskStore};
use crate::tools::{Catalog, FromTool, Tool, ToolContext, ToolOutcome, default_settings, reports};
use crate::transport::{self, Limits, Outbox};
use crate::types::Settings;
use crate::types::{Outcome, RpcError};

/// How often, in ms, the component sweeps: expiry, lease renewal, runs whose task ended on
/// another host (so a cancel there reaches the tool here within about this long).
pub(crate) const SWEEP_EVERY_MS: u64 = 500;
/// How many change events a waiting `tasks/result` may fall behind before it simply re-checks.
const CHANGED_BACKLOG: usize = 1024;
/// Every how many sweeps the tasks of each subscription are looked at again, whether or not a
/// change was seen here: another host sharing the store may have changed them.
const RECHECK_SUBSCRIPTIONS_EVERY: u64 = 4;

/// Builds a [`Server`]: its store, tools, settings, owner and component.
pub struct ServerBuilder {
    store: Arc<dyn TaskStore>,
    tools: Vec<Arc<dyn Tool>>,
    settings: Settings,
    owner: String,
    component: ComponentSource,
    cache: CompileCache,
    limits: Limits,
}

impl ServerBuilder {
    /// Keep tasks in this store (default: a fresh [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn TaskStore>) -> Self {
        self.store = store;
        self
    }

    /// Offer this tool.
    pub fn tool(mut self, tool: Arc<dyn Tool>) -> Self {
        self.tools.push(tool);
        self
    }

    /// Offer these tools.
    pub fn tools(mut self, tools: impl IntoIterator<Item = Arc<dyn Tool>>) -> Self {
        self.tools.extend(tools);
        self
    }

    /// Use these settings (identity, ttl limits, poll interval, page size).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Create tasks for, and show tasks only to, this owner (default: the OS user).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// Run this component instead of the embedded one.
    pub fn component(mut self, component: ComponentSource) -> Self {
        self.component = component;
        self
    }

    /// Keep the compiled component here (default: [`CompileCache::from_env`]).
    pub fn compile_cache(mut self, cache: CompileCache) -> Self {
        self.cache = cache;
        self
    }

    /// Refuse beyond these limits when serving stdio ([`Server::serve`]; HTTP takes its own from
    /// [`HttpOptions`](crate::transport::http::HttpOptions)). Default: [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Compile the component (or load it from the compile cache) and make the server.
    pub fn build(self) -> Result<Server, GuestError> {
        let catalog = Arc::new(Catalog::new(self.settings, self.tools));
        let guest = Guest::load(&self.component, &self.cache, self.store, catalog.clone())?;
        Ok(Server {
            guest: Arc::new(guest),
            catalog,
            owner: self.owner,
            executor: format!("{}/{}", hostname(), uuid::Uuid::new_v4()),
            limits: self.limits,
        })
    }
}

/// An MCP server whose task logic runs in the component.
pub struct Server {
    guest: Arc<Guest>,
    catalog: Arc<Catalog>,
    owner: String,
    /// This server among those sharing a store: `<host name>/<random UUID>`, so a task's
    /// executor says where it ran.
    executor: String,
    limits: Limits,
}

impl Server {
    /// A builder with the defaults: memory store, no tools, default settings, the OS user as
    /// owner, the embedded component, the compile cache the environment names.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            store: Arc::new(MemoryStore::new()),
            tools: Vec::new(),
            settings: default_settings(),
            owner: os_user(),
            component: ComponentSource::embedded(),
            cache: CompileCache::from_env(),
            limits: Limits::default(),
        }
    }

    /// Serve one connection of newline-delimited JSON-RPC until `input` ends.
    ///
    /// Requests run concurrently; all output goes through one writer, so messages never
    /// interleave. At the end of input, requests already read are answered, waiting
    /// `tasks/result` requests and running tools are stopped, and the output is flushed.
    pub async fn serve<R, W>(&self, input: R, output: W) -> std::io::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_until(input, output, std::future::pending())
            .await
    }

    /// [`serve`](Self::serve), but also ending, the same way, when `stop` completes (e.g. on
    /// SIGTERM); an error from `stop` is returned after the shutdown.
    pub async fn serve_until<R, W>(
        &self,
        input: R,
        output: W,
        stop: impl Future<Output = std::io::Result<()>>,
    ) -> std::io::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (outbox, writer) = transport::stdio::writer(output, self.limits.max_queued_bytes);
        let hub = self.hub();
        let peer = Arc::new(Peer {
            id: 0,
            owner: self.owner.clone(),
            session: Arc::default(),
            // One stream, one client: a legacy task's question can go out as soon as it is asked.
            push: true,
            client: String::new(),
            outbox,
        });
        let sweeper = tokio::spawn(hub.clone().sweep_periodically(peer.clone()));
        let mut requests = JoinSet::new();
        let limits = &self.limits;
        // As many places for requests being answered, and as many again for waiting ones.
        let places_each = limits.requests_per_owner.max(1);
        let answering = Arc::new(Semaphore::new(places_each));
        let waiting = Arc::new(Semaphore::new(places_each));
        let mut lines = transport::stdio::Lines::new(input, limits.max_body_bytes);
        tokio::pin!(stop);
        let read = loop {
            let line = tokio::select! {
                line = lines.next(&peer.outbox) => match line {
                    Ok(Some(line)) => line,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                },
                stopped = &mut stop => break stopped,
            };
            if hub.runs_of(&peer.owner) >= limits.tasks_per_owner && is_tool_call(&line) {
                let message = format!(
                    "Too many requests: this caller already has {} tools running; retry when one \
                     has finished",
                    limits.tasks_per_owner
                );
                answer_error(&peer, &line, -32000, &message);
                continue;
            }
            // Back-pressure: the next line is read once a place is free.
            let place = tokio::select! {
                place = answering.clone().acquire_owned() => match place {
                    Ok(place) => place,
                    Err(_) => break Ok(()), // Never closed.
                },
                stopped = &mut stop => break stopped,
            };
            let places = Places {
                answering: place,
                waiting: waiting.clone(),
                limit: places_each,
            };
            requests.spawn(hub.clone().handle(peer.clone(), line, Some(places)));
            // Reap finished handlers as we go, so a long session does not accumulate them.
            while requests.try_join_next().is_some() {}
        };

        hub.shutdown.cancel();
        sweeper.abort();
        while requests.join_next().await.is_some() {}
        hub.finish().await;
        // Dropping the last outbox lets the writer drain and finish.
        drop(peer);
        drop(hub);
        let written = writer
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        read.and(written)
    }

    /// [`serve_until`](Self::serve_until) this process's standard input and output: what an MCP
    /// client that starts the server as a command speaks to. Where they are pipes, they are read
    /// and written without a blocking thread in between.
    ///
    /// Spawn it on a multi-threaded runtime (`tokio::spawn`) rather than `block_on` it: the
    /// requests it spawns then start on the runtime's workers instead of each waking one from
    /// outside.
    pub async fn serve_stdio_until(
        &self,
        stop: impl Future<Output = std::io::Result<()>>,
    ) -> std::io::Result<()> {
        let (input, output, _restore) = transport::stdio::process_streams();
        self.serve_until(input, output, stop).await
    }

    /// Work as a worker until `stop` completes: take no calls, but claim tasks waiting for a run
    /// in the store (queued by servers running with `queue` set, waiting for their next
    /// attempt, or lost with a host that died) and run their tools, as many at once as the
    /// settings' `claim_limit`. Cancels, questions and answers reach its tools through the
    /// store, as for any host sharing it. At `stop`, running tools are stopped; their tasks
    /// are taken over (or failed) by another host once their lease lapses.
    pub async fn work_until(
        &self,
        stop: impl Future<Output = std::io::Result<()>>,
    ) -> std::io::Result<()> {
        let hub = self.hub();
        let peer = Arc::new(Peer {
            id: 0,
            owner: self.owner.clone(),
            session: Arc::default(),
            push: false,
            client: String::new(),
            // A worker has no client: what its runs would send has nowhere to go (clients poll).
            outbox: Outbox::nowhere(),
        });
        let sweeper = tokio::spawn(hub.clone().sweep_periodically(peer));
        let stopped = stop.await;
        hub.shutdown.cancel();
        sweeper.abort();
        hub.finish().await;
        stopped
    }

    /// A hub for one transport's clients, sharing this server's component and tools.
    pub(crate) fn hub(&self) -> Arc<Hub> {
        Arc::new(Hub {
            guest: self.guest.clone(),
            catalog: self.catalog.clone(),
            executor: self.executor.clone(),
            changed: broadcast::channel(CHANGED_BACKLOG).0,
            runs: Mutex::new(HashMap::new()),
            questions: Mutex::new(HashMap::new()),
            subscriptions: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            tool_tasks: tokio_util::task::TaskTracker::new(),
            backlog: AtomicBool::new(false),
            sweep_soon: Notify::new(),
        })
    }

    /// The owner of every task when callers are not told apart (stdio, HTTP without auth).
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }
}

/// One client as the component sees it: who it is, its session, and where its messages go.
/// Over stdio there is one for the whole connection; over HTTP, one for each request.
pub(crate) struct Peer {
    /// Tells this peer's subscriptions from another's with the same request ID.
    pub(crate) id: u64,
    pub(crate) owner: String,
    /// The component's session state (legacy era), shared by the requests of one session.
    pub(crate) session: Arc<Mutex<String>>,
    /// Whether server-to-client requests can be written to this client at any time.
    pub(crate) push: bool,
    /// Tells this client's request IDs from another's (see the WIT's `context.client`).
    pub(crate) client: String,
    pub(crate) outbox: Outbox,
}

/// What the clients of one transport share: the component, the running tools, the questions
/// they wait on, the waiting requests and the subscriptions. It carries out what the component
/// decides, for whichever [`Peer`] a message came from.
pub(crate) struct Hub {
    guest: Arc<Guest>,
    catalog: Arc<Catalog>,
    executor: String,
    /// Task IDs as they change, for the `tasks/result` requests waiting on them.
    changed: broadcast::Sender<String>,
    /// Each running tool, by run token.
    runs: Mutex<HashMap<String, RunHandle>>,
    /// Where the answer to each pending question goes, by run token and question key.
    questions: Mutex<HashMap<(String, String), oneshot::Sender<Value>>>,
    /// The `subscriptions/listen` streams, by peer and subscription name.
    subscriptions: Mutex<HashMap<(u64, String), Subscription>>,
    pub(crate) shutdown: CancellationToken,
    tool_tasks: tokio_util::task::TaskTracker,
    /// Whether the last sweep may have left tasks waiting for a host (it claimed as many as it
    /// had room for): then each run that ends here asks for a sweep at once.
    backlog: AtomicBool,
    /// Wakes the sweeper before its next tick.
    sweep_soon: Notify,
}

/// A running tool: how to stop it, and what it goes by now (a modern plain call that asked for
/// input takes the token of the request that carried the answers).
struct RunHandle {
    cancel: CancellationToken,
    /// Whose call it runs, to count each caller's tools in flight.
    owner: String,
    name: Arc<Mutex<RunName>>,
}

/// A run's token, the component's opaque state for it, and the client its messages go to (over
/// HTTP, the request a modern plain call's retry came in on).
#[derive(Clone)]
struct RunName {
    token: String,
    state: String,
    peer: Arc<Peer>,
}

/// The tasks one subscription follows, with the last notification sent for each, so that the
/// same state is not sent twice.
struct Subscription {
    peer: Arc<Peer>,
    task_ids: Vec<String>,
    last_sent: HashMap<String, String>,
}

impl Hub {
    fn ctx(&self, peer: &Peer) -> Context {
        Context {
            owner: peer.owner.clone(),
            now: now_ms(),
            session: lock(&peer.session).clone(),
            executor: self.executor.clone(),
            push: peer.push,
            client: peer.client.clone(),
        }
    }

    /// How many tools run here for calls of this owner.
    pub(crate) fn runs_of(&self, owner: &str) -> usize {
        lock(&self.runs)
            .values()
            .filter(|r| r.owner == owner)
            .count()
    }

    /// The input schema of a tool, for transports that check arguments against it.
    pub(crate) fn input_schema(&self, tool: &str) -> Option<Value> {
        let tool = self.catalog.get(tool)?;
        serde_json::from_str(&tool.info().input_schema).ok()
    }

    /// The peer's stream has closed: its subscriptions end.
    pub(crate) fn forget(&self, peer_id: u64) {
        lock(&self.subscriptions).retain(|(id, _), _| *id != peer_id);
    }

    /// Stop every tool and wait for them to end.
    pub(crate) async fn finish(&self) {
        self.shutdown.cancel();
        self.stop_all_runs();
        lock(&self.subscriptions).clear();
        self.tool_tasks.close();
        self.tool_tasks.wait().await;
    }

    /// Handle one incoming line from `peer`, re-delivering it while the component says to wait.
    /// With `places` (stdio), the request holds a place among those being answered until it
    /// waits, then one among those waiting, and is refused if none is free.
    pub(crate) async fn handle(
        self: Arc<Self>,
        peer: Arc<Peer>,
        line: String,
        mut places: Option<Places>,
    ) {
        let mut changed: Option<broadcast::Receiver<String>> = None;
        // Held until the request is answered.
        let mut _waiting_place = None;
        loop {
            // Boxed: the call's future is large, and this one is moved whole when spawned.
            let call = Box::pin(self.guest.call(Call::Handle(line.clone()), self.ctx(&peer)));
            let actions = match call.await {
                Ok(actions) => actions,
                Err(e) => return fail_request(&peer, &line, e),
            };
            let Some(wait) = self.execute(actions, &peer) else {
                return;
            };
            match &mut changed {
                // First wait: subscribe, then look again at once, so that a change between the
                // component's answer and the subscription is not missed.
                None => {
                    if let Some(Places {
                        answering,
                        waiting,
                        limit,
                    }) = places.take()
                    {
                        // A waiting request must not keep the reader from the lines that end
                        // its wait (an answer, a cancel), so it gives its place back.
                        drop(answering);
                        match waiting.try_acquire_owned() {
                            Ok(place) => _waiting_place = Some(place),
                            Err(_) => {
                                let message = format!(
                                    "Too many requests: {} requests of this connection are \
                                     already waiting; retry when one has been answered",
                                    limit
                                );
                                return answer_error(&peer, &line, -32000, &message);
                            }
                        }
                    }
                    changed = Some(self.changed.subscribe());
                }
                Some(rx) => {
                    let recheck = tokio::time::sleep(Duration::from_millis(wait.recheck_after));
                    tokio::pin!(recheck);
                    loop {
                        tokio::select! {
                            _ = self.shutdown.cancelled() => return,
                            _ = &mut recheck => break,
                            event = rx.recv() => match event {
                                Ok(id) if id != wait.task_id => continue,
                                // Our task, a backlog overflow, or a closed channel: look again.
                                _ => break,
                            },
                        }
                    }
                }
            }
        }
    }

    /// Carry out the component's actions in order; the wait it asked for, if any.
    fn execute(self: &Arc<Self>, actions: Vec<Action>, peer: &Arc<Peer>) -> Option<Wait> {
        let mut wait = None;
        for action in actions {
            match action {
                Action::Send(message) => peer.outbox.send(message),
                Action::SetSession(session) => *lock(&peer.session) = session,
                Action::RunTool(run) => self.start(run, peer.clone()),
                Action::StopTool(token) => {
                    if let Some(run) = lock(&self.runs).remove(&token) {
                        run.cancel.cancel();
                    }
                    // Pending questions die with their run: the tool's `ask` returns `Stopped`.
                    lock(&self.questions).retain(|(run, _), _| *run != token);
                }
                Action::Wait(w) => wait = Some(w),
                Action::Changed(task_id) => {
                    // No receiver just means nobody waits.
                    let _ = self.changed.send(task_id.clone());
                    let followers: Vec<(u64, String)> = lock(&self.subscriptions)
                        .iter()
                        .filter(|(_, s)| s.task_ids.contains(&task_id))
                        .map(|(key, _)| key.clone())
                        .collect();
                    for subscription in followers {
                        tokio::spawn(self.clone().notify(subscription, task_id.clone()));
                    }
                }
                Action::ReplyTool(reply) => {
                    let waiting = lock(&self.questions).remove(&(reply.token.clone(), reply.key));
                    let answer = serde_json::from_str(&reply.response).unwrap_or(Value::Null);
                    // A run that ended meanwhile, or one on another host, has no receiver here.
                    if waiting.is_none_or(|tx| tx.send(answer).is_err()) {
                        tracing::warn!(
                            run = %reply.token,
                            "an answer arrived, but no tool here waits for it"
                        );
                    }
                }
                Action::UpdateRun(update) => {
                    if let Some(run) = lock(&self.runs).get(&update.token) {
                        lock(&run.name).state = update.state;
                    }
                }
                Action::RenameRun(rename) => self.rename_run(
                    peer,
                    &rename.from,
                    RunName {
                        token: rename.to,
                        state: rename.state,
                        peer: peer.clone(),
                    },
                ),
                Action::Listen(listen) => {
                    let key = (peer.id, listen.subscription);
                    lock(&self.subscriptions).insert(
                        key.clone(),
                        Subscription {
                            peer: peer.clone(),
                            task_ids: listen.task_ids.clone(),
                            last_sent: HashMap::new(),
                        },
                    );
                    // Each task's state now, then as it changes.
                    for task_id in listen.task_ids {
                        tokio::spawn(self.clone().notify(key.clone(), task_id));
                    }
                }
                Action::Unlisten(subscription) => {
                    lock(&self.subscriptions).remove(&(peer.id, subscription));
                }
                Action::Log(message) => tracing::info!(target: "mcp_tasks::component", "{message}"),
            }
        }
        wait
    }

    /// Start a tool run; its progress and outcome go back to the component.
    fn start(self: &Arc<Self>, run: Run, peer: Arc<Peer>) {
        let cancel = self.shutdown.child_token();
        let name = Arc::new(Mutex::new(RunName {
            token: run.token.clone(),
            state: run.state.clone(),
            peer: peer.clone(),
        }));
        lock(&self.runs).insert(
            run.token.clone(),
            RunHandle {
                cancel: cancel.clone(),
                owner: peer.owner.clone(),
                name: name.clone(),
            },
        );
        let conn = self.clone();
        // One report or question of the run in the component at a time, in the tool's order:
        // each may replace the run's state, which the next must see.
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        self.tool_tasks.spawn(async move {
            let (progress_tx, mut progress_rx) = reports::channel(reports::WAITING);
            let (questions_tx, questions_rx) = mpsc::unbounded_channel();
            // The run's parts share this task rather than each spawning its own: the tool; its
            // reports, forwarded until its context is gone and the last one is in; and its
            // questions, moot once it has returned.
            let forward = async {
                while let Some(report) = progress_rx.recv().await {
                    let _turn = turn.lock().await;
                    let RunName { token, state, peer } = lock(&name).clone();
                    if !lock(&conn.runs).contains_key(&token) {
                        continue; // Stopped: its request or task has ended.
                    }
                    let call = Call::Progress {
                        token,
                        run_state: state,
                        report,
                    };
                    if let Ok(actions) = conn.guest.call(call, conn.ctx(&peer)).await {
                        conn.execute(actions, &peer);
                    }
                }
            };
            let asking = conn
                .clone()
                .forward_questions(name.clone(), turn.clone(), questions_rx);
            let tool = async {
                match conn.catalog.get(&run.tool) {
                    Some(tool) => {
                        let arguments = serde_json::from_str(&run.arguments).unwrap_or(Value::Null);
                        let cx = ToolContext::new(
                            run.task_id.clone(),
                            progress_tx,
                            questions_tx,
                            cancel.clone(),
                        );
                        tool.call(arguments, cx).await
                    }
                    None => {
                        drop((progress_tx, questions_tx));
                        ToolOutcome::rpc_error(-32602, format!("Unknown tool: {}", run.tool))
                    }
                }
            };
            let returned = async {
                tokio::pin!(tool, asking);
                tokio::select! {
                    biased;
                    outcome = &mut tool => outcome,
                    // No one can ask any more (every copy of the context is gone).
                    () = &mut asking => tool.await,
                }
            };
            let (outcome, ()) = tokio::join!(returned, forward);
            let RunName { token, peer, .. } = lock(&name).clone();
            lock(&conn.questions).retain(|(run, _), _| *run != token);
            // The outcome is given to the component until it is stored: while the store is away
            // the run stays listed as running, so the sweep renews its lease once the store is
            // back rather than taking the run for lost, and the tool's result is not thrown away.
            let mut wait = Duration::from_millis(100);
            loop {
                if !lock(&conn.runs).contains_key(&token) || cancel.is_cancelled() {
                    lock(&conn.runs).remove(&token);
                    return; // Stopped on the component's word: the outcome is not wanted.
                }
                let call = Call::Finished {
                    token: token.clone(),
                    outcome: outcome.outcome.clone(),
                    message: outcome.message.clone(),
                };
                match conn.guest.call_noting_store(call, conn.ctx(&peer)).await {
                    // Nothing started from it (a workflow's next step goes on the same token):
                    // give it again.
                    Ok((actions, true))
                        if !actions.iter().any(|a| matches!(a, Action::RunTool(_))) =>
                    {
                        conn.execute(actions, &peer);
                        tracing::warn!(
                            %token,
                            retry_in_ms = wait.as_millis() as u64,
                            "a finished tool's outcome could not be stored"
                        );
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = cancel.cancelled() => {}
                        }
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                    Ok((actions, _)) => {
                        lock(&conn.runs).remove(&token);
                        conn.execute(actions, &peer);
                        break;
                    }
                    Err(e) => {
                        lock(&conn.runs).remove(&token);
                        tracing::error!("reporting a finished tool failed: {e}");
                        break;
                    }
                }
            }
            // Room for one more run: where tasks may be waiting for a host, claim at once
            // rather than at the next tick, so a busy worker never idles between sweeps.
            if conn.backlog.load(Ordering::Relaxed) {
                conn.sweep_soon.notify_one();
            }
        });
    }

    /// Pass what a run's tool sends to the component, in order: its questions, a batch at a time
    /// (the answers come back as `reply-tool` actions), and its wish to go on as a task.
    async fn forward_questions(
        self: Arc<Self>,
        name: Arc<Mutex<RunName>>,
        turn: Arc<tokio::sync::Mutex<()>>,
        mut from_tool: mpsc::UnboundedReceiver<FromTool>,
    ) {
        while let Some(sent) = from_tool.recv().await {
            let _turn = turn.lock().await;
            let RunName { token, state, peer } = lock(&name).clone();
            let batch = match sent {
                FromTool::Ask(batch) => batch,
                FromTool::ContinueAsTask => {
                    let call = Call::Detached {
                        token,
                        run_state: state,
                    };
                    match self.guest.call(call, self.ctx(&peer)).await {
                        Ok(actions) => {
                            self.execute(actions, &peer);
                        }
                        Err(e) => tracing::error!("a tool's call could not go on as a task: {e}"),
                    }
                    continue;
                }
            };
            let mut questions = Vec::with_capacity(batch.len());
            {
                let mut waiting = lock(&self.questions);
                for asked in batch {
                    questions.push(ToolQuestion {
                        key: asked.question.key.clone(),
                        method: asked.question.method,
                        params: asked.question.params.to_string(),
                    });
                    waiting.insert((token.clone(), asked.question.key), asked.reply);
                }
            }
            let keys: Vec<String> = questions.iter().map(|q| q.key.clone()).collect();
            let call = Call::Input {
                token: token.clone(),
                run_state: state,
                questions,
            };
            match self.guest.call(call, self.ctx(&peer)).await {
                Ok(actions) => {
                    self.execute(actions, &peer);
                }
                Err(e) => {
                    tracing::error!("passing on a tool's question failed: {e}");
                    let error = json!({ "error": { "code": -32603, "message": e.to_string() } });
                    for key in keys {
                        if let Some(reply) = lock(&self.questions).remove(&(token.clone(), key)) {
                            let _ = reply.send(error.clone());
                        }
                    }
                }
            }
        }
    }

    /// A run that now answers another request goes by `to`. If it has ended, the request that
    /// meant to resume it is answered through the component, with an error that says so.
    fn rename_run(self: &Arc<Self>, peer: &Arc<Peer>, from: &str, renamed: RunName) {
        let to = renamed.token.clone();
        let moved = {
            let mut runs = lock(&self.runs);
            match runs.remove(from) {
                Some(run) => {
                    *lock(&run.name) = renamed;
                    runs.insert(to.clone(), run);
                    true
                }
                None => false,
            }
        };
        if moved {
            let mut questions = lock(&self.questions);
            let keys: Vec<(String, String)> = questions
                .keys()
                .filter(|(run, _)| run == from)
                .cloned()
                .collect();
            for key in keys {
                if let Some(reply) = questions.remove(&key) {
                    questions.insert((to.clone(), key.1), reply);
                }
            }
            return;
        }
        let conn = self.clone();
        let peer = peer.clone();
        tokio::spawn(async move {
            let call = Call::Finished {
                token: to,
                outcome: Outcome::Error(RpcError {
                    code: -32602,
                    message: "the call this requestState resumes is no longer running; call the \
                              tool again"
                        .into(),
                    data: None,
                }),
                message: None,
            };
            if let Ok(actions) = conn.guest.call(call, conn.ctx(&peer)).await {
                conn.execute(actions, &peer);
            }
        });
    }

    /// Send a subscription the state of one of its tasks, unless it is what was sent last.
    async fn notify(self: Arc<Self>, key: (u64, String), task_id: String) {
        let Some(peer) = lock(&self.subscriptions).get(&key).map(|s| s.peer.clone()) else {
            return;
        };
        let call = Call::TaskChanged {
            subscription: key.1.clone(),
            task_id: task_id.clone(),
        };
        let Ok(actions) = self.guest.call(call, self.ctx(&peer)).await else {
            return;
        };
        for action in actions {
            let Action::Send(message) = action else {
                continue;
            };
            let mut subscriptions = lock(&self.subscriptions);
            // Ended meanwhile: nothing more is sent for it.
            let Some(sub) = subscriptions.get_mut(&key) else {
                return;
            };
            if sub.last_sent.get(&task_id) == Some(&message) {
                continue;
            }
            sub.last_sent.insert(task_id.clone(), message.clone());
            sub.peer.outbox.send(message);
        }
    }

    fn stop_all_runs(&self) {
        for (_, run) in lock(&self.runs).drain() {
            run.cancel.cancel();
        }
    }

    /// Sweep every [`SWEEP_EVERY_MS`] until aborted; what the sweep sends goes to `peer`.
    pub(crate) async fn sweep_periodically(self: Arc<Self>, peer: Arc<Peer>) {
        let mut every = tokio::time::interval(Duration::from_millis(SWEEP_EVERY_MS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for tick in 0u64.. {
            tokio::select! {
                _ = every.tick() => {}
                _ = self.sweep_soon.notified() => {}
            }
            if tick % RECHECK_SUBSCRIPTIONS_EVERY == 0 {
                let followed: Vec<((u64, String), String)> = lock(&self.subscriptions)
                    .iter()
                    .flat_map(|(key, s)| s.task_ids.iter().map(|t| (key.clone(), t.clone())))
                    .collect();
                for (subscription, task_id) in followed {
                    tokio::spawn(self.clone().notify(subscription, task_id));
                }
            }
            let running: Vec<String> = lock(&self.runs).keys().cloned().collect();
            let limit = self.catalog.settings().claim_limit as usize;
            let room = limit.saturating_sub(running.len());
            match self.guest.call(Call::Sweep(running), self.ctx(&peer)).await {
                Ok(actions) => {
                    // A host that claims, and was full or filled up, may have left tasks waiting.
                    let claimed = actions
                        .iter()
                        .filter(|a| matches!(a, Action::RunTool(_)))
                        .count();
                    let backlog = limit > 0 && (room == 0 || claimed >= room);
                    self.backlog.store(backlog, Ordering::Relaxed);
                    self.execute(actions, &peer);
                }
                Err(e) => tracing::error!("sweeping expired tasks failed: {e}"),
            }
        }
    }
}

/// The component trapped on this line: answer the request with -32603 if it was one; the
/// server goes on.
fn fail_request(peer: &Peer, line: &str, error: GuestError) {
    tracing::error!("{error}");
    answer_error(peer, line, -32603, &format!("Internal error: {error}"));
}

/// Answer the request `line` with a JSON-RPC error, if it is a request (a notification or a
/// response has nobody waiting for an answer).
fn answer_error(peer: &Peer, line: &str, code: i64, message: &str) {
    let Ok(request) = serde_json::from_str::<Value>(line) else {
        return;
    };
    if request.get("method").is_none() {
        return;
    }
    if let Some(id @ (Value::String(_) | Value::Number(_))) = request.get("id") {
        let error = json!({ "code": code, "message": message });
        peer.outbox
            .send(json!({ "jsonrpc": "2.0", "id": id, "error": error }).to_string());
    }
}

/// Whether `line` is a `tools/call` request.
fn is_tool_call(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|m| m["method"] == "tools/call")
}

/// The places a stdio request holds (see [`Hub::handle`]): one among those being answered, and
/// where to take one among those waiting.
pub(crate) struct Places {
    answering: OwnedSemaphorePermit,
    waiting: Arc<Semaphore>,
    /// How many places `waiting` has, for the refusal's message.
    limit: usize,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// This machine's host name, or "localhost" if it has none.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname(2) writes at most `buf.len()` bytes into `buf`.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..len]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

/// The OS user running this process: `$USER`, `$LOGNAME`, else `uid-N`.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        // SAFETY: getuid(2) cannot fail and has no preconditions.
        .unwrap_or_else(|| format!("uid-{}", unsafe { libc::getuid() }))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is a single insert, remove or clone: a panic cannot leave
    // the data half-changed, so a poisoned lock is still sound to use.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
