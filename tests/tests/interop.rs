//! The official clients each run a whole task lifecycle (including questions answered through
//! `input_required`) against the real binary over stdio: PyPI `mcp` 1.30.0 and npm
//! `@modelcontextprotocol/sdk` 1.32.2, the lines that speak the 2025-11-25 tasks; and the
//! official Tasks extension client, npm `@modelcontextprotocol/ext-tasks` 0.2.2 over the SDK
//! client `@modelcontextprotocol/client` 2.4.0, in both of its generations (2026-07-28 and
//! 2025-11-25). The TypeScript SDK and the extension client also run over Streamable HTTP.
//! `.ci/setup` installs them into `interop/`.

use std::path::Path;
use std::process::Command;

use mcp_tasks_e2e::http::HttpServer;
use mcp_tasks_e2e::{binary, root};

fn run(program: &Path, script: &Path, what: &str) {
    run_with(program, script, &[], "lifecycle: ok", what);
}

fn run_with(program: &Path, script: &Path, args: &[&str], done: &str, what: &str) {
    let out = Command::new(program)
        .arg(script)
        .arg(binary())
        .arg(root().join("interop/tools.toml"))
        .args(args)
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
        stdout.contains(done),
        "{what} did not finish:\n{stdout}\n{stderr}"
    );
}

/// `mcp-tasks serve --http` with the interop tools, for a client that connects by URL.
fn http_server() -> HttpServer {
    let tools = std::fs::read_to_string(root().join("interop/tools.toml")).unwrap();
    HttpServer::start(&tools, &["--owner", "interop"])
}

fn ext_tasks(generation: &str) {
    let package = root().join("interop/ext-tasks/node_modules/@modelcontextprotocol/ext-tasks");
    assert!(
        package.exists(),
        "{} is missing: run .ci/setup (npm ci in interop/ext-tasks)",
        package.display()
    );
    run_with(
        Path::new("node"),
        &root().join("interop/ext-tasks/drive.mjs"),
        &[generation],
        &format!("ext-tasks {generation}: ok"),
        &format!("the ext-tasks client ({generation})"),
    );
}

#[test]
fn ext_tasks_client_drives_the_2026_07_28_extension() {
    ext_tasks("v2");
}

#[test]
fn ext_tasks_client_drives_the_2025_11_25_tasks() {
    ext_tasks("v1");
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

#[test]
fn typescript_sdk_runs_a_whole_task_lifecycle_over_http() {
    let server = http_server();
    run_with(
        Path::new("node"),
        &root().join("interop/typescript/lifecycle.mjs"),
        &[&server.url],
        "lifecycle over HTTP: ok",
        "the TypeScript SDK lifecycle over Streamable HTTP",
    );
}

#[test]
fn ext_tasks_client_drives_both_generations_over_http() {
    let server = http_server();
    for generation in ["v2", "v1"] {
        run_with(
            Path::new("node"),
            &root().join("interop/ext-tasks/drive.mjs"),
            &[generation, &server.url],
            &format!("ext-tasks {generation} over HTTP: ok"),
            &format!("the ext-tasks client ({generation}) over Streamable HTTP"),
        );
    }
}
