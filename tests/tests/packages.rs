//! The language packages, built and tested as their READMEs say:
//! - `packages/typescript`: the npm package `mcp-tasks` for TypeScript SDK 2.x servers. Its
//!   build transpiles this build's component with jco; `npm test` runs its stores against
//!   `conformance/store.json`, the official conformance suite and extension client against its
//!   example servers, and stores shared with this binary; the README's quick start runs as
//!   written, from the packed tarball, as a user would install it.
//! - `packages/python`: the PyPI package `mcp-tasks` for Python SDK 2.x servers. Its wheel
//!   carries this build's component; its tests (pytest) cover the same ground; the README's quick
//!   start runs as written, from the built wheel, in an environment of its own.
//!
//! `.ci/setup` installs the packages' dependencies.

use std::path::Path;
use std::process::Command;

use mcp_tasks_e2e::{binary, documented_script, fenced_block, root, tempdir};

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("MCP_TASKS_BIN", binary())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} in {} failed ({}):\n{stdout}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_typescript_package_builds_passes_its_tests_and_its_quick_start_runs() {
    let package = root().join("packages/typescript");
    assert!(
        package.join("node_modules/@bytecodealliance/jco").exists(),
        "packages/typescript/node_modules is missing: run .ci/setup"
    );
    run("npm", &["run", "build"], &package);
    let tests = run("npm", &["test"], &package);
    assert!(tests.contains("# fail 0"), "{tests}");
    eprintln!(
        "{}",
        tests
            .lines()
            .filter(|l| l.starts_with("# "))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The quick start, as written, in a directory of its own: `packages` there is this
    // checkout's, so the block's relative paths hold.
    let dir = tempdir::Dir::new();
    std::os::unix::fs::symlink(root().join("packages"), dir.path().join("packages")).unwrap();
    let install = fenced_block("packages/typescript/README.md", "sh", "npm pack");
    run("bash", &["-c", &documented_script(&install)], dir.path());
    let project = dir.path().join("countdown");
    let server = fenced_block("packages/typescript/README.md", "js", "serveStdio");
    std::fs::write(project.join("server.js"), server).unwrap();
    let drive = package.join("test/quickstart-drive.mjs");
    let out = run(
        "node",
        &[drive.to_str().unwrap(), project.to_str().unwrap()],
        &project,
    );
    assert!(out.contains("a 2026-07-28 call became a task"), "{out}");
}

#[test]
fn the_python_package_builds_passes_its_tests_and_its_quick_start_runs() {
    let package = root().join("packages/python");
    let python = package.join(".venv/bin/python");
    assert!(
        python.exists(),
        "packages/python/.venv is missing: run .ci/setup"
    );
    let python = python.to_str().unwrap();
    run(python, &["build_component.py"], &package);
    let tests = run(python, &["-m", "pytest", "-q", "tests/"], &package);
    assert!(
        tests.contains(" passed") && !tests.contains("failed"),
        "{tests}"
    );
    eprintln!("{}", tests.lines().last().unwrap_or_default());

    // The quick start, as written, in a directory of its own (see the TypeScript one).
    let dir = tempdir::Dir::new();
    std::os::unix::fs::symlink(root().join("packages"), dir.path().join("packages")).unwrap();
    let install = fenced_block("packages/python/README.md", "sh", "pip wheel");
    run("bash", &["-c", &documented_script(&install)], dir.path());
    let project = dir.path().join("countdown");
    let server = fenced_block("packages/python/README.md", "python", "MCPServer");
    std::fs::write(project.join("server.py"), server).unwrap();
    let drive = package.join("tests/quickstart_drive.py");
    let out = run(
        python,
        &[drive.to_str().unwrap(), project.to_str().unwrap()],
        &project,
    );
    assert!(out.contains("a 2026-07-28 call became a task"), "{out}");
}
