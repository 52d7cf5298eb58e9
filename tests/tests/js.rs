//! The component in Node: `examples/js` transpiles both embedded components with jco 1.35.0 and
//! drives a task lifecycle through the router, with a store written in JavaScript.
//! `.ci/setup` installs jco there (`npm ci`).

use std::path::Path;
use std::process::Command;

use mcp_tasks_e2e::{binary, root};

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

#[test]
fn node_runs_a_task_lifecycle_through_the_transpiled_component() {
    let example = root().join("examples/js");
    let jco = example.join("node_modules/.bin/jco");
    assert!(
        jco.exists(),
        "{} is missing: run .ci/setup (npm ci in examples/js)",
        jco.display()
    );
    let build = example.join("build");
    std::fs::create_dir_all(&build).unwrap();
    for (world, file) in [("tasks", "tasks.wasm"), ("state-machine", "machine.wasm")] {
        let out = build.join(file);
        let out = out.to_str().unwrap();
        run(
            binary(),
            &["component", "--world", world, "--out", out],
            &example,
        );
    }
    run(
        Path::new("npm"),
        &["run", "--silent", "transpile"],
        &example,
    );
    let stdout = run(Path::new("node"), &["lifecycle.mjs"], &example);
    assert!(stdout.contains("js lifecycle: ok"), "{stdout}");
    // The per-call figures, for the record (a benchmark, not a limit).
    eprintln!("{stdout}");
}
