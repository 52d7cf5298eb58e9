//! Tools-file snippets the end-to-end tests share: each a `[[tools]]` entry, as a macro that
//! expands to a string literal, so a test's tools file puts them together at compile time:
//!
//! ```
//! const TOOLS: &str = concat!(
//!     mcp_tasks_e2e::echo_tool!(),
//!     r#"
//! [[tools]]
//! name = "fail"
//! command = ["sh", "-c", "exit 3"]
//! "#
//! );
//! assert!(TOOLS.contains("name = \"echo\"") && TOOLS.contains("name = \"fail\""));
//! ```

/// `echo`: prints its `msg` argument; a task when the client asks for one.
#[macro_export]
macro_rules! echo_tool {
    () => {
        r#"
[[tools]]
name = "echo"
description = "Print the message"
command = ["echo", "{msg}"]
task_support = "optional"
input_schema = { type = "object", properties = { msg = { type = "string" } }, required = ["msg"] }
"#
    };
}

/// `wait`: waits until the file its `path` argument names exists, then prints `done` (lets a test
/// decide when the tool ends); a task when the client asks for one.
#[macro_export]
macro_rules! wait_tool {
    () => {
        r#"
[[tools]]
name = "wait"
description = "Wait until the file named by path exists"
command = ["sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.02; done; echo done", "{path}"]
task_support = "optional"
input_schema = { type = "object", properties = { path = { type = "string" } }, required = ["path"] }
"#
    };
}

/// `long`: starts a child that sleeps, writes both PIDs to its `pidfile` argument, says
/// `running the long job` on stderr, and waits; only as a task.
#[macro_export]
macro_rules! long_tool {
    () => {
        r#"
[[tools]]
name = "long"
description = "Start a child that sleeps, record both PIDs, and wait"
command = ["sh", "-c", "sleep 300 & echo $$ $! > \"$0\"; echo 'running the long job' >&2; wait", "{pidfile}"]
task_support = "required"
grace_secs = 0.5
input_schema = { type = "object", properties = { pidfile = { type = "string" } }, required = ["pidfile"] }
"#
    };
}
