//! The official SDK clients each run a whole task lifecycle (including a question answered
//! through `input_required`) against the real binary:
//! PyPI `mcp` 1.30.0 and npm `@modelcontextprotocol/sdk` 1.32.2, the lines that speak the
//! 2025-11-25 tasks. `.ci/setup` installs both into `interop/`.

use std::path::Path;
use std::process::Command;

use mcp_tasks_e2e::{binary, root};

fn run(program: &Path, script: &Path, what: &str) {
    let out = Command::new(program)
        .arg(script)
        .arg(binary())
        .arg(root().join("interop/tools.toml"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("lifecycle: ok"),
        "{what} did not finish:\n{stdout}\n{stderr}"
    );
}

#[test]
fn python_sdk_runs_a_whole_task_lifecycle() {
    let python = root().join("interop/python/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run .ci/setup (it installs mcp==1.30.0 there)",
        python.display()
    );
    run(
        &python,
        &root().join("interop/python/lifecycle.py"),
        "the Python SDK lifecycle",
    );
}

#[test]
fn typescript_sdk_runs_a_whole_task_lifecycle() {
    let sdk = root().join("interop/typescript/node_modules/@modelcontextprotocol/sdk");
    assert!(
        sdk.exists(),
        "{} is missing: run .ci/setup (npm ci in interop/typescript)",
        sdk.display()
    );
    run(
        Path::new("node"),
        &root().join("interop/typescript/lifecycle.mjs"),
        "the TypeScript SDK lifecycle",
    );
}
