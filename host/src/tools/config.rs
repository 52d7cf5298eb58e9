//! The tools file: the server's settings, its bounds, its command tools and its workflows, in
//! TOML. Every key is in `docs/tools-file.toml`, shown on [`ToolsFile`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{CommandTool, OutputLimits, Tool, default_settings};
use crate::SWEEP_EVERY_MS;
use crate::limits::Limits;
use crate::types::{Settings, TaskSupport, ToolInfo};

/// Why a tools file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read tools file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("invalid tools file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its position.
        message: String,
    },
    /// A value is out of place (duplicate names, empty command, ...).
    #[error("invalid tools file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Where a tool's tasks run (`run` in the tools file).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RunMode {
    /// Where the call arrives (or, with `serve --run queue`, on a worker).
    #[default]
    Local,
    /// Always on a host that claims it: a worker, or a server in local mode.
    Queue,
}

/// The wait before a tool's second attempt, unless the tools file says otherwise.
const DEFAULT_RETRY_BACKOFF_MS: u64 = 1000;

/// A parsed tools file: the server's settings and bounds (`[server]`), its command tools and
/// its workflows (`[[tools]]`). Every key, with its default or an example and what it means (this
/// is `docs/tools-file.toml`, which a test parses):
///
#[doc = concat!("```toml\n", include_str!("../../tools-file.toml"), "```")]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsFile {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    tools: Vec<ToolEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    name: Option<String>,
    version: Option<String>,
    instructions: Option<String>,
    default_ttl_ms: Option<u64>,
    max_ttl_ms: Option<u64>,
    poll_interval_ms: Option<u64>,
    page_size: Option<u32>,
    lease_ms: Option<u64>,
    progress_interval_ms: Option<u64>,
    max_body: Option<usize>,
    max_requests_per_owner: Option<usize>,
    max_streams_per_owner: Option<usize>,
    max_tasks_per_owner: Option<usize>,
    max_queued_bytes: Option<usize>,
    drain_timeout_ms: Option<u64>,
    max_tool_output_bytes: Option<u64>,
    max_tool_line_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolEntry {
    name: String,
    title: Option<String>,
    description: Option<String>,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    steps: Vec<String>,
    task_support: Option<TaskSupportName>,
    timeout_secs: Option<f64>,
    grace_secs: Option<f64>,
    cwd: Option<PathBuf>,
    #[serde(default)]
    questions: bool,
    #[serde(default)]
    defer_task: bool,
    immediate_response: Option<String>,
    max_attempts: Option<u32>,
    retry_backoff_ms: Option<u64>,
    dedup_window_ms: Option<u64>,
    #[serde(default)]
    run: RunMode,
    input_schema: Option<Value>,
    output_schema: Option<Value>,
    close_stream_after_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TaskSupportName {
    Forbidden,
    Optional,
    Required,
}

impl ToolsFile {
    /// Read and check a tools file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parse and check the text of a tools file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file: ToolsFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let mut names = HashSet::new();
        for tool in &file.tools {
            if tool.name.is_empty() {
                return Err(invalid("a tool has an empty name".into()));
            }
            if !names.insert(tool.name.as_str()) {
                return Err(invalid(format!("tool '{}' is defined twice", tool.name)));
            }
            if !tool.steps.is_empty() {
                check_workflow(tool, &file.tools).map_err(invalid)?;
                continue;
            }
            if tool.command.is_empty() || tool.command[0].is_empty() {
                return Err(invalid(format!(
                    "tool '{}': command must name a program",
                    tool.name
                )));
            }
            // It says when to go on as a task on the questions descriptor.
            if tool.defer_task && !tool.questions {
                return Err(invalid(format!(
                    "tool '{}': defer_task needs questions = true (the tool says \
                     {{\"continueAsTask\": true}} on descriptor 3)",
                    tool.name
                )));
            }
            if tool.max_attempts == Some(0) {
                return Err(invalid(format!(
                    "tool '{}': max_attempts must be at least 1",
                    tool.name
                )));
            }
            if tool.defer_task && matches!(tool.task_support, Some(TaskSupportName::Forbidden)) {
                return Err(invalid(format!(
                    "tool '{}': defer_task needs task_support \"optional\" or \"required\"",
                    tool.name
                )));
            }
            for (what, secs) in [
                ("timeout_secs", tool.timeout_secs),
                ("grace_secs", tool.grace_secs),
            ] {
                // A time a `Duration` holds: finite, and not past its ~584 billion years.
                if secs.is_some_and(|s| !(s > 0.0 && Duration::try_from_secs_f64(s).is_ok())) {
                    return Err(invalid(format!(
                        "tool '{}': {what} must be a positive number of seconds",
                        tool.name
                    )));
                }
            }
            for (what, schema) in [
                ("input_schema", &tool.input_schema),
                ("output_schema", &tool.output_schema),
            ] {
                if schema
                    .as_ref()
                    .is_some_and(|s| s.get("type").and_then(Value::as_str) != Some("object"))
                {
                    return Err(invalid(format!(
                        "tool '{}': {what} must be a JSON Schema with type = \"object\"",
                        tool.name
                    )));
                }
            }
        }
        let s = &file.server;
        if let (Some(default), Some(max)) = (s.default_ttl_ms, s.max_ttl_ms)
            && default > max
        {
            return Err(invalid(format!(
                "default_ttl_ms ({default}) is above max_ttl_ms ({max})"
            )));
        }
        if s.page_size == Some(0) || s.poll_interval_ms == Some(0) {
            return Err(invalid(
                "page_size and poll_interval_ms must be at least 1".into(),
            ));
        }
        let size = |n: Option<usize>| n.map(|n| n as u64);
        let bounds = [
            ("max_body", size(s.max_body)),
            ("max_requests_per_owner", size(s.max_requests_per_owner)),
            ("max_streams_per_owner", size(s.max_streams_per_owner)),
            ("max_tasks_per_owner", size(s.max_tasks_per_owner)),
            ("max_queued_bytes", size(s.max_queued_bytes)),
            ("max_tool_output_bytes", s.max_tool_output_bytes),
            ("max_tool_line_bytes", size(s.max_tool_line_bytes)),
        ];
        if let Some((key, _)) = bounds.iter().find(|(_, value)| *value == Some(0)) {
            return Err(invalid(format!("{key} must be at least 1")));
        }
        // The lease is renewed every sweep (half a second) once half of it is used up.
        if s.lease_ms.is_some_and(|ms| ms < 2 * SWEEP_EVERY_MS) {
            return Err(invalid(format!(
                "lease_ms must be at least {} (two sweeps)",
                2 * SWEEP_EVERY_MS
            )));
        }
        Ok(file)
    }

    /// The server settings this file gives (defaults where it is silent).
    pub fn settings(&self) -> Settings {
        let d = default_settings();
        let s = &self.server;
        Settings {
            name: s.name.clone().unwrap_or(d.name),
            version: s.version.clone().unwrap_or(d.version),
            instructions: s.instructions.clone().or(d.instructions),
            default_ttl: s.default_ttl_ms.or(d.default_ttl),
            max_ttl: s.max_ttl_ms.or(d.max_ttl),
            poll_interval: s.poll_interval_ms.unwrap_or(d.poll_interval),
            page_size: s.page_size.unwrap_or(d.page_size),
            lease: s.lease_ms.unwrap_or(d.lease),
            state_key: d.state_key,
            progress_interval: s.progress_interval_ms.unwrap_or(d.progress_interval),
            queue: d.queue,
            claim_limit: d.claim_limit,
        }
    }

    /// The bounds this file sets (defaults where it is silent; flags may override them).
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        let s = &self.server;
        Limits {
            max_body_bytes: s.max_body.unwrap_or(d.max_body_bytes),
            requests_per_owner: s.max_requests_per_owner.unwrap_or(d.requests_per_owner),
            streams_per_owner: s.max_streams_per_owner.unwrap_or(d.streams_per_owner),
            tasks_per_owner: s.max_tasks_per_owner.unwrap_or(d.tasks_per_owner),
            max_queued_bytes: s.max_queued_bytes.unwrap_or(d.max_queued_bytes),
            drain: s
                .drain_timeout_ms
                .map_or(d.drain, std::time::Duration::from_millis),
        }
    }

    /// The command tools and workflows this file defines, in its order.
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.tools
            .iter()
            .map(|t| {
                // A workflow takes its first step's arguments, unless it says otherwise.
                let first_step = t
                    .steps
                    .first()
                    .and_then(|name| self.tools.iter().find(|s| &s.name == name));
                let input_schema = t
                    .input_schema
                    .clone()
                    .or_else(|| first_step.and_then(|s| s.input_schema.clone()))
                    .unwrap_or_else(|| serde_json::json!({ "type": "object" }));
                let description = t.description.clone().or_else(|| {
                    (!t.steps.is_empty()).then(|| {
                        format!(
                            "Runs {}, one after the other, as one task.",
                            t.steps.join(", then ")
                        )
                    })
                });
                let info = ToolInfo {
                    name: t.name.clone(),
                    title: t.title.clone(),
                    description,
                    input_schema: input_schema.to_string(),
                    output_schema: t.output_schema.as_ref().map(Value::to_string),
                    task_support: match t.task_support {
                        Some(TaskSupportName::Forbidden) => TaskSupport::Forbidden,
                        Some(TaskSupportName::Optional) => TaskSupport::Optional,
                        Some(TaskSupportName::Required) => TaskSupport::Required,
                        // A workflow runs only as a task.
                        None if !t.steps.is_empty() => TaskSupport::Required,
                        None => TaskSupport::Optional,
                    },
                    defer_task: t.defer_task,
                    immediate_response: t.immediate_response.clone(),
                    max_attempts: t.max_attempts.unwrap_or(1),
                    retry_backoff: t.retry_backoff_ms.unwrap_or(DEFAULT_RETRY_BACKOFF_MS),
                    dedup_window: t.dedup_window_ms,
                    queue: t.run == RunMode::Queue,
                    steps: t.steps.clone(),
                };
                if !t.steps.is_empty() {
                    return Arc::new(super::Workflow::new(info)) as Arc<dyn Tool>;
                }
                let mut tool = CommandTool::new(info, t.command.clone());
                if let Some(secs) = t.timeout_secs {
                    tool = tool.with_timeout(Duration::from_secs_f64(secs));
                }
                if let Some(secs) = t.grace_secs {
                    tool = tool.with_grace(Duration::from_secs_f64(secs));
                }
                if let Some(cwd) = &t.cwd {
                    tool = tool.with_cwd(cwd);
                }
                if t.questions {
                    tool = tool.with_questions();
                }
                if let Some(ms) = t.close_stream_after_ms {
                    tool = tool.with_stream_close_after(Duration::from_millis(ms));
                }
                let output = OutputLimits::default();
                tool = tool.with_output_limits(OutputLimits {
                    stdout_bytes: self
                        .server
                        .max_tool_output_bytes
                        .unwrap_or(output.stdout_bytes),
                    line_bytes: self.server.max_tool_line_bytes.unwrap_or(output.line_bytes),
                });
                Arc::new(tool) as Arc<dyn Tool>
            })
            .collect()
    }
}

/// What a workflow entry must be: steps that are command tools of the file, and none of the
/// keys that only a command has (retries, timeouts and questions are each step's own).
fn check_workflow(tool: &ToolEntry, all: &[ToolEntry]) -> Result<(), String> {
    let name = &tool.name;
    if !tool.command.is_empty() {
        return Err(format!(
            "tool '{name}': a tool has either a command or steps (a workflow), not both"
        ));
    }
    for step in &tool.steps {
        match all.iter().find(|t| &t.name == step) {
            None => {
                return Err(format!(
                    "tool '{name}': step '{step}' is not a tool of this file"
                ));
            }
            Some(t) if !t.steps.is_empty() => {
                return Err(format!(
                    "tool '{name}': step '{step}' is a workflow; a step must be a command tool"
                ));
            }
            Some(_) => {}
        }
    }
    let per_step = [
        ("timeout_secs", tool.timeout_secs.is_some()),
        ("grace_secs", tool.grace_secs.is_some()),
        ("cwd", tool.cwd.is_some()),
        ("questions", tool.questions),
        (
            "close_stream_after_ms",
            tool.close_stream_after_ms.is_some(),
        ),
        ("defer_task", tool.defer_task),
        ("max_attempts", tool.max_attempts.is_some()),
        ("retry_backoff_ms", tool.retry_backoff_ms.is_some()),
    ];
    if let Some((key, _)) = per_step.iter().find(|(_, set)| *set) {
        return Err(format!(
            "tool '{name}': {key} belongs on the step tools, not on a workflow"
        ));
    }
    if matches!(
        tool.task_support,
        Some(TaskSupportName::Forbidden | TaskSupportName::Optional)
    ) {
        return Err(format!(
            "tool '{name}': a workflow runs only as a task (task_support = \"required\", its \
             default)"
        ));
    }
    Ok(())
}

/// What the property tests and the fuzz target hold the parser to, for any text: a file whose
/// settings, bounds and tools can be made within their rules, or an error that names the file.
/// Panics otherwise.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check_any_text(text: &str) {
    match ToolsFile::parse(text, Path::new("tools.toml")) {
        Ok(file) => {
            let settings = file.settings();
            assert!(settings.page_size >= 1 && settings.poll_interval >= 1);
            assert!(settings.lease >= 2 * SWEEP_EVERY_MS);
            let limits = file.limits();
            assert!(limits.max_body_bytes >= 1 && limits.requests_per_owner >= 1);
            assert!(limits.streams_per_owner >= 1 && limits.tasks_per_owner >= 1);
            assert!(limits.max_queued_bytes >= 1);
            for tool in file.tools() {
                assert!(!tool.info().name.is_empty());
            }
        }
        Err(e) => assert!(e.to_string().contains("tools.toml"), "{e}"),
    }
}

#[cfg(test)]
mod tests;
