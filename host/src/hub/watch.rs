//! Subscriptions and the sweeper: what follows tasks as they change, here or on another host
//! sharing the store, and the periodic sweep (expiry, leases, claims).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Hub, Peer};
use crate::SWEEP_EVERY_MS;
use crate::bindings::exports::mcp::tasks::router::Action;
use crate::component::Call;
use crate::util::lock;

/// Every how many sweeps the tasks of each subscription are looked at again, whether or not a
/// change was seen here: another host sharing the store may have changed them.
const RECHECK_SUBSCRIPTIONS_EVERY: u64 = 4;

/// The tasks one subscription follows, with the last notification sent for each, so that the
/// same state is not sent twice.
pub(super) struct Subscription {
    pub(super) peer: Arc<Peer>,
    pub(super) task_ids: Vec<String>,
    pub(super) last_sent: HashMap<String, String>,
}

impl Hub {
    /// Send a subscription the state of one of its tasks, unless it is what was sent last.
    pub(super) async fn notify(self: Arc<Self>, key: (u64, String), task_id: String) {
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
            if sub.last_sent.get(&task_id) == Some(&message.message) {
                continue;
            }
            sub.last_sent
                .insert(task_id.clone(), message.message.clone());
            sub.peer.outbox.send(message);
        }
    }

    /// End every subscription (the server is stopping): each `subscriptions/listen` request gets
    /// the result that completes it, the last message on its stream.
    pub(crate) async fn end_subscriptions(&self) {
        let ended: Vec<((u64, String), Subscription)> = lock(&self.subscriptions).drain().collect();
        for ((_, subscription), sub) in ended {
            let call = Call::ListenEnded { subscription };
            match self.guest.call(call, self.ctx(&sub.peer)).await {
                Ok(actions) => {
                    for action in actions {
                        if let Action::Send(message) = action {
                            sub.peer.outbox.send(message);
                        }
                    }
                }
                Err(e) => tracing::error!("ending a subscription failed: {e}"),
            }
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
            let claim = !self.draining.load(Ordering::Relaxed);
            let limit = if claim {
                self.catalog.settings().claim_limit as usize
            } else {
                0
            };
            let room = limit.saturating_sub(running.len());
            match self
                .guest
                .call(Call::Sweep { running, claim }, self.ctx(&peer))
                .await
            {
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
