//! Builds the guest components (`guest/`, for `wasm32-wasip2`) and puts them in `OUT_DIR` for
//! the host to embed: the world `tasks` (`mcp_tasks.wasm`) and the world `state-machine`
//! (`mcp_tasks_machine.wasm`, the guest built with its feature `machine-only`).
//! `MCP_TASKS_GUEST_WASM=path` and `MCP_TASKS_MACHINE_WASM=path` embed prebuilt ones instead.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("host/ sits in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    for watched in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    for (prebuilt_var, features, file) in [
        ("MCP_TASKS_GUEST_WASM", "", "mcp_tasks.wasm"),
        (
            "MCP_TASKS_MACHINE_WASM",
            "machine-only",
            "mcp_tasks_machine.wasm",
        ),
    ] {
        println!("cargo:rerun-if-env-changed={prebuilt_var}");
        let dest = out_dir.join(file);
        match std::env::var_os(prebuilt_var) {
            Some(prebuilt) => {
                println!("cargo:rerun-if-changed={}", Path::new(&prebuilt).display());
                copy(Path::new(&prebuilt), &dest);
            }
            None => {
                let built = build_guest(&root, &out_dir, features);
                copy(&built, &dest);
            }
        }
    }
}

/// Build the guest with these features; the component it wrote (the next build of the guest
/// writes to the same path, so copy it away first).
fn build_guest(root: &Path, out_dir: &Path, features: &str) -> PathBuf {
    check_target_installed();
    // A target dir of its own: the outer cargo holds a lock on ours.
    let target_dir = guest_target_dir(out_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "mcp-tasks-guest",
            "--target",
            TARGET,
            "--features",
            features,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // The component ships without debug info; the host's profile keeps its own.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        // Whole-program optimisation pays in the component: it is small and called per message.
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort");
    // What the outer cargo set for the host (clippy's wrapper, flags, cfgs) must not leak in.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_ENCODED_")
            || matches!(
                key.as_ref(),
                "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTFLAGS"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_BUILD_TARGET"
                    | "CARGO_MAKEFLAGS"
            )
        {
            build.env_remove(key.as_ref());
        }
    }
    let status = build
        .status()
        .expect("cannot run cargo to build the guest component");
    assert!(
        status.success(),
        "building the guest component for {TARGET} failed (see above)"
    );
    target_dir
        .join(TARGET)
        .join("release")
        .join("mcp_tasks_guest.wasm")
}

/// `<target>/guest`, beside the host's own profile directories, so that every profile and
/// `cargo clippy` share one guest build. OUT_DIR is `<target>/<profile>/build/<pkg>/out`.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|target| target.join("guest"))
        .unwrap_or_else(|| out_dir.join("guest"))
}

fn check_target_installed() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return; // Let cargo itself report what is wrong.
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !sysroot.join("lib/rustlib").join(TARGET).exists() {
        panic!(
            "the {TARGET} target is not installed: run `rustup target add {TARGET}` and build again"
        );
    }
}

fn copy(from: &Path, to: &Path) {
    if let Err(e) = std::fs::copy(from, to) {
        panic!(
            "cannot copy the guest component {} to {}: {e}",
            from.display(),
            to.display()
        );
    }
}
