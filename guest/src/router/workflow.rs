//! Workflows: a tool made of steps (other tools of the server) that run one after the other as
//! one task. The rules live here: which step runs, what it gets, what the task says meanwhile,
//! and what a client sees of it.
//!
//! A workflow keeps its place in the task's variables (`{"workflow": {...}}`): the names of its
//! steps, which one runs, and the output of each finished one. Each step is an ordinary run of
//! the task (same run token), so cancel, questions, leases, retries and queues work for a step
//! exactly as for a tool: a step's attempts are its own tool's (`attempt` starts at 1 for each
//! step), and only its last failure fails the workflow.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::update::{Edit, Updated};
use super::{Router, RunRef, RunState, check_required_arguments, is_error_result};
use crate::machine;
use crate::model::{Action, Era, Outcome, Outgoing, Report, Run, Task, Tool};
use crate::protocol;

/// The `_meta` key under which `tasks/get` shows a workflow's steps.
const META_WORKFLOW: &str = "mcp-tasks/workflow";

/// Where a workflow task stands, as its variables keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Workflow {
    /// The step tools, in order.
    steps: Vec<String>,
    /// The step that runs (or ran last), from 1.
    step: usize,
    /// What each finished step passed on: the next step's arguments.
    #[serde(default)]
    outputs: Vec<Value>,
}

impl Workflow {
    /// A workflow of these steps, at its first.
    pub(super) fn start(steps: &[String]) -> Self {
        Self {
            steps: steps.to_vec(),
            step: 1,
            outputs: Vec::new(),
        }
    }

    /// The same workflow from its first step again (an operator's retry).
    pub(super) fn restart(self) -> Self {
        Self::start(&self.steps)
    }

    /// The workflow a task runs, if it is a workflow's.
    pub(super) fn of(task: &Task) -> Option<Self> {
        let variables: Value = serde_json::from_str(task.variables.as_deref()?).ok()?;
        let workflow: Workflow = serde_json::from_value(variables.get("workflow")?.clone()).ok()?;
        (workflow.step >= 1 && workflow.step <= workflow.steps.len()).then_some(workflow)
    }

    /// The task's variables with this workflow in them (other variables stay).
    pub(super) fn into_variables(self, variables: Option<&str>) -> String {
        let mut all = variables
            .and_then(|v| serde_json::from_str::<Map<String, Value>>(v).ok())
            .unwrap_or_default();
        all.insert(
            "workflow".into(),
            serde_json::to_value(self).unwrap_or_default(),
        );
        Value::Object(all).to_string()
    }

    /// The tool of the step that runs.
    fn tool(&self) -> &str {
        &self.steps[self.step - 1]
    }

    /// "Step 2 of 3 (transform)": prefixed to what the task says while a step runs.
    pub(super) fn label(&self) -> String {
        format!(
            "Step {} of {} ({})",
            self.step,
            self.steps.len(),
            self.tool()
        )
    }

    fn is_last(&self) -> bool {
        self.step == self.steps.len()
    }

    /// The arguments of the step that runs: the call's for the first, the output of the one
    /// before for each later one.
    fn arguments(&self, call_arguments: &Value) -> Value {
        match self.step {
            1 => call_arguments.clone(),
            n => self
                .outputs
                .get(n - 2)
                .cloned()
                .unwrap_or_else(|| json!({})),
        }
    }

    /// What `tasks/get` shows in `_meta`: each step with its status (and output once done).
    fn view(&self, task: &Task) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, tool)| {
                let status = match (i + 1).cmp(&self.step) {
                    std::cmp::Ordering::Less => "completed",
                    std::cmp::Ordering::Greater => "pending",
                    // Queued and not yet claimed.
                    std::cmp::Ordering::Equal if task.attempt == 0 => "pending",
                    std::cmp::Ordering::Equal => task.status.as_wire(),
                };
                let mut step = json!({ "tool": tool, "status": status });
                if let Some(output) = self.outputs.get(i) {
                    step["output"] = output.clone();
                }
                step
            })
            .collect();
        json!({ "step": self.step, "of": self.steps.len(), "steps": steps })
    }
}

/// The `_meta` of a task's `tasks/get` result: its workflow's steps, if it runs one.
pub(super) fn task_meta(task: &Task) -> Option<Value> {
    let workflow = Workflow::of(task)?;
    Some(json!({ META_WORKFLOW: workflow.view(task) }))
}

/// What a finished step passes on to the next: its `structuredContent` if that is an object,
/// else its text content as `{"text": ...}`, without trailing newlines (as a shell's `$(...)`
/// drops them: a program's last line ends with one).
fn step_output(result: &str) -> Value {
    let result: Value = serde_json::from_str(result).unwrap_or_default();
    if let Some(structured @ Value::Object(_)) = result.get("structuredContent") {
        return structured.clone();
    }
    let text: Vec<&str> = result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .collect();
    json!({ "text": text.join("\n").trim_end_matches(['\n', '\r']) })
}

/// The arguments of a task's `tools/call`.
pub(super) fn call_arguments(task: &Task) -> Value {
    serde_json::from_str::<Value>(&task.request)
        .ok()
        .and_then(|r| r.pointer("/params/arguments").cloned())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

impl Router<'_> {
    /// What the next run of `task` starts: its tool (a workflow's: the step's) and arguments;
    /// `Err` with the reason when it cannot start here (the tool is not offered, or the output
    /// a step gets lacks an argument the step requires).
    pub(super) fn next_run(&self, task: &Task) -> Result<(Tool, Value), String> {
        let Some(tool) = self.run_tool(task) else {
            return Err(match Workflow::of(task) {
                Some(workflow) => {
                    format!(
                        "{} cannot start: no tool of that name here",
                        workflow.label()
                    )
                }
                None => "its tool is not offered here".to_string(),
            });
        };
        let arguments = run_arguments(task, &tool)?;
        Ok((tool, arguments))
    }

    /// The tool `task`'s runs are of: its step's in a workflow, else the one its call named; if
    /// this server offers it.
    pub(super) fn run_tool(&self, task: &Task) -> Option<Tool> {
        let workflow = Workflow::of(task);
        let name = match &workflow {
            Some(workflow) => workflow.tool().to_string(),
            None => {
                let request: Value = serde_json::from_str(&task.request).ok()?;
                request.pointer("/params/name")?.as_str()?.to_string()
            }
        };
        // A step is an ordinary tool: workflows do not nest.
        self.server
            .find_tool(&name)
            .filter(|t| t.steps.is_empty() || workflow.is_none())
    }

    /// The action that starts a run of `task`: `tool` with `arguments`, with this run state
    /// (see [`progress_state`]).
    pub(super) fn run_action(
        &self,
        task: &Task,
        tool: &str,
        arguments: &Value,
        state: RunState,
    ) -> Action {
        Action::RunTool(Run {
            token: RunRef::Task(task.id.clone()).token(),
            state: state.encode(),
            task_id: Some(task.id.clone()),
            tool: tool.to_string(),
            arguments: arguments.to_string(),
            // Whichever host runs it, and however often: the call that created the task.
            trace_context: serde_json::from_str::<Value>(&task.request)
                .ok()
                .and_then(|request| request.get("params").map(protocol::trace_context))
                .unwrap_or_default(),
        })
    }

    /// A workflow's step finished well and it is not the last: start the next step (or, if
    /// that cannot start, fail the workflow saying why). `None` for anything else: a task that
    /// is no workflow's, a step's failure (retried, or final), or the last step's result, which
    /// settle the task as any other run's would.
    pub(super) fn step_finished(&self, task: &Task, outcome: &Outcome) -> Option<Vec<Action>> {
        let mut workflow = Workflow::of(task)?;
        let Outcome::Result(result) = outcome else {
            return None;
        };
        if is_error_result(result) || workflow.is_last() || machine::is_terminal(task.status) {
            return None;
        }
        let finished = workflow.step;
        workflow.outputs.truncate(finished - 1);
        workflow.outputs.push(step_output(result));
        workflow.step += 1;
        let variables = Some(workflow.clone().into_variables(task.variables.as_deref()));
        let next = Task {
            variables: variables.clone(),
            ..task.clone()
        };
        let (tool, arguments) = match self.next_run(&next) {
            Ok(run) => run,
            Err(why) => {
                let outcome = super::tool_error_result(&why);
                return Some(self.conclude(next, outcome, Some(why)));
            }
        };
        let now = self.ctx.now;
        let lease = self.settings.lease;
        let message = format!("{} started.", workflow.label());
        let was = task.status;
        let started = self.update(task.clone(), |t| {
            // The step that finished must still be the one the task runs.
            if Workflow::of(&t).map(|w| w.step) != Some(finished) {
                return Ok(Edit::Nothing);
            }
            let mut t = machine::working(t, &message, now)?;
            t.variables = variables.clone();
            t.attempt = 1;
            t.executor = Some(self.ctx.executor.clone());
            t.lease_until = Some(now.saturating_add(lease));
            // The questions of the step before are moot; the next asks its own.
            t.input_requests.clear();
            Ok(Edit::Change(t))
        });
        let Ok(Updated::Written(task)) = started else {
            return Some(Vec::new()); // Cancelled (or ended) meanwhile: nothing more runs.
        };
        let mut actions = self.changed(&task, was);
        // A 2025-11-25 client that asked for progress hears of each finished step.
        let mut state = task_progress_state(&task);
        let done = Report {
            progress: Some(finished as f64),
            total: Some(workflow.steps.len() as f64),
            message: Some(message),
        };
        if let Some(params) = state.progress_due(&done, now, 0) {
            actions.push(Action::Send(Outgoing::notification(
                protocol::notification("notifications/progress", &params),
            )));
        }
        actions.push(self.run_action(&task, &tool.name, &arguments, state));
        Some(actions)
    }
}

/// The variables of a workflow's task whose last step finished with `outcome`: its output
/// kept with the others. Unchanged for any other task or outcome.
pub(super) fn last_step_done(task: &Task, outcome: &Outcome) -> Option<String> {
    let (Some(mut workflow), Outcome::Result(result)) = (Workflow::of(task), outcome) else {
        return task.variables.clone();
    };
    if is_error_result(result) || !workflow.is_last() {
        return task.variables.clone();
    }
    workflow.outputs.truncate(workflow.step - 1);
    workflow.outputs.push(step_output(result));
    Some(workflow.into_variables(task.variables.as_deref()))
}

/// The arguments of `task`'s next run of `tool` (its run tool, see `Router::run_tool`): the
/// call's, or for a workflow's later step the output before it; `Err` when a step's input lacks
/// an argument the step requires.
pub(super) fn run_arguments(task: &Task, tool: &Tool) -> Result<Value, String> {
    let arguments = call_arguments(task);
    let Some(workflow) = Workflow::of(task) else {
        return Ok(arguments);
    };
    let arguments = workflow.arguments(&arguments);
    check_required_arguments(tool, &arguments)
        .map_err(|e| format!("{} cannot start: {}", workflow.label(), e.message))?;
    Ok(arguments)
}

/// The state of a new run of a task in `era` whose call had these params: a 2025-11-25 task
/// reports progress to its request's token for its whole life; the extension has no progress
/// for tasks.
pub(super) fn progress_state(era: Era, params: Option<&Value>) -> RunState {
    let token = match era {
        Era::Legacy => params.and_then(protocol::progress_token),
        Era::Modern => None,
    };
    RunState::with_progress(token)
}

/// [`progress_state`] for a run of a stored task, from its request.
pub(super) fn task_progress_state(task: &Task) -> RunState {
    let request: Option<Value> = match task.era {
        Era::Legacy => serde_json::from_str(&task.request).ok(),
        Era::Modern => None,
    };
    progress_state(task.era, request.as_ref().and_then(|r| r.get("params")))
}

/// A step's report as the workflow's: its message prefixed with the step, and its progress
/// scaled so that each step is one unit of a total of the step count (dropped when the step
/// gives no total to scale by).
pub(super) fn scale_report(task: &Task, report: &Report) -> Report {
    let Some(workflow) = Workflow::of(task) else {
        return report.clone();
    };
    let done = (workflow.step - 1) as f64;
    let progress = match (report.progress, report.total) {
        (Some(p), Some(t)) if t > 0.0 => Some(done + (p / t).clamp(0.0, 1.0)),
        _ => None,
    };
    Report {
        progress,
        total: progress.map(|_| workflow.steps.len() as f64),
        message: report
            .message
            .as_ref()
            .map(|m| format!("{}: {m}", workflow.label())),
    }
}

/// The status message of a workflow's task for what its step says: prefixed with the step.
pub(super) fn step_message(task: &Task, message: &str) -> String {
    match Workflow::of(task) {
        Some(workflow) => format!("{}: {message}", workflow.label()),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_passes_on_its_structured_content_or_its_text() {
        assert_eq!(
            step_output(r#"{"content":[],"structuredContent":{"rows":3}}"#),
            json!({ "rows": 3 })
        );
        assert_eq!(
            step_output(
                r#"{"content":[{"type":"text","text":"a"},{"type":"image","data":""},{"type":"text","text":"b\n"}]}"#
            ),
            json!({ "text": "a\nb" })
        );
        // A structuredContent that is not an object cannot be arguments.
        assert_eq!(
            step_output(r#"{"content":[{"type":"text","text":"[1]"}],"structuredContent":[1]}"#),
            json!({ "text": "[1]" })
        );
    }

    #[test]
    fn variables_keep_what_else_they_hold() {
        let workflow = Workflow::start(&["a".into(), "b".into()]);
        let text = workflow.clone().into_variables(Some(r#"{"other":1}"#));
        let task = Task {
            variables: Some(text),
            ..Task::plain("t", "o", 0)
        };
        assert_eq!(Workflow::of(&task), Some(workflow));
        let all: Value = serde_json::from_str(task.variables.as_deref().unwrap()).unwrap();
        assert_eq!(all["other"], 1);
    }
}
