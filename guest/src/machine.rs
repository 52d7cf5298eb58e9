//! The task state machine of MCP 2025-11-25: which status may follow which.
//!
//! Pure: no store, no clock. The router and the exported `machine` interface both use it, so
//! there is one place where the lifecycle rules live.

use crate::model::{Status, Task};

/// Why a move was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionError {
    /// The task is terminal and never moves again.
    Terminal(Status),
    /// The spec does not allow this move (a move to the same status included).
    NotAllowed(Status, Status),
}

impl std::fmt::Display for TransitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Terminal(s) => write!(f, "task is already in terminal status '{}'", s.as_wire()),
            Self::NotAllowed(from, to) => {
                write!(
                    f,
                    "a task cannot move from '{}' to '{}'",
                    from.as_wire(),
                    to.as_wire()
                )
            }
        }
    }
}

/// Whether `s` is terminal: `completed`, `failed` or `cancelled`.
pub fn is_terminal(s: Status) -> bool {
    matches!(s, Status::Completed | Status::Failed | Status::Cancelled)
}

/// Whether a task may move from `from` to `to`.
///
/// Exactly the spec's paths: `working` to `input_required` or any terminal status;
/// `input_required` to `working` or any terminal status; terminal statuses never move.
pub fn can_transition(from: Status, to: Status) -> bool {
    match from {
        Status::Working => to != Status::Working,
        Status::InputRequired => to != Status::InputRequired,
        Status::Completed | Status::Failed | Status::Cancelled => false,
    }
}

/// Move `task` to `to` at `now`, setting its status message and bumping its version by one.
///
/// The result is what `store.update(task, old_version)` expects.
pub fn transition(
    mut task: Task,
    to: Status,
    message: Option<String>,
    now: u64,
) -> Result<Task, TransitionError> {
    if is_terminal(task.status) {
        return Err(TransitionError::Terminal(task.status));
    }
    if !can_transition(task.status, to) {
        return Err(TransitionError::NotAllowed(task.status, to));
    }
    task.status = to;
    task.status_message = message;
    // Questions are only ever outstanding while input is required; leaving that status,
    // whatever the way, retires those still open, so a late answer finds nothing to match. Their
    // keys stay, so none is ever used again.
    if to != Status::InputRequired {
        for q in &mut task.input_requests {
            if q.state.is_outstanding() {
                q.state = crate::model::InputState::Done;
                q.params.clear();
            }
        }
    }
    // A terminal task has nothing left to run, so no executor holds a claim on it.
    if is_terminal(to) {
        task.lease_until = None;
    }
    task.last_updated_at = now;
    task.version += 1;
    Ok(task)
}

/// The task `working` with this status message: a working task keeps its status, one waiting
/// for input works again; a terminal one stays as it is (the error). Shared by retries and
/// workflows, which start a task's next run so.
pub fn working(mut task: Task, message: &str, now: u64) -> Result<Task, TransitionError> {
    if task.status != Status::Working {
        return transition(task, Status::Working, Some(message.to_string()), now);
    }
    task.status_message = Some(message.to_string());
    task.last_updated_at = now;
    task.version += 1;
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 5] = [
        Status::Working,
        Status::InputRequired,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    fn task(status: Status) -> Task {
        Task {
            status,
            version: 3,
            executor: Some("host".into()),
            lease_until: Some(1_000),
            ..Task::plain("t", "o", 10)
        }
    }

    /// The whole 5×5 matrix, written out as the spec states it rather than derived.
    #[test]
    fn transition_matrix_is_the_specs() {
        use Status::*;
        let allowed: &[(Status, Status)] = &[
            (Working, InputRequired),
            (Working, Completed),
            (Working, Failed),
            (Working, Cancelled),
            (InputRequired, Working),
            (InputRequired, Completed),
            (InputRequired, Failed),
            (InputRequired, Cancelled),
        ];
        let mut checked = 0;
        for from in ALL {
            for to in ALL {
                let expect = allowed.contains(&(from, to));
                assert_eq!(can_transition(from, to), expect, "{from:?} -> {to:?}");
                let moved = transition(task(from), to, Some("m".into()), 99);
                assert_eq!(moved.is_ok(), expect, "transition {from:?} -> {to:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 25);
    }

    #[test]
    fn terminal_statuses() {
        assert!(!is_terminal(Status::Working));
        assert!(!is_terminal(Status::InputRequired));
        assert!(is_terminal(Status::Completed));
        assert!(is_terminal(Status::Failed));
        assert!(is_terminal(Status::Cancelled));
    }

    #[test]
    fn transition_sets_fields_and_bumps_version() {
        let t = transition(
            task(Status::Working),
            Status::Failed,
            Some("boom".into()),
            99,
        )
        .unwrap();
        assert_eq!(t.status, Status::Failed);
        assert_eq!(t.status_message.as_deref(), Some("boom"));
        assert_eq!(t.last_updated_at, 99);
        assert_eq!(t.created_at, 10);
        assert_eq!(t.version, 4);
    }

    #[test]
    fn terminal_tasks_report_their_status() {
        let err = transition(task(Status::Completed), Status::Cancelled, None, 1).unwrap_err();
        assert_eq!(err, TransitionError::Terminal(Status::Completed));
        assert_eq!(
            err.to_string(),
            "task is already in terminal status 'completed'"
        );
        let err = transition(task(Status::Working), Status::Working, None, 1).unwrap_err();
        assert_eq!(
            err,
            TransitionError::NotAllowed(Status::Working, Status::Working)
        );
    }

    #[test]
    fn leaving_input_required_retires_the_questions_but_keeps_their_keys() {
        use crate::model::{InputRequest, InputState};
        let question = |key: &str, state| InputRequest {
            key: key.into(),
            method: "elicitation/create".into(),
            params: "{}".into(),
            state,
            response: None,
        };
        let mut waiting = task(Status::InputRequired);
        waiting.input_requests = vec![
            question("a", InputState::Sent),
            question("b", InputState::Open),
        ];
        for to in [
            Status::Working,
            Status::Completed,
            Status::Failed,
            Status::Cancelled,
        ] {
            let moved = transition(waiting.clone(), to, None, 1).unwrap();
            assert!(!moved.awaits_input(), "-> {to:?}");
            let keys: Vec<&str> = moved
                .input_requests
                .iter()
                .map(|q| q.key.as_str())
                .collect();
            assert_eq!(keys, ["a", "b"], "-> {to:?}");
            assert_eq!(
                moved.lease_until.is_some(),
                to == Status::Working,
                "-> {to:?}"
            );
        }
    }
}
