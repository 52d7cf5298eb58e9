//! The README's hand-typed sessions, one per protocol era, run as written (with this build's
//! binary) and checked: what they print is what the README says.

use std::process::Command;

use mcp_tasks_e2e::{Schema, binary, root};
use serde_json::{Value, json};

/// The shell block of the README that starts with `# session: <era>`.
fn session(era: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let marker = format!("```sh\n# session: {era}\n");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("the README has no session for {era}"))
        + marker.len();
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].replace(
        "./target/release/mcp-tasks",
        &binary().display().to_string(),
    )
}

/// Run a session in bash from the workspace root; the JSON lines it printed.
fn run(era: &str) -> Vec<Value> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(session(era))
        .current_dir(root())
        .output()
        .expect("run bash");
    assert!(out.status.success(), "{era}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{era}: {e}: {l}")))
        .collect()
}

#[test]
fn the_2025_11_25_session_creates_a_task_and_reports_its_progress_and_completion() {
    let lines = run("2025-11-25");
    assert_eq!(lines.len(), 5, "{lines:?}");
    Schema::get()
        .check("CreateTaskResult", &lines[0]["result"])
        .unwrap();
    assert_eq!(lines[0]["result"]["task"]["status"], "working");
    for (step, (line, message)) in lines[1..4]
        .iter()
        .zip(["2 to go", "1 to go", "liftoff"])
        .enumerate()
    {
        Schema::get().check("ProgressNotification", line).unwrap();
        assert_eq!(
            line["params"],
            json!({ "progressToken": "countdown-1", "progress": step, "total": 2, "message": message })
        );
    }
    Schema::get()
        .check("TaskStatusNotification", &lines[4])
        .unwrap();
    assert_eq!(lines[4]["params"]["status"], "completed");
}

#[test]
fn the_2026_07_28_session_polls_a_task_to_its_inlined_result() {
    let lines = run("2026-07-28");
    assert_eq!(lines.len(), 3, "{lines:?}");
    let ext = Schema::tasks_extension();
    ext.check("CreateTaskResult", &lines[0]["result"]).unwrap();
    ext.check("GetTaskResult", &lines[1]["result"]).unwrap();
    ext.check("GetTaskResult", &lines[2]["result"]).unwrap();
    assert_eq!(lines[1]["result"]["status"], "working");
    assert_eq!(lines[2]["result"]["status"], "completed");
    assert_eq!(
        lines[2]["result"]["result"]["content"][0]["text"],
        "liftoff\n"
    );
}
