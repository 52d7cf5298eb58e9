//! What each caller may hold at once: requests in flight, streams, running tools.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::incoming::Incoming;
use super::{Http, Refused, too_many};
use crate::util::lock;

/// Counts of something each owner holds (requests, streams), each taken by a [`Slot`].
#[derive(Default)]
pub(super) struct PerOwner(Mutex<HashMap<String, usize>>);

/// One counted thing; dropping it gives it back.
pub(super) struct Slot {
    counts: Arc<PerOwner>,
    owner: String,
}

impl PerOwner {
    pub(super) fn take(self: &Arc<Self>, owner: &str, max: usize) -> Option<Slot> {
        let mut counts = lock(&self.0);
        let count = counts.entry(owner.to_string()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            counts: self.clone(),
            owner: owner.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts.0);
        if let Some(count) = counts.get_mut(&self.owner) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.owner);
            }
        }
    }
}

impl Http {
    /// Whether a request is within the caller's limits; the slots it holds while it is
    /// answered (its own, and a stream's for a subscription).
    pub(super) fn admit(
        &self,
        owner: &str,
        incoming: &Incoming,
    ) -> Result<(Slot, Option<Slot>), Refused> {
        let limits = &self.options.limits;
        let id = incoming.id.as_ref().unwrap_or(&Value::Null);
        let request = self
            .requests
            .take(owner, limits.requests_per_owner)
            .ok_or_else(|| {
                too_many(
                    id,
                    &format!(
                        "this caller already has {} requests in flight; retry later",
                        limits.requests_per_owner
                    ),
                )
            })?;
        if incoming.is("tools/call") && self.hub.runs_of(owner) >= limits.tasks_per_owner {
            return Err(Box::new(too_many(
                id,
                &format!(
                    "this caller already has {} tools running; retry when one has finished",
                    limits.tasks_per_owner
                ),
            )));
        }
        let stream = match incoming.is("subscriptions/listen") {
            true => Some(
                self.streams
                    .take(owner, limits.streams_per_owner)
                    .ok_or_else(|| {
                        too_many(
                            id,
                            &format!(
                                "this caller already has {} streams open",
                                limits.streams_per_owner
                            ),
                        )
                    })?,
            ),
            false => None,
        };
        Ok((request, stream))
    }
}
