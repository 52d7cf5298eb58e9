//! The components from other languages, each with a store written in that language, driving a
//! task lifecycle through the router and calling the state-machine component:
//! - Node: `examples/js` transpiles both embedded components with jco 1.35.0;
//! - Python: `examples/python` loads them with PyPI `wasmtime` 50.0.1;
//! - the `wasmtime` CLI: `wasmtime run --invoke` calls the state-machine component, exactly as
//!   `docs/wit.md` shows.
//!
//! Each store also passes the shared store cases, `conformance/store.json`.
//!
//! `.ci/setup` installs all three. The Node and Python examples print their per-call costs (a
//! benchmark, not a limit).

use std::path::Path;
use std::process::Command;

use mcp_tasks_e2e::{binary, documented_script, fenced_block, root, tempdir};

fn run(program: &Path, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{stdout}\n{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Write both embedded components into `dir`: `tasks.wasm` and `machine.wasm`.
fn write_components(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (world, file) in [("tasks", "tasks.wasm"), ("state-machine", "machine.wasm")] {
        let out = dir.join(file);
        let out = out.to_str().unwrap();
        run(
            binary(),
            &["component", "--world", world, "--out", out],
            dir,
        );
    }
}

/// The ```sh block of `docs/wit.md` that holds `marker`, as bash would run it from the workspace
/// root (see `documented_script`).
fn documented(marker: &str) -> String {
    documented_script(&fenced_block("docs/wit.md", "sh", marker))
}

/// Run a documented block in bash from the workspace root; what it printed.
fn run_documented(marker: &str) -> String {
    run(Path::new("bash"), &["-c", &documented(marker)], &root())
}

/// The Node example, exactly as `docs/wit.md` shows it: install, write both components,
/// transpile them with jco, run the lifecycle; then its store against the shared cases.
#[test]
fn node_runs_a_task_lifecycle_through_the_transpiled_component() {
    let stdout = run_documented("cd examples/js && npm install");
    assert!(stdout.contains("js lifecycle: ok"), "{stdout}");
    eprintln!("{stdout}");
    let checked = run_documented("node conformance.mjs");
    assert!(
        checked.contains(&format!(
            "js store conformance: {} cases",
            conformance_cases()
        )),
        "{checked}"
    );
}

/// The Python example, exactly as `docs/wit.md` shows it: a virtual environment with wasmtime-py,
/// both components, the lifecycle; then its store against the shared cases.
#[test]
fn python_runs_a_task_lifecycle_through_the_component() {
    let stdout = run_documented("python3 -m venv .venv");
    assert!(stdout.contains("python lifecycle: ok"), "{stdout}");
    eprintln!("{stdout}");
    let checked = run_documented("python conformance.py");
    assert!(
        checked.contains(&format!(
            "python store conformance: {} cases",
            conformance_cases()
        )),
        "{checked}"
    );
}

#[test]
fn the_wasmtime_cli_invokes_the_state_machine_as_the_docs_show() {
    let wasmtime = root().join("target/wasmtime-cli/bin/wasmtime");
    assert!(
        wasmtime.exists(),
        "{} is missing: run .ci/setup (it installs wasmtime-cli 48.0.8 there)",
        wasmtime.display()
    );
    let dir = tempdir::Dir::new();
    write_components(dir.path());

    // Every `$ wasmtime run --invoke '…' machine.wasm` line of docs/wit.md, with the line it
    // says it prints.
    let readme = std::fs::read_to_string(root().join("docs/wit.md")).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let mut shown = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("$ wasmtime run --invoke '") else {
            continue;
        };
        let invoke = rest
            .strip_suffix("' machine.wasm")
            .unwrap_or_else(|| panic!("docs/wit.md line {}: unexpected form: {line}", i + 1));
        let expected = lines[i + 1];
        let printed = run(
            &wasmtime,
            &["run", "--invoke", invoke, "machine.wasm"],
            dir.path(),
        );
        assert_eq!(
            printed.trim_end(),
            expected,
            "wasmtime run --invoke '{invoke}'"
        );
        shown += 1;
    }
    assert!(shown >= 5, "docs/wit.md shows {shown} invocations");

    // The tasks component imports a store, which the CLI does not provide.
    let refused = Command::new(&wasmtime)
        .args(["run", "--invoke", "is-terminal(working)", "tasks.wasm"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("mcp:tasks/store"), "{why}");
}

/// How many cases `conformance/store.json` holds: every one must run.
fn conformance_cases() -> usize {
    let fixture = std::fs::read_to_string(root().join("conformance/store.json")).unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    fixture["cases"].as_array().unwrap().len()
}
