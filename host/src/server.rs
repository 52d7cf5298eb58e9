//! The server: one connection's message loop, carrying out what the component decides.
//!
//! The component decides every status and every reply; this module only runs tools, holds
//! `tasks/result` requests until their task changes, passes tools' questions and the client's
//! answers between them, and writes messages out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cache::CompileCache;
use crate::component::bindings::exports::mcp::tasks::router::{
    Action, Context, Run, ToolQuestion, Wait,
};
use crate::component::{Call, ComponentSource, Guest, GuestError};
use crate::store::{MemoryStore, TaskStore};
use crate::tools::{Asked, Catalog, Tool, ToolContext, ToolOutcome, default_settings};
use crate::transport::{self, Outbox};
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

    /// Compile the component (or load it from the compile cache) and make the server.
    pub fn build(self) -> Result<Server, GuestError> {
        let catalog = Arc::new(Catalog::new(self.settings, self.tools));
        let guest = Guest::load(&self.component, &self.cache, self.store, catalog.clone())?;
        Ok(Server {
            guest: Arc::new(guest),
            catalog,
            owner: self.owner,
            executor: format!("{}/{}", hostname(), uuid::Uuid::new_v4()),
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
        let (outbox, writer) = transport::writer(output);
        let conn = Arc::new(Connection {
            guest: self.guest.clone(),
            catalog: self.catalog.clone(),
            owner: self.owner.clone(),
            executor: self.executor.clone(),
            session: Mutex::new(String::new()),
            // One stream, one client: a legacy task's question can go out as soon as it is asked.
            push: true,
            outbox,
            changed: broadcast::channel(CHANGED_BACKLOG).0,
            runs: Mutex::new(HashMap::new()),
            questions: Mutex::new(HashMap::new()),
            subscriptions: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            tool_tasks: tokio_util::task::TaskTracker::new(),
        });
        let sweeper = tokio::spawn(conn.clone().sweep_periodically());
        let mut requests = JoinSet::new();
        let read = transport::read_lines(input, &conn.outbox, stop, |line| {
            let conn = conn.clone();
            requests.spawn(async move { conn.handle(line).await });
            // Reap finished handlers as we go, so a long session does not accumulate them.
            while requests.try_join_next().is_some() {}
        })
        .await;

        conn.shutdown.cancel();
        sweeper.abort();
        while requests.join_next().await.is_some() {}
        conn.stop_all_runs();
        conn.tool_tasks.close();
        conn.tool_tasks.wait().await;
        // Dropping the last outbox lets the writer drain and finish.
        drop(conn);
        let written = writer
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        read.and(written)
    }
}

struct Connection {
    guest: Arc<Guest>,
    catalog: Arc<Catalog>,
    owner: String,
    executor: String,
    session: Mutex<String>,
    /// Whether server-to-client requests can be written to this client at any time.
    push: bool,
    outbox: Outbox,
    /// Task IDs as they change, for the `tasks/result` requests waiting on them.
    changed: broadcast::Sender<String>,
    /// Each running tool, by run token.
    runs: Mutex<HashMap<String, RunHandle>>,
    /// Where the answer to each pending question goes, by run token and question key.
    questions: Mutex<HashMap<(String, String), oneshot::Sender<Value>>>,
    /// The connection's `subscriptions/listen` streams, by subscription name.
    subscriptions: Mutex<HashMap<String, Subscription>>,
    shutdown: CancellationToken,
    tool_tasks: tokio_util::task::TaskTracker,
}

/// A running tool: how to stop it, and what it goes by now (a modern plain call that asked for
/// input takes the token of the request that carried the answers).
struct RunHandle {
    cancel: CancellationToken,
    name: Arc<Mutex<RunName>>,
}

/// A run's token and the component's opaque state for it.
#[derive(Clone)]
struct RunName {
    token: String,
    state: String,
}

/// The tasks one subscription follows, with the last notification sent for each, so that the
/// same state is not sent twice.
struct Subscription {
    task_ids: Vec<String>,
    last_sent: HashMap<String, String>,
}

impl Connection {
    fn ctx(&self) -> Context {
        Context {
            owner: self.owner.clone(),
            now: now_ms(),
            session: lock(&self.session).clone(),
            executor: self.executor.clone(),
            push: self.push,
        }
    }

    /// Handle one incoming line, re-delivering it while the component says to wait.
    async fn handle(self: Arc<Self>, line: String) {
        let mut changed: Option<broadcast::Receiver<String>> = None;
        loop {
            let actions = match self
                .guest
                .call(Call::Handle(line.clone()), self.ctx())
                .await
            {
                Ok(actions) => actions,
                Err(e) => return self.fail_request(&line, e),
            };
            let Some(wait) = self.execute(actions) else {
                return;
            };
            match &mut changed {
                // First wait: subscribe, then look again at once, so that a change between the
                // component's answer and the subscription is not missed.
                None => changed = Some(self.changed.subscribe()),
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
    fn execute(self: &Arc<Self>, actions: Vec<Action>) -> Option<Wait> {
        let mut wait = None;
        for action in actions {
            match action {
                Action::Send(message) => self.outbox.send(message),
                Action::SetSession(session) => *lock(&self.session) = session,
                Action::RunTool(run) => self.start(run),
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
                    let followers: Vec<String> = lock(&self.subscriptions)
                        .iter()
                        .filter(|(_, s)| s.task_ids.contains(&task_id))
                        .map(|(name, _)| name.clone())
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
                        eprintln!(
                            "mcp-tasks: an answer for {} arrived, but no tool here waits for it",
                            reply.token
                        );
                    }
                }
                Action::RenameRun(rename) => self.rename_run(
                    &rename.from,
                    RunName {
                        token: rename.to,
                        state: rename.state,
                    },
                ),
                Action::Listen(listen) => {
                    lock(&self.subscriptions).insert(
                        listen.subscription.clone(),
                        Subscription {
                            task_ids: listen.task_ids.clone(),
                            last_sent: HashMap::new(),
                        },
                    );
                    // Each task's state now, then as it changes.
                    for task_id in listen.task_ids {
                        tokio::spawn(self.clone().notify(listen.subscription.clone(), task_id));
                    }
                }
                Action::Unlisten(subscription) => {
                    lock(&self.subscriptions).remove(&subscription);
                }
                Action::Log(message) => eprintln!("mcp-tasks: {message}"),
            }
        }
        wait
    }

    /// Start a tool run; its progress and outcome go back to the component.
    fn start(self: &Arc<Self>, run: Run) {
        let cancel = self.shutdown.child_token();
        let name = Arc::new(Mutex::new(RunName {
            token: run.token.clone(),
            state: run.state.clone(),
        }));
        lock(&self.runs).insert(
            run.token.clone(),
            RunHandle {
                cancel: cancel.clone(),
                name: name.clone(),
            },
        );
        let conn = self.clone();
        self.tool_tasks.spawn(async move {
            let (progress_tx, mut progress_rx) = watch::channel(None::<String>);
            let forward = {
                let conn = conn.clone();
                let name = name.clone();
                tokio::spawn(async move {
                    while progress_rx.changed().await.is_ok() {
                        let Some(message) = progress_rx.borrow_and_update().clone() else {
                            continue;
                        };
                        let call = Call::Progress {
                            token: lock(&name).token.clone(),
                            message,
                        };
                        if let Ok(actions) = conn.guest.call(call, conn.ctx()).await {
                            conn.execute(actions);
                        }
                    }
                })
            };
            let (questions_tx, questions_rx) = mpsc::unbounded_channel();
            let ask = tokio::spawn(conn.clone().forward_questions(name.clone(), questions_rx));
            let outcome = match conn.catalog.get(&run.tool) {
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
                None => ToolOutcome::rpc_error(-32602, format!("Unknown tool: {}", run.tool)),
            };
            // The sender went with the tool's context: the forwarder ends after the last report.
            let _ = forward.await;
            // A question still open when the tool returned is moot.
            ask.abort();
            let token = lock(&name).token.clone();
            lock(&conn.questions).retain(|(run, _), _| *run != token);
            let stopped = lock(&conn.runs).remove(&token).is_none() || cancel.is_cancelled();
            if stopped {
                return; // Stopped on the component's word: the outcome is not wanted.
            }
            let call = Call::Finished {
                token,
                outcome: outcome.outcome,
                message: outcome.message,
            };
            match conn.guest.call(call, conn.ctx()).await {
                Ok(actions) => {
                    conn.execute(actions);
                }
                Err(e) => eprintln!("mcp-tasks: reporting a finished tool failed: {e}"),
            }
        });
    }

    /// Pass a run's questions to the component, a batch at a time; its answers come back as
    /// `reply-tool` actions.
    async fn forward_questions(
        self: Arc<Self>,
        name: Arc<Mutex<RunName>>,
        mut batches: mpsc::UnboundedReceiver<Vec<Asked>>,
    ) {
        while let Some(batch) = batches.recv().await {
            let RunName { token, state } = lock(&name).clone();
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
            match self.guest.call(call, self.ctx()).await {
                Ok(actions) => {
                    self.execute(actions);
                }
                Err(e) => {
                    eprintln!("mcp-tasks: passing on a tool's question failed: {e}");
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
    fn rename_run(self: &Arc<Self>, from: &str, renamed: RunName) {
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
            if let Ok(actions) = conn.guest.call(call, conn.ctx()).await {
                conn.execute(actions);
            }
        });
    }

    /// Send a subscription the state of one of its tasks, unless it is what was sent last.
    async fn notify(self: Arc<Self>, subscription: String, task_id: String) {
        let call = Call::TaskChanged {
            subscription: subscription.clone(),
            task_id: task_id.clone(),
        };
        let Ok(actions) = self.guest.call(call, self.ctx()).await else {
            return;
        };
        for action in actions {
            let Action::Send(message) = action else {
                continue;
            };
            let mut subscriptions = lock(&self.subscriptions);
            // Ended meanwhile: nothing more is sent for it.
            let Some(sub) = subscriptions.get_mut(&subscription) else {
                return;
            };
            if sub.last_sent.get(&task_id) == Some(&message) {
                continue;
            }
            sub.last_sent.insert(task_id.clone(), message.clone());
            self.outbox.send(message);
        }
    }

    fn stop_all_runs(&self) {
        for (_, run) in lock(&self.runs).drain() {
            run.cancel.cancel();
        }
    }

    async fn sweep_periodically(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_millis(SWEEP_EVERY_MS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for tick in 0u64.. {
            every.tick().await;
            if tick % RECHECK_SUBSCRIPTIONS_EVERY == 0 {
                let followed: Vec<(String, String)> = lock(&self.subscriptions)
                    .iter()
                    .flat_map(|(name, s)| s.task_ids.iter().map(|t| (name.clone(), t.clone())))
                    .collect();
                for (subscription, task_id) in followed {
                    tokio::spawn(self.clone().notify(subscription, task_id));
                }
            }
            let running: Vec<String> = lock(&self.runs).keys().cloned().collect();
            match self.guest.call(Call::Sweep(running), self.ctx()).await {
                Ok(actions) => {
                    self.execute(actions);
                }
                Err(e) => eprintln!("mcp-tasks: sweeping expired tasks failed: {e}"),
            }
        }
    }

    /// The component trapped on this line: answer the request with -32603 if it was one; the
    /// server goes on.
    fn fail_request(&self, line: &str, error: GuestError) {
        eprintln!("mcp-tasks: {error}");
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            return;
        };
        if message.get("method").is_none() {
            return; // A notification or a response: nobody waits for an answer.
        }
        if let Some(id @ (Value::String(_) | Value::Number(_))) = message.get("id") {
            let error = json!({ "code": -32603, "message": format!("Internal error: {error}") });
            self.outbox
                .send(json!({ "jsonrpc": "2.0", "id": id, "error": error }).to_string());
        }
    }
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is a single insert, remove or clone: a panic cannot leave
    // the data half-changed, so a poisoned lock is still sound to use.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
