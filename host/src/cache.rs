//! Compiled components kept on disk, so that a start-up loads machine code instead of running
//! Cranelift again.
//!
//! A file is named by what decides its contents: the SHA-256 of the component's bytes and
//! wasmtime's compatibility hash of the engine (its version, settings and the CPU features it
//! compiles for). Its first 32 bytes are the SHA-256 of the rest, checked before wasmtime reads
//! it, and wasmtime checks that the rest was compiled by a compatible engine: a file that fails
//! either check — truncated, corrupt, from another build — is compiled again and replaced, never
//! run. Files are written whole (to a temporary name, then renamed), so processes that start
//! together can share the directory.
//!
//! The code in the directory is run: keep it writable by its user alone (it is created `0700`).

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    /// No cache: every start compiles.
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    /// Keep compiled components in `dir` (created when first needed).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// The cache the environment asks for: none if `MCP_TASKS_CACHE=off`; else the directory
    /// `MCP_TASKS_CACHE_DIR`, `$XDG_CACHE_HOME/mcp-tasks` or `$HOME/.cache/mcp-tasks`, the first
    /// that is set; none if none is.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if var("MCP_TASKS_CACHE").is_some_and(|v| v == "off") {
            return Self::disabled();
        }
        let dir = var("MCP_TASKS_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("mcp-tasks")))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/mcp-tasks")));
        Self { dir }
    }

    /// The directory, if caching is on.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// `bytes` compiled for `engine`: from the cache when it holds a sound copy, else compiled
    /// (and then stored, as well as the directory allows: a cache that cannot be written only
    /// costs the next start its compile).
    pub(crate) fn component(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
        let Some(dir) = &self.dir else {
            return Component::new(engine, bytes);
        };
        let path = dir.join(file_name(engine, bytes));
        if let Some(component) = read(engine, &path) {
            return Ok(component);
        }
        let component = Component::new(engine, bytes)?;
        if let Ok(compiled) = component.serialize() {
            let _ = write(dir, &path, &compiled);
        }
        Ok(component)
    }
}

impl Default for CompileCache {
    /// [`CompileCache::from_env`].
    fn default() -> Self {
        Self::from_env()
    }
}

/// `<sha256 of the component>-<engine compatibility hash>.cwasm`.
fn file_name(engine: &Engine, bytes: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "{}-{:016x}.cwasm",
        hex(&Sha256::digest(bytes)),
        hasher.finish()
    )
}

/// The component a cache file holds, if the file is whole and was compiled for this engine.
fn read(engine: &Engine, path: &Path) -> Option<Component> {
    let file = std::fs::read(path).ok()?;
    let (sum, compiled) = file.split_at_checked(32)?;
    if Sha256::digest(compiled).as_slice() != sum {
        return None;
    }
    // SAFETY: `compiled` is, byte for byte, what `Component::serialize` wrote into this
    // directory (the checksum above rules out a damaged copy), and wasmtime checks that it was
    // compiled by a compatible engine before using it.
    unsafe { Component::deserialize(engine, compiled) }.ok()
}

fn write(dir: &Path, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let temp = dir.join(format!(".{}.{}", std::process::id(), uuid::Uuid::new_v4()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(&Sha256::digest(compiled))?;
        file.write_all(compiled)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Lower-case hex of these bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
