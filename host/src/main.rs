//! The `mcp-tasks` binary: serve MCP Tasks over stdio or Streamable HTTP, or print what it
//! embeds.

mod access;
mod admin_command;
mod logging;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mcp_tasks::transport::Limits;
use mcp_tasks::transport::http::{self, HttpOptions};
use mcp_tasks::{
    CompileCache, ComponentSource, EMBEDDED_COMPONENT, EMBEDDED_MACHINE_COMPONENT, Server,
    ToolsFile, WIT,
};

/// MCP Tasks (protocols 2025-11-25, and 2026-07-28 with the tasks extension) over stdio or
/// Streamable HTTP, with every task rule in a WebAssembly component.
#[derive(Parser)]
#[command(name = "mcp-tasks", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP JSON-RPC on stdin/stdout, one message per line, or over Streamable HTTP with
    /// --http; logs go to stderr (RUST_LOG sets the level, e.g. RUST_LOG=debug).
    Serve {
        /// A TOML file with the server's settings and command tools (see docs/tools.md).
        #[arg(long, value_name = "FILE")]
        tools: Option<PathBuf>,
        /// Where tasks live: `memory` (lost when the process exits), `file:PATH` (a SQLite file
        /// that survives restarts and that several processes may share), or
        /// `postgres://USER@HOST/DATABASE` (shared by any number of hosts).
        #[arg(long, value_name = "STORE", default_value = "memory")]
        store: String,
        /// The owner of every task when callers are not authenticated (stdio, or HTTP without
        /// --auth-tokens or --jwt-issuer) [default: the OS user].
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
        #[command(flatten)]
        http: Box<HttpArgs>,
        #[command(flatten)]
        observe: logging::Observe,
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
        /// `local`: run the tools of the tasks it creates, and claim tasks waiting for a run.
        /// `queue`: queue the tasks it creates for workers (`mcp-tasks worker`) sharing the
        /// store, and run none itself.
        #[arg(long, value_name = "MODE", default_value = "local")]
        run: RunMode,
    },
    /// Run queued tasks: claim tasks waiting for a run in a shared store (queued by `serve
    /// --run queue`, waiting for their next attempt, lost with a server that died, or handed
    /// back by one that stopped) and run their tools, until SIGINT or SIGTERM. Takes no calls
    /// itself. On the signal it drains: it claims no more, lets its tools finish for up to
    /// --drain-timeout, then stops the rest and hands their tasks back to the queue without
    /// spending an attempt; a second signal ends the drain at once.
    Worker {
        /// The tools file (the same as the servers'): the tools it runs, and the settings.
        #[arg(long, value_name = "FILE")]
        tools: PathBuf,
        /// The shared store: `file:PATH` (workers on the machine of the servers) or
        /// `postgres://USER@HOST/DATABASE`.
        #[arg(long, value_name = "STORE")]
        store: String,
        /// How many tools it runs at once.
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
        concurrency: u32,
        /// On SIGTERM or Ctrl-C: how long its running tools get to finish before they are
        /// stopped and their tasks handed back to the queue [default: 10, or the tools file's
        /// drain_timeout_ms].
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        drain_timeout: Option<std::time::Duration>,
        #[command(flatten)]
        observe: logging::Observe,
        /// Serve Prometheus metrics at http://IP:PORT/metrics (unauthenticated: bind it where
        /// only the scraper reaches).
        #[arg(long, value_name = "IP:PORT")]
        metrics: Option<SocketAddr>,
    },
    /// See and steer every task of a shared store, whoever owns it: list with filters, show
    /// one whole (history included), cancel, retry, purge, and the queues. Changes go through
    /// the task rules and are kept in each task's history.
    Admin(Box<admin_command::AdminArgs>),
    /// Print the hex SHA-256 of a bearer token (read from stdin), as a tokens file lists it.
    TokenHash,
    /// Print the WIT package mcp:tasks@0.9.0 that the component implements.
    Wit,
    /// Write an embedded component (a wasm32-wasip2 component) to a file.
    Component {
        /// Where to write it; missing parent directories are created.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Which world: `tasks` (state machine and router; imports a store) or `state-machine`
        /// (the pure state machine alone; no store imports).
        #[arg(long, value_name = "WORLD", default_value = "tasks")]
        world: World,
    },
}

/// Streamable HTTP: where to listen, who may call, and the limits.
#[derive(clap::Args)]
struct HttpArgs {
    /// Serve MCP over Streamable HTTP on this address (e.g. 127.0.0.1:8080) instead of stdio.
    /// A non-loopback address needs --auth-tokens or --jwt-issuer.
    #[arg(long, value_name = "IP:PORT")]
    http: Option<SocketAddr>,
    /// The MCP endpoint's path.
    #[arg(long, value_name = "PATH", default_value = "/mcp", requires = "http")]
    path: String,
    /// The endpoint's URL as clients reach it (behind a proxy, say); it names this resource in
    /// the OAuth metadata [default: http://IP:PORT/PATH].
    #[arg(long, value_name = "URL", requires = "http")]
    public_url: Option<String>,
    /// Serve no Prometheus metrics at /metrics (they are on by default, behind the same access
    /// checks as the endpoint).
    #[arg(long, requires = "http")]
    no_metrics: bool,
    /// Serve the operator's dashboard and its API at /admin/ beside the endpoint (the only way
    /// to see a memory store's tasks). With --auth-tokens or --jwt-issuer, only for the owners
    /// --admin-owner names; without, for every caller the endpoint admits (loopback).
    #[arg(long, requires = "http")]
    admin: bool,
    /// An owner who may use the dashboard of --admin when callers authenticate. Repeatable.
    #[arg(long, value_name = "OWNER", requires = "admin")]
    admin_owner: Vec<String>,
    #[command(flatten)]
    access: access::AccessArgs,
    /// The largest message, in bytes: an HTTP request body (413 beyond), a line on stdio
    /// (answered with -32600 and dropped) [default: 4194304, or the tools file's max_body].
    #[arg(long, value_name = "BYTES", value_parser = at_least_one())]
    max_body: Option<usize>,
    /// Requests one owner may have in flight at once. HTTP: waiting ones included (429 beyond).
    /// Stdio: the next line is read once one is answered; as many `tasks/result` may wait
    /// besides (-32000 beyond) [default: 64, or the tools file's max_requests_per_owner].
    #[arg(long, value_name = "N", value_parser = at_least_one())]
    max_requests_per_owner: Option<usize>,
    /// With --http: long-lived SSE streams (session streams, subscriptions) one owner may hold
    /// open (429 beyond) [default: 16, or the tools file's max_streams_per_owner].
    #[arg(long, value_name = "N", value_parser = at_least_one())]
    max_streams_per_owner: Option<usize>,
    /// Tools that may run at once for one owner's calls (a tools/call beyond is refused: HTTP 429,
    /// or -32000 on stdio) [default: 256, or the tools file's max_tasks_per_owner].
    #[arg(long, value_name = "N", value_parser = at_least_one())]
    max_tasks_per_owner: Option<usize>,
    /// Bytes queued for a client that does not read, per stdio connection or HTTP stream; beyond
    /// them, notifications are dropped (logged and counted), responses never [default: 16777216,
    /// or the tools file's max_queued_bytes].
    #[arg(long, value_name = "BYTES", value_parser = at_least_one())]
    max_queued_bytes: Option<usize>,
    /// At the end of stdin, SIGTERM or Ctrl-C the server drains: it takes no more calls
    /// and claims no more tasks, and its running tools and waiting requests get this long to
    /// finish;
    /// then the tools still running are stopped: a plain call gets an error saying the server is
    /// stopping, a task goes back to wait for a host without spending an attempt (or fails, on
    /// the memory store). A second signal ends the drain at once [default: 10, or the tools
    /// file's drain_timeout_ms].
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    drain_timeout: Option<std::time::Duration>,
}

impl HttpArgs {
    /// What can be refused before anything starts.
    fn check(&self, addr: SocketAddr) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.path.starts_with('/'),
            "--path must start with '/' (got {})",
            self.path
        );
        anyhow::ensure!(
            !self.admin || !self.access.authenticates() || !self.admin_owner.is_empty(),
            "--admin with authenticated callers needs --admin-owner OWNER: who may operate"
        );
        self.access.check(addr)
    }

    /// The server's options, for the address it is bound to.
    fn options(&self, addr: SocketAddr, limits: Limits) -> HttpOptions {
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}{}", self.path));
        HttpOptions {
            path: self.path.clone(),
            limits,
            admins: self.admin.then(|| self.admin_owner.clone()),
            ..self.access.options(public_url)
        }
    }

    /// The limits, for HTTP and stdio alike: these flags over the tools file's.
    fn limits(&self, file: Limits) -> Limits {
        Limits {
            max_body_bytes: self.max_body.unwrap_or(file.max_body_bytes),
            requests_per_owner: self
                .max_requests_per_owner
                .unwrap_or(file.requests_per_owner),
            streams_per_owner: self.max_streams_per_owner.unwrap_or(file.streams_per_owner),
            tasks_per_owner: self.max_tasks_per_owner.unwrap_or(file.tasks_per_owner),
            max_queued_bytes: self.max_queued_bytes.unwrap_or(file.max_queued_bytes),
            drain: self.drain_timeout.unwrap_or(file.drain),
        }
    }
}

/// A time given on the command line in seconds (`10`, `0.5`).
fn seconds(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("'{text}' is not a number of seconds"))
}

/// A bound given on the command line: a count or a size of at least 1.
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}

/// Where the tools of the tasks a server creates run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RunMode {
    /// On this server.
    Local,
    /// On workers sharing the store.
    Queue,
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
            http,
            observe,
            component,
            cache_dir,
            no_cache,
            run,
        } => exit(observe.init().and_then(|_traces| {
            let cache = match (no_cache, cache_dir) {
                (true, _) => CompileCache::disabled(),
                (false, Some(dir)) => CompileCache::at(dir),
                (false, None) => CompileCache::from_env(),
            };
            serve(tools, &store, owner, &http, component, cache, run)
        })),
        Command::Worker {
            tools,
            store,
            concurrency,
            drain_timeout,
            observe,
            metrics,
        } => exit(
            observe
                .init()
                .and_then(|_traces| work(&tools, &store, concurrency, drain_timeout, metrics)),
        ),
        Command::Admin(args) => {
            // Commands print one line on failure; the dashboard logs like a server.
            if args.serves() {
                logging::init(logging::LogFormat::Text);
            }
            exit(admin_command::run(*args))
        }
        Command::TokenHash => {
            let mut token = String::new();
            match std::io::stdin().read_line(&mut token) {
                Ok(_) if !token.trim().is_empty() => {
                    println!("{}", http::token_hash(&token));
                    ExitCode::SUCCESS
                }
                _ => {
                    eprintln!("mcp-tasks: error: give the token on stdin");
                    ExitCode::from(2)
                }
            }
        }
        Command::Wit => {
            print!("{WIT}");
            ExitCode::SUCCESS
        }
        Command::Component { out, world } => match write_creating_parents(
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

/// A command's exit: 0, or 2 with its error on one line of stderr.
fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-tasks: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes `bytes` to `path`, creating its missing parent directories first: `--out
/// build/tasks.wasm` works in a fresh checkout, where `build/` does not exist yet.
fn write_creating_parents(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)
}

fn serve(
    tools: Option<PathBuf>,
    store: &str,
    owner: Option<String>,
    http: &HttpArgs,
    component: Option<PathBuf>,
    cache: CompileCache,
    run: RunMode,
) -> anyhow::Result<()> {
    if let Some(addr) = http.http {
        http.check(addr)?;
        if !http.no_metrics {
            mcp_tasks::metrics::enable()?;
        }
    }
    if http.http.is_some() && owner.is_some() {
        anyhow::ensure!(
            !http.access.authenticates(),
            "--owner names the one owner of an unauthenticated server; with --auth-tokens or \
             --jwt-issuer, each caller owns its tasks"
        );
    }
    let file = match &tools {
        Some(path) => ToolsFile::load(path)?,
        None => ToolsFile::default(),
    };
    let limits = http.limits(file.limits());
    let (runtime, store) = runtime_and_store(store)?;
    let mut settings = file.settings();
    if run == RunMode::Queue {
        settings.queue = true;
        settings.claim_limit = 0;
    }
    let mut builder = Server::builder()
        .compile_cache(cache)
        .store(store)
        .settings(settings)
        .tools(file.tools())
        .limits(limits.clone());
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
    if let Some(addr) = http.http {
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            // The bound address, not the asked one: port 0 picks a free port.
            let options = http.options(listener.local_addr()?, limits);
            let stop = stop_signals(server.clone());
            server
                .serve_http(listener, options, async move {
                    if let Err(e) = stop.await {
                        tracing::error!("cannot wait for signals: {e}");
                        std::future::pending::<()>().await;
                    }
                })
                .await
                .map_err(anyhow::Error::from)
        })?;
        runtime.shutdown_background();
        return Ok(());
    }
    // On a worker of the runtime, not this thread: the requests it spawns then start on the
    // same worker, instead of each waking one from outside.
    let serve =
        runtime.spawn(async move { server.serve_stdio_until(stop_signals(server.clone())).await });
    runtime
        .block_on(serve)
        .context("the stdio server stopped abnormally")??;
    // Stdin, where it is not a pipe, is read by a blocking thread that may still sit in read(2);
    // do not wait for it.
    runtime.shutdown_background();
    Ok(())
}

/// `mcp-tasks worker`: claim and run tasks waiting in a shared store until a stop signal.
fn work(
    tools: &Path,
    store: &str,
    concurrency: u32,
    drain_timeout: Option<std::time::Duration>,
    metrics: Option<SocketAddr>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        store != "memory",
        "a worker needs a store that servers share: file:PATH or postgres://…"
    );
    let file = ToolsFile::load(tools)?;
    let (runtime, store) = runtime_and_store(store)?;
    if let Some(addr) = metrics {
        mcp_tasks::metrics::enable()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .with_context(|| format!("cannot listen on {addr}"))?;
        tracing::info!(addr = %listener.local_addr()?, "serving metrics");
        let store = store.clone();
        runtime.spawn(async move {
            if let Err(e) = mcp_tasks::metrics::serve(listener, store, std::future::pending()).await
            {
                tracing::error!("the metrics endpoint stopped: {e}");
            }
        });
    }
    let mut settings = file.settings();
    settings.queue = false;
    settings.claim_limit = concurrency;
    let mut limits = file.limits();
    limits.drain = drain_timeout.unwrap_or(limits.drain);
    let worker = Arc::new(
        Server::builder()
            .store(store)
            .settings(settings)
            .tools(file.tools())
            .limits(limits)
            .build()?,
    );
    tracing::info!(concurrency, "working");
    runtime.block_on(worker.work_until(stop_signals(worker.clone())))?;
    runtime.shutdown_background();
    Ok(())
}

/// The async runtime, and the store `store` names opened on it.
fn runtime_and_store(
    store: &str,
) -> anyhow::Result<(tokio::runtime::Runtime, Arc<dyn mcp_tasks::TaskStore>)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let store = runtime.block_on(mcp_tasks::store::open(store))?;
    Ok((runtime, store))
}

/// Completes at the first SIGINT or SIGTERM, which starts the server's drain; a second one
/// ends the drain at once ([`Server::hurry`]).
async fn stop_signals(server: Arc<Server>) -> std::io::Result<()> {
    stop_signal().await?;
    tracing::info!("stopping: draining (a second SIGTERM or Ctrl-C stops at once)");
    tokio::spawn(async move {
        if stop_signal().await.is_ok() {
            tracing::warn!("stopping at once: the drain is cut short");
            server.hurry();
        }
    });
    Ok(())
}

/// SIGINT or SIGTERM.
async fn stop_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}
