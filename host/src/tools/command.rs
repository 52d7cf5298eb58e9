//! Command tools: a program run per call, never through a shell.
//!
//! The protocol with the program: its argv comes from the tool's `command`, where an element
//! that is exactly `{name}` is replaced by the argument `name`; the whole arguments object
//! arrives as one JSON line on stdin; each line it writes to stderr becomes the task's status
//! message; exit 0 makes stdout the result (a JSON `CallToolResult` as is, anything else as
//! text); any other exit, or the timeout, makes an `isError` result with the tail of stderr.
//! Cancel kills its whole process group: SIGTERM, then SIGKILL after a grace period.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use super::{Tool, ToolContext, ToolOutcome};
use crate::types::ToolInfo;

/// Lines of stderr kept for the status message of a failed run.
const STDERR_TAIL_LINES: usize = 5;
/// The longest status message taken from stderr, in bytes.
const STDERR_TAIL_BYTES: usize = 1000;
/// The most stdout read into a result; the rest is discarded and the result says so.
const MAX_STDOUT: u64 = 16 * 1024 * 1024;

/// A tool that runs a program.
#[derive(Debug, Clone)]
pub struct CommandTool {
    info: ToolInfo,
    command: Vec<String>,
    timeout: Option<Duration>,
    grace: Duration,
    cwd: Option<PathBuf>,
}

impl CommandTool {
    /// A tool running `command` (program and arguments; elements that are exactly `{name}` are
    /// filled from the call's arguments). `command` must not be empty.
    pub fn new(info: ToolInfo, command: Vec<String>) -> Self {
        Self {
            info,
            command,
            timeout: None,
            grace: Duration::from_secs(2),
            cwd: None,
        }
    }

    /// Kill the program and fail the call after this long.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long the program has to exit after SIGTERM before it gets SIGKILL.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Run the program in this directory.
    pub fn with_cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// The argv for these arguments, or why there is none.
    fn argv(&self, arguments: &Value) -> Result<Vec<String>, String> {
        self.command
            .iter()
            .map(|element| match placeholder(element) {
                None => Ok(element.clone()),
                Some(name) => match arguments.get(name) {
                    Some(Value::String(s)) => Ok(s.clone()),
                    Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
                    Some(Value::Null) | None => Err(format!("missing argument '{name}'")),
                    Some(_) => Err(format!(
                        "argument '{name}' must be a string, a number or a boolean to fill the command line"
                    )),
                },
            })
            .collect()
    }
}

/// `Some("dir")` for the element `{dir}`.
fn placeholder(element: &str) -> Option<&str> {
    let name = element.strip_prefix('{')?.strip_suffix('}')?;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some(name)
}

enum Ended {
    Exited(ExitStatus),
    TimedOut(Duration),
    Cancelled,
}

#[async_trait::async_trait]
impl Tool for CommandTool {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    async fn call(&self, arguments: Value, cx: ToolContext) -> ToolOutcome {
        let argv = match self.argv(&arguments) {
            Ok(argv) if !argv.is_empty() => argv,
            Ok(_) => return ToolOutcome::tool_error("the tool's command is empty"),
            Err(why) => return ToolOutcome::tool_error(format!("Invalid arguments: {why}")),
        };
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so cancel reaches everything it started.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return ToolOutcome::tool_error(format!("cannot start '{}': {e}", argv[0])),
        };

        // The arguments as one JSON line; a program that never reads stdin just closes it.
        if let Some(mut stdin) = child.stdin.take() {
            let mut line = arguments.to_string().into_bytes();
            line.push(b'\n');
            tokio::spawn(async move {
                let _ = stdin.write_all(&line).await;
            });
        }
        let stdout = child.stdout.take().map(|out| {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let _ = out.take(MAX_STDOUT).read_to_end(&mut buf).await;
                buf
            })
        });
        let stderr = child.stderr.take().map(|err| {
            let cx = cx.clone();
            tokio::spawn(async move {
                let mut tail = VecDeque::with_capacity(STDERR_TAIL_LINES);
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = line.trim_end().to_string();
                    if line.is_empty() {
                        continue;
                    }
                    cx.progress(line.clone());
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                tail.into_iter().collect::<Vec<_>>().join("\n")
            })
        });

        let ended = tokio::select! {
            status = child.wait() => match status {
                Ok(status) => Ended::Exited(status),
                Err(e) => return ToolOutcome::tool_error(format!("waiting for '{}' failed: {e}", argv[0])),
            },
            _ = cx.cancelled().cancelled() => Ended::Cancelled,
            _ = sleep_or_forever(self.timeout) => Ended::TimedOut(self.timeout.unwrap_or_default()),
        };
        if !matches!(ended, Ended::Exited(_)) {
            kill_group(&mut child, self.grace).await;
        }
        // Output still held by a straggler the program left behind is not waited for long.
        let collect = Duration::from_secs(5).max(self.grace);
        let stdout = match stdout {
            Some(task) => tokio::time::timeout(collect, task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let tail = match stderr {
            Some(task) => tokio::time::timeout(collect, task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => String::new(),
        };
        outcome(&argv[0], ended, &stdout, &tail)
    }
}

fn outcome(program: &str, ended: Ended, stdout: &[u8], tail: &str) -> ToolOutcome {
    let status = match ended {
        Ended::Cancelled => return ToolOutcome::tool_error("cancelled"),
        Ended::TimedOut(after) => {
            return failure(format!("timed out after {} s", after.as_secs_f64()), tail);
        }
        Ended::Exited(status) => status,
    };
    if status.success() {
        let text = String::from_utf8_lossy(stdout);
        return match serde_json::from_str::<Value>(&text) {
            Ok(result) if is_call_tool_result(&result) => ToolOutcome::result(result),
            _ => ToolOutcome::text(text.into_owned()),
        };
    }
    let how = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => format!("'{program}' exited with status {code}"),
        (None, Some(signal)) => format!("'{program}' was killed by signal {signal}"),
        (None, None) => format!("'{program}' failed: {status}"),
    };
    failure(how, tail)
}

/// An `isError` result whose text and status message say what happened and end with the tail
/// of stderr.
fn failure(how: String, tail: &str) -> ToolOutcome {
    if tail.is_empty() {
        return ToolOutcome::tool_error(how);
    }
    ToolOutcome::tool_error(format!(
        "{how}: {}",
        truncate_front(tail, STDERR_TAIL_BYTES)
    ))
}

/// The last `max` bytes of `s` (on a char boundary).
fn truncate_front(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn is_call_tool_result(v: &Value) -> bool {
    v.get("content").is_some_and(Value::is_array)
}

async fn sleep_or_forever(timeout: Option<Duration>) {
    match timeout {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

/// SIGTERM to the whole group, SIGKILL after `grace` if the leader has not exited by then,
/// and a last SIGKILL for whatever the group still holds.
async fn kill_group(child: &mut Child, grace: Duration) {
    let Some(pid) = child.id() else {
        return; // Already reaped.
    };
    let group = -(pid as libc::pid_t);
    // SAFETY: kill(2) with a negative pid signals the process group the child leads; it has
    // no memory-safety preconditions.
    unsafe { libc::kill(group, libc::SIGTERM) };
    let _ = tokio::time::timeout(grace, child.wait()).await;
    // SAFETY: as above; ESRCH when the group is already gone is harmless.
    unsafe { libc::kill(group, libc::SIGKILL) };
    let _ = child.wait().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TaskSupport;
    use serde_json::json;

    fn tool(command: &[&str]) -> CommandTool {
        let info = ToolInfo {
            name: "t".into(),
            title: None,
            description: None,
            input_schema: "{}".into(),
            output_schema: None,
            task_support: TaskSupport::Optional,
        };
        CommandTool::new(info, command.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn placeholders_fill_whole_elements_only() {
        let t = tool(&["make", "-C", "{dir}", "--jobs={n}", "{n}", "{flag}"]);
        let argv = t
            .argv(&json!({ "dir": "a b; rm -rf /", "n": 4, "flag": true }))
            .unwrap();
        assert_eq!(
            argv,
            ["make", "-C", "a b; rm -rf /", "--jobs={n}", "4", "true"]
        );
        assert_eq!(
            t.argv(&json!({ "n": 1, "flag": false })).unwrap_err(),
            "missing argument 'dir'"
        );
        assert!(
            t.argv(&json!({ "dir": [1], "n": 1, "flag": false }))
                .is_err()
        );
    }

    #[test]
    fn stderr_tail_is_cut_at_a_char_boundary() {
        assert_eq!(truncate_front("héllo", 4), "llo");
        assert_eq!(truncate_front("abc", 10), "abc");
    }
}
