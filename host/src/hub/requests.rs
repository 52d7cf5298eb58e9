//! Requests and actions: one incoming message through the component, re-delivered while the
//! component says to wait, and the actions it returns carried out in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

use super::runs::RunBinding;
use super::watch::Subscription;
use super::{Hub, Peer};
use crate::component::bindings::exports::mcp::tasks::router::{Action, Wait};
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
    pub(super) fn execute(
        self: &Arc<Self>,
        actions: Vec<Action>,
        peer: &Arc<Peer>,
    ) -> Option<Wait> {
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
