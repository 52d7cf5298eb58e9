//! Requests and actions: one incoming message through the component, re-delivered while the
//! component says to wait, and the actions it returns carried out in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::runs::RunBinding;
use super::watch::Subscription;
use super::{Hub, Peer, SERVER_STOPPING};
use crate::bindings::exports::mcp::tasks::router::{Action, Wait};
use crate::component::{Call, GuestError};
use crate::types::Outgoing;
use crate::util::lock;

impl Hub {
    /// Handle one incoming line from `peer`, re-delivering it while the component says to wait.
    /// With `places` (stdio), the request holds a place among those being answered until it
    /// waits, then one among those waiting, and is refused if none is free.
    pub(crate) async fn handle(
        self: Arc<Self>,
        peer: Arc<Peer>,
        line: String,
        places: Option<Places>,
    ) {
        let span = crate::traces::request(&line, peer.transport);
        self.handle_line(peer, line, places).instrument(span).await
    }

    /// [`Hub::handle`], in the request's span.
    async fn handle_line(self: Arc<Self>, peer: Arc<Peer>, line: String, places: Option<Places>) {
        let since = Instant::now();
        // Boxed: the call's future is large, and this one is moved whole when spawned.
        let call = Box::pin(self.guest.call(Call::Handle(line.clone()), self.ctx(&peer)));
        match call.await {
            Ok(actions) => self.carry_on(peer, line, places, actions, since).await,
            Err(e) => fail_request(&peer, &line, e),
        }
    }

    /// Handle lines of one client that arrived together with one call into the component, in
    /// order, while they only read (see the WIT's `handle-batch`); each line the batch did not
    /// handle, and each that must wait, goes on on its own, in `handlers`. `places` holds each
    /// line's place.
    pub(crate) async fn handle_batch(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        lines: Vec<String>,
        places: Vec<Option<Places>>,
        handlers: &mut JoinSet<()>,
    ) {
        tracing::trace!(messages = lines.len(), "a batch");
        if crate::traces::enabled() {
            // Each request its own span: the lines go alone, as when a batch traps.
            for (line, places) in lines.into_iter().zip(places) {
                handlers.spawn(self.clone().handle(peer.clone(), line, places));
            }
            return;
        }
        let since = Instant::now();
        let mut lines = lines;
        let mut places = places;
        // The lines before `start` are handled, or on their way.
        let mut start = 0;
        while lines.len() - start > 1 {
            let call = Box::pin(self.guest.call_batch(&lines[start..], self.ctx(peer)));
            let handled = match call.await {
                Ok(handled) => handled,
                Err(e) => {
                    // A batch changes nothing but through its actions, which are lost with the
                    // trap: each line is handled again on its own, and only one that traps
                    // alone fails.
                    let count = lines.len() - start;
                    tracing::warn!("a batch of {count} messages failed; each goes alone: {e}");
                    break;
                }
            };
            for actions in handled.into_iter().take(lines.len() - start) {
                let (line, places) = (std::mem::take(&mut lines[start]), places[start].take());
                start += 1;
                if self.execute_since(actions, peer, Some(since)).is_some() {
                    handlers.spawn(
                        self.clone()
                            .wait_and_retry(peer.clone(), line, places, since),
                    );
                }
            }
            // The first line the batch did not handle would write: it goes alone, and the lines
            // after it make the next batch.
            if start < lines.len() {
                let (line, places) = (std::mem::take(&mut lines[start]), places[start].take());
                start += 1;
                handlers.spawn(self.clone().handle(peer.clone(), line, places));
            }
        }
        let rest = lines.drain(start..).zip(places.drain(start..));
        for (line, places) in rest {
            handlers.spawn(self.clone().handle(peer.clone(), line, places));
        }
    }

    /// Carry out the actions the component gave for `line`; while it says to wait, wait and hand
    /// the line to it again.
    async fn carry_on(
        self: Arc<Self>,
        peer: Arc<Peer>,
        line: String,
        places: Option<Places>,
        actions: Vec<Action>,
        since: Instant,
    ) {
        if self.execute_since(actions, &peer, Some(since)).is_some() {
            self.wait_and_retry(peer, line, places, since).await;
        }
    }

    /// The component said `line` must wait: give back its place among those answered for one
    /// among those waiting, then hand it to the component again, at once (a change between the
    /// component's answer and the subscription must not be missed) and then whenever its task
    /// changes or its wait's `recheck-after` passes, until it is answered.
    async fn wait_and_retry(
        self: Arc<Self>,
        peer: Arc<Peer>,
        line: String,
        places: Option<Places>,
        since: Instant,
    ) {
        // Held until the request is answered.
        let mut _waiting_place = None;
        if let Some(Places {
            answering,
            waiting,
            limit,
        }) = places
        {
            // A waiting request must not keep the reader from the lines that end its wait (an
            // answer, a cancel), so it gives its place back.
            drop(answering);
            match waiting.try_acquire_owned() {
                Ok(place) => _waiting_place = Some(place),
                Err(_) => {
                    let message = format!(
                        "Too many requests: {limit} requests of this connection are already \
                         waiting; retry when one has been answered"
                    );
                    return answer_error(&peer, &line, -32000, &message);
                }
            }
        }
        let mut changed = self.changed.subscribe();
        loop {
            let call = Box::pin(self.guest.call(Call::Handle(line.clone()), self.ctx(&peer)));
            let actions = match call.await {
                Ok(actions) => actions,
                Err(e) => return fail_request(&peer, &line, e),
            };
            let Some(wait) = self.execute_since(actions, &peer, Some(since)) else {
                return;
            };
            let recheck = tokio::time::sleep(Duration::from_millis(wait.recheck_after));
            tokio::pin!(recheck);
            loop {
                tokio::select! {
                    // A change already seen goes before the shutdown: a task that the drain
                    // ended (failed, on a memory store) is answered with its end.
                    biased;
                    event = changed.recv() => match event {
                        Ok(id) if id != wait.task_id => continue,
                        // Our task, a backlog overflow, or a closed channel: look again.
                        _ => break,
                    },
                    _ = &mut recheck => break,
                    // Stopping: a waiting request is answered, not dropped — by the component,
                    // with where its task stands, or by the host if the component cannot.
                    _ = self.shutdown.cancelled() => {
                        let call = Call::Stopped(line.clone());
                        if let Ok(actions) = self.guest.call(call, self.ctx(&peer)).await {
                            self.execute_since(actions, &peer, Some(since));
                            return;
                        }
                        let message = "The server is stopping before this request could be \
                                       answered; ask again of a server that shares its store";
                        return answer_error(&peer, &line, SERVER_STOPPING.into(), message);
                    }
                }
            }
        }
    }

    /// Carry out the component's actions in order; the wait it asked for, if any.
    pub(super) fn execute(
        self: &Arc<Self>,
        actions: Vec<Action>,
        peer: &Arc<Peer>,
    ) -> Option<Wait> {
        self.execute_since(actions, peer, None)
    }

    /// [`Hub::execute`] for a request that arrived at `since`: its answer is timed from then.
    pub(super) fn execute_since(
        self: &Arc<Self>,
        actions: Vec<Action>,
        peer: &Arc<Peer>,
        since: Option<Instant>,
    ) -> Option<Wait> {
        let mut wait = None;
        for action in actions {
            match action {
                Action::Send(message) => {
                    crate::metrics::response(&message, since);
                    crate::traces::responded(&message);
                    peer.outbox.send(message)
                }
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
                    RunBinding {
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
}

/// The component trapped on this line: answer the request with -32603 if it was one; the
/// server goes on.
fn fail_request(peer: &Peer, line: &str, error: GuestError) {
    tracing::error!("{error}");
    answer_error(peer, line, -32603, &format!("Internal error: {error}"));
}

/// Answer the request `line` with a JSON-RPC error, if it is a request (a notification or a
/// response has nobody waiting for an answer).
pub(crate) fn answer_error(peer: &Peer, line: &str, code: i64, message: &str) {
    let Ok(request) = serde_json::from_str::<Value>(line) else {
        return;
    };
    if request.get("method").is_none() {
        return;
    }
    if let Some(id @ (Value::String(_) | Value::Number(_))) = request.get("id") {
        let error = json!({ "code": code, "message": message });
        let message = json!({ "jsonrpc": "2.0", "id": id, "error": error }).to_string();
        peer.outbox.send(Outgoing::host_response(Some(id), message));
    }
}

/// The places a stdio request holds (see [`Hub::handle`]): one among those being answered, and
/// where to take one among those waiting.
pub(crate) struct Places {
    pub(crate) answering: OwnedSemaphorePermit,
    pub(crate) waiting: Arc<Semaphore>,
    /// How many places `waiting` has, for the refusal's message.
    pub(crate) limit: usize,
}
