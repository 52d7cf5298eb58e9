//! The compile cache through the real binary: a start stores the compiled component, later
//! starts load it, and a damaged or foreign cache file is compiled again and replaced, never
//! run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mcp_tasks_e2e::{binary, tempdir};

/// Start `mcp-tasks serve` with these arguments and environment, send one ping, and check the
/// answer.
fn ping(args: &[&str], env: &[(&str, &Path)]) {
    let mut command = Command::new(binary());
    command
        .arg("serve")
        .args(args)
        .env_remove("MCP_TASKS_CACHE")
        .env_remove("MCP_TASKS_CACHE_DIR");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcp-tasks");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#
    );
}

/// The cache files in `dir`.
fn cached(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// The SHA-256 of `bytes`, by `sha256sum`.
fn sha256(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let out = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    let hex = String::from_utf8_lossy(&out.stdout)[..64].to_string();
    (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Whether a cache file is whole: its first 32 bytes are the SHA-256 of the rest.
fn sound(file: &Path) -> bool {
    let bytes = std::fs::read(file).unwrap();
    bytes.len() > 32 && bytes[..32] == sha256(&bytes[32..])
}

#[test]
fn a_start_stores_the_compiled_component_and_later_starts_reuse_it() {
    let dir = tempdir::Dir::new();
    let cache = dir.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    ping(&["--cache-dir", cache_arg], &[]);
    let files = cached(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "cwasm"));
    assert!(sound(&files[0]));
    let first = std::fs::read(&files[0]).unwrap();
    ping(&["--cache-dir", cache_arg], &[]);
    assert_eq!(cached(&cache), files);
    assert_eq!(
        std::fs::read(&files[0]).unwrap(),
        first,
        "reused, not rewritten"
    );
}

#[test]
fn a_damaged_or_foreign_cache_file_is_compiled_again_and_replaced() {
    let dir = tempdir::Dir::new();
    let cache = dir.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    ping(&["--cache-dir", cache_arg], &[]);
    let file = cached(&cache).remove(0);
    let good = std::fs::read(&file).unwrap();

    // Damaged: a byte flipped in the compiled code.
    let mut damaged = good.clone();
    damaged[good.len() / 2] ^= 0xff;
    std::fs::write(&file, &damaged).unwrap();
    ping(&["--cache-dir", cache_arg], &[]);
    assert!(sound(&file), "replaced by a sound copy");

    // Foreign: whole by its checksum, but not code wasmtime compiled (nor truncated).
    let payload = b"not a compiled component".to_vec();
    let mut foreign = sha256(&payload);
    foreign.extend_from_slice(&payload);
    std::fs::write(&file, &foreign).unwrap();
    ping(&["--cache-dir", cache_arg], &[]);
    assert!(sound(&file));
    assert_ne!(std::fs::read(&file).unwrap(), foreign);

    // Truncated.
    std::fs::write(&file, &good[..10]).unwrap();
    ping(&["--cache-dir", cache_arg], &[]);
    assert!(sound(&file));
}

#[test]
fn the_environment_moves_or_disables_the_cache() {
    let dir = tempdir::Dir::new();
    let moved = dir.path().join("moved");
    ping(&[], &[("MCP_TASKS_CACHE_DIR", &moved)]);
    assert_eq!(cached(&moved).len(), 1);

    let home = dir.path().join("home");
    ping(&[], &[("HOME", &home), ("XDG_CACHE_HOME", Path::new(""))]);
    assert_eq!(cached(&home.join(".cache/mcp-tasks")).len(), 1);

    let off = dir.path().join("off");
    ping(&["--no-cache"], &[("MCP_TASKS_CACHE_DIR", &off)]);
    ping(
        &[],
        &[
            ("MCP_TASKS_CACHE_DIR", &off),
            ("MCP_TASKS_CACHE", Path::new("off")),
        ],
    );
    assert!(cached(&off).is_empty());
}
