//! `mcp-tasks admin`: an operator's commands on a store, for all owners.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use mcp_tasks::admin::{self, Admin, Filter, view};
use mcp_tasks::transport::http::{Gate, HttpOptions};
use mcp_tasks::types::Status;
use mcp_tasks::{ComponentSource, Guest, ToolsFile};
use serde_json::json;

/// See every task of a shared store, whoever owns it, and act on them by the task rules.
#[derive(Args)]
pub struct AdminArgs {
    /// The store: `file:PATH` or `postgres://USER@HOST/DATABASE`, the one servers and workers
    /// share (a memory store lives inside the process that serves it, out of reach).
    #[arg(long, value_name = "STORE")]
    store: String,
    /// The operator's name, kept in the history of the tasks it changes (as `admin:NAME`)
    /// [default: the OS user].
    #[arg(long = "as", value_name = "NAME")]
    operator: Option<String>,
    /// The servers' tools file, for their settings (the poll interval of a retried task).
    #[arg(long, value_name = "FILE")]
    tools: Option<PathBuf>,
    /// Serve the live dashboard (and its /metrics) on this address instead of running a
    /// command, until SIGINT or SIGTERM. A non-loopback address needs --auth-tokens or
    /// --jwt-issuer.
    #[arg(long, value_name = "IP:PORT", conflicts_with = "command")]
    http: Option<std::net::SocketAddr>,
    /// With --auth-tokens or --jwt-issuer: an owner who may use the dashboard (its API,
    /// events and /metrics); changes are made in its name. Repeatable.
    #[arg(long, value_name = "OWNER", requires = "http")]
    admin_owner: Vec<String>,
    /// The dashboard's URL as browsers reach it (behind a proxy, say); it names the protected
    /// resource, and is the default JWT audience [default: http://IP:PORT/].
    #[arg(long, value_name = "URL", requires = "http")]
    public_url: Option<String>,
    #[command(flatten)]
    access: crate::access::AccessArgs,
    #[command(subcommand)]
    command: Option<AdminCommand>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Find, read and act on tasks.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Per tool: tasks waiting for a host and running, the oldest wait, runs per host.
    Queues {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TasksCommand {
    /// List tasks, oldest first, with filters.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// How many tasks at most.
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
        /// Resume after this cursor (printed after a full page).
        #[arg(long, value_name = "CURSOR")]
        cursor: Option<String>,
        /// Print JSON (`{"tasks": [...], "nextCursor": ...}`) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a task whole: request, result or error, questions, history, workflow, links.
    Show {
        /// The task's ID.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Cancel tasks: each becomes cancelled, and the host that runs its tool stops it.
    Cancel {
        /// The tasks' IDs.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Run a failed or cancelled task again as a new, queued task with the same request and
    /// owner; the two name each other. Prints the new task's ID.
    Retry {
        /// The task's ID.
        id: String,
    },
    /// Delete finished tasks by status and age.
    Purge {
        /// Only tasks in this status: completed, failed or cancelled. Repeatable.
        #[arg(long, value_name = "STATUS", required = true)]
        status: Vec<String>,
        /// Only tasks created longer ago than this (90s, 15m, 2h, 7d).
        #[arg(long, value_name = "AGE")]
        older_than: String,
        /// Print what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args)]
struct FilterArgs {
    /// Only tasks in this status (working, input_required, completed, failed, cancelled).
    /// Repeatable.
    #[arg(long, value_name = "STATUS")]
    status: Vec<String>,
    /// Only this owner's tasks.
    #[arg(long, value_name = "OWNER")]
    owner: Option<String>,
    /// Only this tool's tasks.
    #[arg(long, value_name = "TOOL")]
    tool: Option<String>,
    /// Only tasks created at or after this: an RFC 3339 time or an age (2h: two hours ago).
    #[arg(long, value_name = "TIME")]
    created_after: Option<String>,
    /// Only tasks created before this: an RFC 3339 time or an age.
    #[arg(long, value_name = "TIME")]
    created_before: Option<String>,
    /// Only tasks whose status message holds this text (ignoring case).
    #[arg(long, value_name = "TEXT")]
    text: Option<String>,
}

impl FilterArgs {
    fn filter(&self, now: u64) -> anyhow::Result<Filter> {
        let time = |t: &Option<String>| t.as_deref().map(|t| admin::parse_time(t, now)).transpose();
        Ok(Filter {
            statuses: statuses(&self.status)?,
            owner: self.owner.clone(),
            tool: self.tool.clone(),
            created_after: time(&self.created_after)?,
            created_before: time(&self.created_before)?,
            text: self.text.clone(),
        })
    }
}

fn statuses(names: &[String]) -> anyhow::Result<Vec<Status>> {
    names
        .iter()
        .map(|s| admin::parse_status(s).map_err(anyhow::Error::from))
        .collect()
}

impl AdminArgs {
    /// Whether it serves the dashboard (rather than running one command).
    pub fn serves(&self) -> bool {
        self.http.is_some()
    }
}

/// Run `mcp-tasks admin`.
pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let now = admin::now_ms();
    // Read the arguments before opening anything: a bad filter is one line, at once.
    anyhow::ensure!(
        args.store != "memory" && args.store != "memory:",
        "a memory store lives in the process that serves it; give the store a server shares \
         (file:PATH or postgres://…)"
    );
    let command = match (args.command, args.http) {
        (Some(command), None) => Some(command),
        (None, Some(addr)) => {
            args.access.check(addr)?;
            anyhow::ensure!(
                !args.access.authenticates() || !args.admin_owner.is_empty(),
                "the dashboard with authenticated callers needs --admin-owner OWNER: who may \
                 operate"
            );
            mcp_tasks::metrics::enable()?;
            None
        }
        _ => anyhow::bail!("give a command (tasks, queues) or --http IP:PORT for the dashboard"),
    };
    let settings = match &args.tools {
        Some(path) => ToolsFile::load(path)?.settings(),
        None => ToolsFile::default().settings(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = mcp_tasks::store::open(&args.store).await?;
        let guest = Guest::new(&ComponentSource::embedded(), store, settings, Vec::new())?;
        let operator = args.operator.unwrap_or_else(mcp_tasks::os_user);
        let admin = Admin::new(Arc::new(guest), &operator);
        match (command, args.http) {
            (Some(c), _) => run_command(&admin, c, now).await,
            (None, Some(addr)) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?;
                let addr = listener.local_addr()?;
                let public_url = args.public_url.unwrap_or_else(|| format!("http://{addr}/"));
                let options = HttpOptions {
                    admins: Some(args.admin_owner),
                    ..args.access.options(public_url.clone())
                };
                // Without authentication every caller acts as the operator --as names.
                let gate = Gate::new(&options, addr, public_url, operator).await?;
                dashboard(admin, listener, Arc::new(gate)).await
            }
            (None, None) => Ok(()),
        }
    })
}

/// Serve the dashboard on `listener` behind `gate` until SIGINT or SIGTERM.
async fn dashboard(
    admin: Admin,
    listener: tokio::net::TcpListener,
    gate: Arc<Gate>,
) -> anyhow::Result<()> {
    tracing::info!(
        addr = %listener.local_addr()?,
        authentication = if gate.authenticates() { "bearer tokens" } else { "none" },
        "serving the dashboard"
    );
    // A JWKS fetched from a URL is fetched again as it ages (the gate knows when).
    let keys = gate.clone();
    let _refresh = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            keys.refresh().await;
        }
    }));
    let app = mcp_tasks::admin::dashboard::router(Arc::new(admin), gate);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        })
        .await?;
    Ok(())
}

async fn run_command(admin: &Admin, command: AdminCommand, now: u64) -> anyhow::Result<()> {
    match command {
        AdminCommand::Queues { json } => {
            let queues = admin::queues(admin.store().as_ref(), now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&queues)?);
                return Ok(());
            }
            println!(
                "{:<24}  {:>7}  {:>7}  {:>12}  HOSTS",
                "TOOL", "WAITING", "RUNNING", "OLDEST WAIT"
            );
            for q in queues {
                let hosts: Vec<String> = q.hosts.iter().map(|(h, n)| format!("{h}={n}")).collect();
                let oldest = q
                    .oldest_waiting_ms
                    .map(|ms| {
                        humantime::format_duration(std::time::Duration::from_secs(ms / 1000))
                            .to_string()
                    })
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<24}  {:>7}  {:>7}  {:>12}  {}",
                    q.tool,
                    q.waiting,
                    q.running,
                    oldest,
                    hosts.join(" ")
                );
            }
        }
        AdminCommand::Tasks(TasksCommand::List {
            filter,
            limit,
            cursor,
            json,
        }) => {
            let filter = filter.filter(now)?;
            let page = admin.list(&filter, cursor.as_deref(), limit).await?;
            if json {
                let tasks: Vec<_> = page.tasks.iter().map(view::summary).collect();
                let out = json!({ "tasks": tasks, "nextCursor": page.next_cursor });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", view::table(&page.tasks));
                if let Some(next) = page.next_cursor {
                    println!("(more: --cursor {next})");
                }
            }
        }
        AdminCommand::Tasks(TasksCommand::Show { id, json }) => {
            let task = admin.task(&id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view::detail(&task))?);
            } else {
                print!("{}", view::text(&task));
            }
        }
        AdminCommand::Tasks(TasksCommand::Cancel { ids }) => {
            for id in ids {
                admin.cancel(&id).await?;
                println!("cancelled {id}");
            }
        }
        AdminCommand::Tasks(TasksCommand::Retry { id }) => {
            let task = admin.retry(&id).await?;
            println!("{}", task.id);
        }
        AdminCommand::Tasks(TasksCommand::Purge {
            status,
            older_than,
            dry_run,
        }) => {
            let statuses = statuses(&status)?;
            if let Some(live) = statuses
                .iter()
                .find(|s| matches!(s, Status::Working | Status::InputRequired))
            {
                anyhow::bail!(
                    "purge deletes finished tasks only (completed, failed, cancelled), not {}: \
                     cancel them first",
                    view::status_name(*live)
                );
            }
            let filter = Filter {
                statuses,
                created_before: Some(now.saturating_sub(admin::parse_age(&older_than)?)),
                ..Filter::default()
            };
            let doomed = admin.all(&filter).await?;
            for task in &doomed {
                if !dry_run {
                    admin.purge(&task.id).await?;
                }
                println!(
                    "{} {}",
                    if dry_run { "would purge" } else { "purged" },
                    task.id
                );
            }
            eprintln!(
                "{} {} task(s)",
                if dry_run { "would purge" } else { "purged" },
                doomed.len()
            );
        }
    }
    Ok(())
}
