//! Builds the guest components (`guest/`, for `wasm32-wasip2`) and puts them in `OUT_DIR` for
//! the host to embed: the world `tasks` (`mcp_tasks.wasm`) and the world `state-machine`
//! (`mcp_tasks_machine.wasm`, the guest built with its feature `machine-only`).
//! `MCP_TASKS_GUEST_WASM=path` and `MCP_TASKS_MACHINE_WASM=path` embed prebuilt ones instead.
//!
//! In the workspace the guest is `../guest`. The packaged crate (`cargo package`, and so
//! `cargo install mcp-tasks`) has no `../guest`: it carries the guest's manifest and sources in
//! `embedded/` (links to `../guest` in the repository, whose files `cargo package` copies in) and
//! the WIT in `wit/`, and this script assembles them into a project of their own in `OUT_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let workspace_guest = manifest.join("../guest/Cargo.toml");
    let guest_manifest = if workspace_guest.exists() {
        let root = manifest.parent().expect("host/ sits in the workspace");
        for watched in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
            println!("cargo:rerun-if-changed={}", root.join(watched).display());
        }
        workspace_guest
    } else {
        for watched in ["embedded", "wit", "Cargo.lock"] {
            println!(
                "cargo:rerun-if-changed={}",
                manifest.join(watched).display()
            );
        }
        assemble_guest(&manifest, &out_dir.join("guest-project"))
    };
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
                let built = build_guest(&guest_manifest, &out_dir, features);
                copy(&built, &dest);
            }
        }
    }
}

/// The guest as a project of its own, from the packaged crate's `embedded/` and `wit/`: laid out
/// as in the repository (`guest/`, `wit/`), with the package's lock file, and a workspace of its
/// own (it is built inside the outer build's target directory). Its manifest.
fn assemble_guest(package: &Path, project: &Path) -> PathBuf {
    let guest = project.join("guest");
    let _ = std::fs::remove_dir_all(project);
    copy_dir(&package.join("embedded/guest-src"), &guest.join("src"));
    copy_dir(&package.join("wit"), &project.join("wit"));
    let toml = std::fs::read_to_string(package.join("embedded/guest.toml"))
        .unwrap_or_else(|e| panic!("the packaged crate lacks embedded/guest.toml: {e}"));
    let manifest = guest.join("Cargo.toml");
    write(&manifest, &format!("{toml}\n[workspace]\n"));
    let lock = package.join("Cargo.lock");
    if lock.exists() {
        copy(&lock, &guest.join("Cargo.lock"));
    }
    manifest
}

/// Copy the directory `from` (following links) to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()));
    if let Err(e) = std::fs::create_dir_all(to) {
        panic!("cannot create {}: {e}", to.display());
    }
    for entry in entries.flatten() {
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            copy(&path, &dest);
        }
    }
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = std::fs::write(path, text) {
        panic!("cannot write {}: {e}", path.display());
    }
}

/// Build the guest with these features; the component it wrote (the next build of the guest
/// writes to the same path, so copy it away first).
fn build_guest(guest_manifest: &Path, out_dir: &Path, features: &str) -> PathBuf {
    check_target_installed();
    // A target dir of its own: the outer cargo holds a lock on ours.
    let target_dir = guest_target_dir(out_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--manifest-path"])
        .arg(guest_manifest)
        .args(["--target", TARGET, "--features", features])
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
