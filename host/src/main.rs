//! The `mcp-tasks` binary: serve MCP Tasks over stdio, or print what it embeds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mcp_tasks::{
    CompileCache, ComponentSource, EMBEDDED_COMPONENT, EMBEDDED_MACHINE_COMPONENT, Server,
    ToolsFile, WIT,
};

/// MCP Tasks (protocol 2025-11-25) over stdio, with every task rule in a WebAssembly component.
#[derive(Parser)]
#[command(name = "mcp-tasks", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP JSON-RPC on stdin/stdout, one message per line; logs go to stderr.
    Serve {
        /// A TOML file with the server's settings and command tools (see the README).
        #[arg(long, value_name = "FILE")]
        tools: Option<PathBuf>,
        /// Where tasks live: `memory` (lost when the process exits), `file:PATH` (a SQLite file
        /// that survives restarts and that several processes may share), or
        /// `postgres://USER@HOST/DATABASE` (shared by any number of hosts).
        #[arg(long, value_name = "STORE", default_value = "memory")]
        store: String,
        /// The owner of this connection's tasks [default: the OS user].
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
        /// Run this component instead of the embedded one (e.g. a build of your own).
        #[arg(long, value_name = "FILE")]
        component: Option<PathBuf>,
        /// Keep the compiled component in this directory, so later starts skip compiling it
        /// [default: $MCP_TASKS_CACHE_DIR, else $XDG_CACHE_HOME/mcp-tasks, else
        /// ~/.cache/mcp-tasks].
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Compile the component at every start; keep nothing on disk (also MCP_TASKS_CACHE=off).
        #[arg(long, conflicts_with = "cache_dir")]
        no_cache: bool,
    },
    /// Print the WIT package mcp:tasks@0.2.0 that the component implements.
    Wit,
    /// Write an embedded component (a wasm32-wasip2 component) to a file.
    Component {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Which world: `tasks` (state machine and router; imports a store) or `state-machine`
        /// (the pure state machine alone; no store imports).
        #[arg(long, value_name = "WORLD", default_value = "tasks")]
        world: World,
    },
}

/// The worlds of the WIT package that this binary embeds a component of.
#[derive(Clone, Copy, clap::ValueEnum)]
enum World {
    /// The whole component: state machine and router, importing a store.
    Tasks,
    /// The pure state machine, importing no store.
    StateMachine,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            tools,
            store,
            owner,
            component,
            cache_dir,
            no_cache,
        } => {
            let cache = match (no_cache, cache_dir) {
                (true, _) => CompileCache::disabled(),
                (false, Some(dir)) => CompileCache::at(dir),
                (false, None) => CompileCache::from_env(),
            };
            match serve(tools, &store, owner, component, cache) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("mcp-tasks: error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Wit => {
            print!("{WIT}");
            ExitCode::SUCCESS
        }
        Command::Component { out, world } => match std::fs::write(
            &out,
            match world {
                World::Tasks => EMBEDDED_COMPONENT,
                World::StateMachine => EMBEDDED_MACHINE_COMPONENT,
            },
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mcp-tasks: error: cannot write {}: {e}", out.display());
                ExitCode::from(2)
            }
        },
    }
}

fn serve(
    tools: Option<PathBuf>,
    store: &str,
    owner: Option<String>,
    component: Option<PathBuf>,
    cache: CompileCache,
) -> anyhow::Result<()> {
    let file = match &tools {
        Some(path) => ToolsFile::load(path)?,
        None => ToolsFile::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let store = runtime.block_on(mcp_tasks::store::open(store))?;
    let mut builder = Server::builder()
        .compile_cache(cache)
        .store(store)
        .settings(file.settings())
        .tools(file.tools());
    if let Some(owner) = owner {
        builder = builder.owner(owner);
    }
    if let Some(path) = component {
        anyhow::ensure!(
            path.is_file(),
            "component file {} not found",
            path.display()
        );
        builder = builder.component(ComponentSource::file(path));
    }
    let server = Arc::new(builder.build()?);
    runtime.block_on(async move {
        let input = tokio::io::BufReader::new(tokio::io::stdin());
        let stop = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        };
        server.serve_until(input, tokio::io::stdout(), stop).await
    })?;
    // Stdin is read by a blocking thread that may still sit in read(2); do not wait for it.
    runtime.shutdown_background();
    Ok(())
}
