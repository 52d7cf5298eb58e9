//! Runs: each tool the component starts, its reports and questions passed back in the tool's
//! order, its outcome given until the store takes it, and its token as the component renames it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{Hub, Peer};
use crate::bindings::exports::mcp::tasks::router::{Action, Run, ToolQuestion};
use crate::component::Call;
use crate::tools::reports::{self, Reported};
use crate::tools::{FromTool, ToolContext, ToolOutcome};
use crate::types::{Outcome, RpcError};
use crate::util::lock;

/// A running tool: how to stop it, and what it goes by now (a modern plain call that asked for
/// input takes the token of the request that carried the answers).
pub(super) struct RunHandle {
    pub(super) cancel: CancellationToken,
    /// Whose call it runs, to count each caller's tools in flight.
    pub(super) owner: String,
    pub(super) name: Arc<Mutex<RunBinding>>,
}

/// A run's token, the component's opaque state for it, and the client its messages go to (over
/// HTTP, the request a modern plain call's retry came in on).
#[derive(Clone)]
pub(super) struct RunBinding {
    pub(super) token: String,
    pub(super) state: String,
    pub(super) peer: Arc<Peer>,
}

impl Hub {
    /// Start a tool run; its progress and outcome go back to the component.
    pub(super) fn start(self: &Arc<Self>, run: Run, peer: Arc<Peer>) {
        let cancel = self.shutdown.child_token();
        let name = Arc::new(Mutex::new(RunBinding {
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
        // A plain call's answer is its tool's outcome: timed from the run's start.
        let since = Instant::now();
        let in_flight = crate::metrics::InFlight::start();
        // One report or question of the run in the component at a time, in the tool's order:
        // each may replace the run's state, which the next must see.
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        let span = crate::traces::run(&run.tool, run.task_id.as_deref(), &run.trace_context);
        let in_span = span.clone();
        self.tool_tasks.spawn(
            async move {
                let (progress_tx, mut progress_rx) = reports::channel(reports::WAITING);
                let (questions_tx, questions_rx) = mpsc::unbounded_channel();
                // The run's parts share this task rather than each spawning its own: the tool; its
                // reports, forwarded until its context is gone and the last one is in; and its
                // questions, moot once it has returned.
                let forward = async {
                    while let Some(reported) = progress_rx.recv().await {
                        let _turn = turn.lock().await;
                        let RunBinding { token, state, peer } = lock(&name).clone();
                        if !lock(&conn.runs).contains_key(&token) {
                            continue; // Stopped: its request or task has ended.
                        }
                        let call = match reported {
                            Reported::Progress(report) => Call::Progress {
                                token,
                                run_state: state,
                                report,
                            },
                            Reported::Log(entry) => Call::Log { token, entry },
                        };
                        if let Ok(actions) = conn.guest.call(call, conn.ctx(&peer)).await {
                            conn.execute(actions, &peer);
                        }
                    }
                };
                let asking =
                    conn.clone()
                        .forward_questions(name.clone(), turn.clone(), questions_rx);
                let tool = async {
                    match conn.catalog.get(&run.tool) {
                        Some(tool) => {
                            let arguments =
                                serde_json::from_str(&run.arguments).unwrap_or(Value::Null);
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
                crate::traces::run_ended(&in_span, &outcome.outcome);
                let RunBinding { token, peer, .. } = lock(&name).clone();
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
                            conn.execute_since(actions, &peer, Some(since));
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
                drop(in_flight);
            }
            .instrument(span),
        );
    }

    /// Pass what a run's tool sends to the component, in order: its questions, a batch at a time
    /// (the answers come back as `reply-tool` actions), and its wish to go on as a task.
    async fn forward_questions(
        self: Arc<Self>,
        name: Arc<Mutex<RunBinding>>,
        turn: Arc<tokio::sync::Mutex<()>>,
        mut from_tool: mpsc::UnboundedReceiver<FromTool>,
    ) {
        while let Some(sent) = from_tool.recv().await {
            let _turn = turn.lock().await;
            let RunBinding { token, state, peer } = lock(&name).clone();
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
    pub(super) fn rename_run(self: &Arc<Self>, peer: &Arc<Peer>, from: &str, renamed: RunBinding) {
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

    /// Stop claiming tasks waiting for a host: this host is draining before it stops. Its runs'
    /// leases are still renewed.
    pub(crate) fn stop_claiming(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Completes once the server is hurried: a drain under way ends at once.
    pub(crate) async fn hurried(&self) {
        self.hurry.cancelled().await;
    }

    /// The drain: take no more tasks, let the running tools finish until `deadline` (or until
    /// [`Server::hurry`](crate::Server::hurry): a second stop signal), then stop those still
    /// running. The component answers each stopped plain call with an error that says the
    /// server is stopping, and hands each stopped task back to wait for a host without spending
    /// an attempt — or, on a store that ends with this process, fails it saying why.
    pub(crate) async fn drain_runs(self: &Arc<Self>, deadline: tokio::time::Instant) {
        self.stop_claiming();
        let running = lock(&self.runs).len();
        if running > 0 {
            tracing::info!(running, "draining: letting the running tools finish");
        }
        while !lock(&self.runs).is_empty() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
                () = tokio::time::sleep_until(deadline) => break,
                () = self.hurried() => break,
            }
        }
        self.release_runs().await;
    }

    /// Stop every running tool before it finishes, each run released through the component
    /// (see the WIT's `tool-released`).
    async fn release_runs(self: &Arc<Self>) {
        let stopped: Vec<RunHandle> = lock(&self.runs).drain().map(|(_, run)| run).collect();
        if stopped.is_empty() {
            return;
        }
        let hand_back = self.guest.store_outlives_process();
        tracing::warn!(
            stopped = stopped.len(),
            tasks = if hand_back { "handed back" } else { "failed" },
            "the drain is over: stopping the tools still running"
        );
        for run in stopped {
            // Out of the runs first: the run's own end then finds it gone and reports nothing.
            run.cancel.cancel();
            let RunBinding { token, peer, .. } = lock(&run.name).clone();
            let call = Call::Released { token, hand_back };
            match self.guest.call(call, self.ctx(&peer)).await {
                Ok(actions) => {
                    self.execute(actions, &peer);
                }
                Err(e) => tracing::error!("releasing a stopped run failed: {e}"),
            }
        }
    }

    pub(super) fn stop_all_runs(&self) {
        for (_, run) in lock(&self.runs).drain() {
            run.cancel.cancel();
        }
    }
}
