//! The state of a tool run (`run.state`): what the router must still know of a run long after
//! the request that started it, kept by the host with the run and handed back with each report.
//! JSON text; opaque to the host.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::Report;
use crate::protocol::Capabilities;

/// What the router keeps with a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct RunState {
    /// What a 2026-07-28 plain call's client can answer (a question may come long after the
    /// request that declared it). A task's client is known from the task.
    #[serde(default, skip_serializing_if = "Answers::is_none")]
    answers: Answers,
    /// For a call that defers its task: the call's params, for the task it becomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deferred: Option<Value>,
    /// The progress token of the request the run serves, and what was last sent for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    progress: Option<Progress>,
}

/// Which server-to-client requests the client can answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Answers {
    #[serde(default)]
    elicitation: bool,
    #[serde(default)]
    sampling: bool,
    #[serde(default)]
    roots: bool,
}

impl Answers {
    fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

/// A request's progress token, and the last notification sent with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Progress {
    /// The client's `progressToken`.
    token: Value,
    /// The `progress` last sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent: Option<f64>,
    /// When it was sent (ms since the epoch).
    #[serde(default)]
    at: u64,
}

impl RunState {
    /// The state of a new run: what its client can answer, the params of a call that defers its
    /// task, and the progress token of its request.
    pub(super) fn new(
        can: Capabilities,
        deferred: Option<&Value>,
        progress_token: Option<Value>,
    ) -> Self {
        Self {
            answers: Answers {
                elicitation: can.elicitation,
                sampling: can.sampling,
                roots: can.roots,
            },
            deferred: deferred.cloned(),
            progress: progress_token.map(|token| Progress {
                token,
                sent: None,
                at: 0,
            }),
        }
    }

    /// The state of a run that reports progress to this token and nothing else.
    pub(super) fn with_progress(progress_token: Option<Value>) -> Self {
        Self::new(Capabilities::default(), None, progress_token)
    }

    /// The state the host passed back; an empty one for a state this router did not write.
    pub(super) fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The text to hand the host.
    pub(super) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What the client can answer.
    pub(super) fn capabilities(&self) -> Capabilities {
        Capabilities {
            elicitation: self.answers.elicitation,
            sampling: self.answers.sampling,
            roots: self.answers.roots,
            tasks: false,
        }
    }

    /// The params of the call whose task waits for its tool; none for another run.
    pub(super) fn deferred(&self) -> Option<&Value> {
        self.deferred.as_ref()
    }

    /// The same state without a progress token: its request has been answered.
    pub(super) fn without_progress(mut self) -> Self {
        self.progress = None;
        self
    }

    /// The params of the `notifications/progress` this report becomes, if one is due: the run's
    /// request carried a progress token; the report has a finite `progress` above the last one
    /// sent (the spec wants it to increase); and either nothing was sent yet, `interval` ms have
    /// passed since, or it reaches its `total` (so a bar that ends full is drawn full). Records
    /// it as sent.
    pub(super) fn progress_due(
        &mut self,
        report: &Report,
        now: u64,
        interval: u64,
    ) -> Option<Value> {
        let state = self.progress.as_mut()?;
        let progress = report.progress.filter(|p| p.is_finite())?;
        if state.sent.is_some_and(|last| progress <= last) {
            return None;
        }
        let total = report.total.filter(|t| t.is_finite());
        let reaches_total = total.is_some_and(|t| progress >= t);
        let due = state.sent.is_none() || now >= state.at.saturating_add(interval);
        if !(due || reaches_total) {
            return None;
        }
        state.sent = Some(progress);
        state.at = now;
        let mut params = json!({ "progressToken": state.token, "progress": number(progress) });
        if let Some(total) = total {
            params["total"] = number(total);
        }
        if let Some(message) = &report.message {
            params["message"] = json!(message);
        }
        Some(params)
    }
}

/// A JSON number: an integer where the value is one (`3`, not `3.0`).
fn number(value: f64) -> Value {
    // Below 2^53 every integer is exact in an f64.
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(progress: f64, total: Option<f64>) -> Report {
        Report {
            progress: Some(progress),
            total,
            message: None,
        }
    }

    #[test]
    fn the_state_round_trips_and_tolerates_foreign_text() {
        let can = Capabilities {
            elicitation: true,
            sampling: false,
            roots: true,
            tasks: true,
        };
        let call = json!({ "name": "gather", "arguments": { "n": 1 } });
        let state = RunState::new(can, Some(&call), Some(json!("p-1")));
        let back = RunState::parse(&state.encode());
        assert_eq!(back, state);
        assert_eq!(
            back.capabilities(),
            Capabilities {
                tasks: false,
                ..can
            }
        );
        assert_eq!(back.deferred(), Some(&call));
        assert_eq!(RunState::parse("nonsense"), RunState::default());
        assert_eq!(RunState::parse(""), RunState::default());
        assert_eq!(RunState::default().encode(), "{}");
    }

    #[test]
    fn progress_increases_and_is_rate_limited_but_reaches_its_total() {
        let mut state = RunState::with_progress(Some(json!(7)));
        let first = state.progress_due(&report(1.0, Some(10.0)), 1_000, 100);
        assert_eq!(
            first,
            Some(json!({ "progressToken": 7, "progress": 1, "total": 10 }))
        );
        // Too soon after the last one.
        assert_eq!(
            state.progress_due(&report(2.0, Some(10.0)), 1_050, 100),
            None
        );
        // Not above the last one sent.
        assert_eq!(
            state.progress_due(&report(1.0, Some(10.0)), 1_200, 100),
            None
        );
        assert!(
            state
                .progress_due(&report(3.0, Some(10.0)), 1_100, 100)
                .is_some()
        );
        // Reaching the total is sent however soon.
        let last = state
            .progress_due(&report(10.0, Some(10.0)), 1_101, 100)
            .unwrap();
        assert_eq!(last["progress"], json!(10));
        let half = RunState::with_progress(Some(json!(1))).progress_due(&report(0.5, None), 0, 0);
        assert_eq!(half.unwrap()["progress"], json!(0.5));
        // Nothing without a number, or a finite one, or a token.
        let mut state = RunState::with_progress(Some(json!("t")));
        let message_only = Report {
            message: Some("hi".into()),
            ..Report::default()
        };
        assert_eq!(state.progress_due(&message_only, 0, 0), None);
        assert_eq!(state.progress_due(&report(f64::NAN, None), 0, 0), None);
        assert_eq!(
            RunState::with_progress(None).progress_due(&report(1.0, None), 0, 0),
            None
        );
        // Its request answered, the run sends no more.
        let mut answered = RunState::with_progress(Some(json!("t"))).without_progress();
        assert_eq!(answered.progress_due(&report(1.0, None), 0, 0), None);
    }
}
