//! The language packages, built and tested as their READMEs say:
//! - `packages/typescript`: the npm package `mcp-tasks` for TypeScript SDK 2.x servers. Its
//!   build transpiles this build's component with jco; `npm test` runs its stores against
//!   `conformance/store.json`, the official conformance suite and extension client against its
//!   example servers, and stores shared with this binary; the README's quick start runs as
//!   written, from the packed tarball, as a user would install it.
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
