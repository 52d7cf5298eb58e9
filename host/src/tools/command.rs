//! Command tools: a program run per call, never through a shell.
//!
//! The protocol with the program: its argv comes from the tool's `command`, where an element
//! that is exactly `{name}` is replaced by the argument `name`; the whole arguments object
//! arrives as one JSON line on stdin; each line it writes to stderr becomes the task's status
//! message, except a line that is a JSON object with a number `progress`, which is a progress
//! report: `{"progress": 3, "total": 10, "message": "7 to go"}` (`total` and `message` optional;
//! see [`ToolContext::report`]); exit 0 makes stdout the result (a JSON `CallToolResult` as is; for
//! a tool with an `output_schema`, a JSON object as its `structuredContent` and text; anything
//! else as text); any other exit, or the timeout, makes an `isError` result with the tail of stderr. Stdout
//! that is exactly `{"error": {"code": ..., "message": ...}}` ends the call with that JSON-RPC
//! error instead, whatever the exit status.
//! Cancel kills its whole process group: SIGTERM, then SIGKILL after a grace period. On Linux the
//! group dies with the server too, however the server ends (see `guard`).
//!
//! A tool made [`with_questions`](CommandTool::with_questions) may also ask the client questions
//! (MCP elicitation): it writes each question as one JSON line to file descriptor 3 (also named
//! by the environment variable `MCP_TASKS_QUESTIONS_FD`) — the params of `elicitation/create`,
//! `{"message": ..., "requestedSchema": {...}}` — and reads the answer as the next JSON line on
//! stdin, after the arguments line: the client's `ElicitResult`
//! (`{"action": "accept", "content": {...}}`, or `"decline"`, or `"cancel"`), or
//! `{"error": {"code": ..., "message": ...}}` when the question could not be asked. Its stdin then
//! stays open until it exits. A line `{"inputRequests": {KEY: {"method": ..., "params": ...}}}`
//! asks several questions at once, of any of `elicitation/create`, `sampling/createMessage` and
//! `roots/list`; each answer then comes back as its own line, `{"key": KEY, "result": {...}}` or
//! `{"key": KEY, "error": {...}}`. A line `{"continueAsTask": true}` makes a call whose task was
//! deferred (`defer_task`) a task now (see [`ToolContext::continue_as_task`]).

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::{InputError, Tool, ToolContext, ToolOutcome};
use crate::lines::{self, Line};
use crate::types::{Report, ToolInfo};

mod outcome;
mod protocol;

use outcome::{failure, outcome};
use protocol::{Questions, log_line, parse_questions, progress_report};

/// Lines of stderr kept for the status message of a failed run.
const STDERR_TAIL_LINES: usize = 5;
/// The longest status message taken from stderr, in bytes.
const STDERR_TAIL_BYTES: usize = 1000;
/// How much of a tool's output the server holds, so that no tool can make it hold without end
/// (`max_tool_output_bytes` and `max_tool_line_bytes` in the tools file).
#[derive(Debug, Clone, Copy)]
pub struct OutputLimits {
    /// The most stdout a run may write: the rest is read and discarded, and the run fails
    /// saying how much it wrote (a cut result would be a wrong one).
    pub stdout_bytes: u64,
    /// The longest line read from stderr or the questions descriptor; a longer one is dropped
    /// and said so (a question: answered to the tool with -32600).
    pub line_bytes: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        Self {
            stdout_bytes: 16 * 1024 * 1024,
            line_bytes: 1024 * 1024,
        }
    }
}
/// The descriptor on which a tool with questions writes them.
const QUESTIONS_FD: RawFd = 3;

/// A tool that runs a program.
#[derive(Debug, Clone)]
pub struct CommandTool {
    info: ToolInfo,
    command: Vec<String>,
    timeout: Option<Duration>,
    grace: Duration,
    cwd: Option<PathBuf>,
    questions: bool,
    limits: OutputLimits,
    close_stream_after: Option<Duration>,
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
            questions: false,
            limits: OutputLimits::default(),
            close_stream_after: None,
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

    /// Let the program ask the client questions on file descriptor 3 (see the module docs).
    pub fn with_questions(mut self) -> Self {
        self.questions = true;
        self
    }

    /// Over HTTP, close a 2025-11-25 call's SSE stream this long after it opens, for the client
    /// to resume it (see [`Tool::stream_close_after`]).
    pub fn with_stream_close_after(mut self, after: Duration) -> Self {
        self.close_stream_after = Some(after);
        self
    }

    /// Hold at most this much of the program's output.
    pub fn with_output_limits(mut self, limits: OutputLimits) -> Self {
        self.limits = limits;
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

    fn stream_close_after(&self) -> Option<Duration> {
        self.close_stream_after
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
        // The run's trace goes on in the program, if it traces (OpenTelemetry's environment
        // carrier); when traces are off the variables are not set, nor the inherited ones
        // touched.
        command.envs(crate::traces::environment());
        let questions_pipe = match self.questions.then(pipe).transpose() {
            Ok(pipe) => pipe,
            Err(e) => return ToolOutcome::tool_error(format!("cannot make a pipe: {e}")),
        };
        if let Some((_, write)) = &questions_pipe {
            give_as_questions_fd(&mut command, write.as_raw_fd());
        }
        // Last: the program must get what the steps before set up.
        #[cfg(target_os = "linux")]
        super::guard::guard(&mut command);
        // Starting a process forks this one, which holds the calling thread for a millisecond or
        // more: not a runtime worker, where the responses queued behind it would wait.
        let spawned = tokio::task::spawn_blocking(move || command.spawn()).await;
        let mut child = match spawned.map_err(std::io::Error::other).and_then(|s| s) {
            Ok(child) => child,
            Err(e) => return ToolOutcome::tool_error(format!("cannot start '{}': {e}", argv[0])),
        };

        // Questions from the program go to the client; answers come back on its stdin.
        let (answers, mut answers_rx) = mpsc::unbounded_channel::<Value>();
        let questions = questions_pipe.map(|(read, write)| {
            drop(write); // The program holds the only write end now: EOF when it exits.
            tokio::spawn(ask_questions(
                read,
                answers,
                cx.clone(),
                self.limits.line_bytes,
            ))
        });
        // The arguments as one JSON line, then the answers; a program that never reads stdin
        // just closes it. Without questions the answer channel is closed at once, and so stdin.
        if let Some(mut stdin) = child.stdin.take() {
            let mut line = arguments.to_string().into_bytes();
            line.push(b'\n');
            tokio::spawn(async move {
                if stdin.write_all(&line).await.is_err() {
                    return;
                }
                while let Some(answer) = answers_rx.recv().await {
                    let mut line = answer.to_string().into_bytes();
                    line.push(b'\n');
                    if stdin.write_all(&line).await.is_err() {
                        return;
                    }
                }
            });
        }
        let max_stdout = self.limits.stdout_bytes;
        let stdout = child.stdout.take().map(|mut out| {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let _ = (&mut out).take(max_stdout).read_to_end(&mut buf).await;
                // Beyond the bound the pipe is still read, so the program is not stopped by a
                // full pipe or a broken one: the run ends as it would, and fails for its size.
                let beyond = tokio::io::copy(&mut out, &mut tokio::io::sink())
                    .await
                    .unwrap_or(0);
                Stdout {
                    total: buf.len() as u64 + beyond,
                    bytes: buf,
                }
            })
        });
        let max_line = self.limits.line_bytes;
        let stderr = child.stderr.take().map(|err| {
            let cx = cx.clone();
            tokio::spawn(async move {
                let mut tail = VecDeque::with_capacity(STDERR_TAIL_LINES);
                let mut err = BufReader::new(err);
                let mut buf = Vec::new();
                loop {
                    let line = match lines::read_line(&mut err, &mut buf, max_line).await {
                        Ok(Line::Complete) => String::from_utf8_lossy(&buf).trim_end().to_string(),
                        Ok(Line::TooLong(length)) => {
                            format!("(a line of {length} bytes on stderr, longer than {max_line}, was dropped)")
                        }
                        Ok(Line::End) | Err(_) => break,
                    };
                    if line.is_empty() {
                        continue;
                    }
                    if let Some((level, logger, data)) = log_line(&line) {
                        cx.log(level, logger.as_deref(), data);
                        continue;
                    }
                    let report = progress_report(&line).unwrap_or(Report {
                        progress: None,
                        total: None,
                        message: Some(line),
                    });
                    // The tail (a failed run's status message) keeps the lines that say something.
                    if let Some(message) = &report.message {
                        if tail.len() == STDERR_TAIL_LINES {
                            tail.pop_front();
                        }
                        tail.push_back(message.clone());
                    }
                    cx.report(report);
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
        // A question still open is moot once the program is gone.
        if let Some(questions) = questions {
            questions.abort();
        }
        // Output still held by a straggler the program left behind is not waited for long.
        let within = Duration::from_secs(5).max(self.grace);
        let stdout = collect(stdout, within).await;
        let tail = collect(stderr, within).await;
        // A cancel or a timeout says more than the size of what was cut short.
        if matches!(ended, Ended::Exited(_)) && stdout.total > max_stdout {
            return failure(
                format!(
                    "'{}' wrote {} bytes on stdout, more than a result may hold ({max_stdout}, \
                     max_tool_output_bytes)",
                    argv[0], stdout.total
                ),
                &tail,
            );
        }
        outcome(
            &argv[0],
            ended,
            &stdout.bytes,
            &tail,
            self.info.output_schema.is_some(),
        )
    }
}

/// What a program wrote on stdout: the bytes kept, and how many it wrote in all.
#[derive(Default)]
struct Stdout {
    bytes: Vec<u8>,
    total: u64,
}

/// What a reader task gathered, if it finishes within `within`; empty otherwise.
async fn collect<T: Default>(task: Option<tokio::task::JoinHandle<T>>, within: Duration) -> T {
    match task {
        Some(task) => tokio::time::timeout(within, task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
        None => T::default(),
    }
}

/// Read the program's questions, one JSON line each, ask the client, and queue each answer (or
/// `{"error": ...}`) for its stdin.
async fn ask_questions(
    read: OwnedFd,
    answers: mpsc::UnboundedSender<Value>,
    cx: ToolContext,
    max_line: usize,
) {
    let Ok(read) = tokio::net::unix::pipe::Receiver::from_owned_fd(read) else {
        return;
    };
    let error =
        |code: i64, message: String| json!({ "error": { "code": code, "message": message } });
    let mut read = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        let line = match lines::read_line(&mut read, &mut buf, max_line).await {
            Ok(Line::Complete) => String::from_utf8_lossy(&buf).into_owned(),
            Ok(Line::TooLong(length)) => {
                let why = format!("the question is {length} bytes, more than {max_line}");
                if answers.send(error(-32600, why)).is_err() {
                    return;
                }
                continue;
            }
            Ok(Line::End) | Err(_) => return,
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse_questions(&line) {
            Ok(Questions::ContinueAsTask) => cx.continue_as_task(),
            Err(why) => {
                if answers.send(error(-32700, why)).is_err() {
                    return;
                }
            }
            // The one-question form: the answer is the next line, bare.
            Ok(Questions::One(params)) => {
                let answer = match cx.ask(params).await {
                    Ok(answer) => answer,
                    Err(InputError::Refused { code, message }) => error(code, message),
                    Err(InputError::Stopped) => return,
                };
                if answers.send(answer).is_err() {
                    return;
                }
            }
            // The keyed form: one line per answer, with its key, once all have come; the
            // program may meanwhile ask more.
            Ok(Questions::Keyed(questions)) => {
                let cx = cx.clone();
                let answers = answers.clone();
                tokio::spawn(async move {
                    let keys: Vec<String> = questions.iter().map(|q| q.key.clone()).collect();
                    for (key, answer) in keys.into_iter().zip(cx.ask_all(questions).await) {
                        let line = match answer {
                            Ok(result) => json!({ "key": key, "result": result }),
                            Err(InputError::Refused { code, message }) => {
                                let mut refused = error(code, message);
                                refused["key"] = json!(key);
                                refused
                            }
                            Err(InputError::Stopped) => return,
                        };
                        if answers.send(line).is_err() {
                            return;
                        }
                    }
                });
            }
        }
    }
}

/// A pipe whose two ends close on exec: (read, write).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [RawFd; 2] = [-1; 2];
    // SAFETY: pipe2(2) writes two new descriptors into `fds` when it returns 0.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Make `fd` the program's descriptor 3, open across exec, and name it in the environment.
fn give_as_questions_fd(command: &mut Command, fd: RawFd) {
    command.env("MCP_TASKS_QUESTIONS_FD", QUESTIONS_FD.to_string());
    // SAFETY: the closure runs in the child between fork and exec and calls only dup2(2) and
    // fcntl(2), which are async-signal-safe; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if fd == QUESTIONS_FD {
                // dup2 onto itself would keep close-on-exec: clear the flag instead.
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, QUESTIONS_FD) < 0 {
                // The copy dup2 makes does not close on exec.
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
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
    use serde_json::json;

    fn tool(command: &[&str]) -> CommandTool {
        let info = ToolInfo::new("t", "{}");
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
}
