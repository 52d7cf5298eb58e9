//! The server: its builder, and the one serve loop every transport runs in (a hub and its
//! sweeper, the transport fed until it ends, then the same shutdown for all).

use std::sync::Arc;

use tokio::io::{AsyncBufRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::cache::CompileCache;
use crate::component::{ComponentSource, Guest, GuestError};
use crate::hub::{Peer, Runner};
use crate::store::{MemoryStore, TaskStore};
use crate::tools::{Catalog, Tool, default_settings};
use crate::transport::http::{HttpError, HttpOptions};
use crate::transport::{self, Limits};
use crate::types::Settings;
use crate::util::{hostname, os_user};

/// Builds a [`Server`]: its store, tools, settings, owner and component.
pub struct ServerBuilder {
    store: Arc<dyn TaskStore>,
    tools: Vec<Arc<dyn Tool>>,
    settings: Settings,
    owner: String,
    component: ComponentSource,
    cache: CompileCache,
    limits: Limits,
}

impl ServerBuilder {
    /// Keep tasks in this store (default: a fresh [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn TaskStore>) -> Self {
        self.store = store;
        self
    }

    /// Offer this tool.
    pub fn tool(mut self, tool: Arc<dyn Tool>) -> Self {
        self.tools.push(tool);
        self
    }

    /// Offer these tools.
    pub fn tools(mut self, tools: impl IntoIterator<Item = Arc<dyn Tool>>) -> Self {
        self.tools.extend(tools);
        self
    }

    /// Use these settings (identity, ttl limits, poll interval, page size).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Create tasks for, and show tasks only to, this owner (default: the OS user).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// Run this component instead of the embedded one.
    pub fn component(mut self, component: ComponentSource) -> Self {
        self.component = component;
        self
    }

    /// Keep the compiled component here (default: [`CompileCache::from_env`]).
    pub fn compile_cache(mut self, cache: CompileCache) -> Self {
        self.cache = cache;
        self
    }

    /// Refuse beyond these limits when serving stdio ([`Server::serve`]; HTTP takes its own from
    /// [`HttpOptions`](crate::transport::http::HttpOptions)), and drain for their `drain` when
    /// stdio or a worker ([`Server::work_until`]) stops. Default: [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Compile the component (or load it from the compile cache) and make the server.
    pub fn build(self) -> Result<Server, GuestError> {
        let catalog = Arc::new(Catalog::new(self.settings, self.tools));
        let guest = Guest::load(&self.component, &self.cache, self.store, catalog.clone())?;
        Ok(Server {
            runner: Runner {
                guest: Arc::new(guest),
                catalog,
                owner: self.owner,
                executor: format!("{}/{}", hostname(), uuid::Uuid::new_v4()),
                limits: self.limits,
                hurry: Default::default(),
            },
        })
    }
}

/// An MCP server whose task logic runs in the component.
pub struct Server {
    runner: Runner,
}

impl Server {
    /// A builder with the defaults: memory store, no tools, default settings, the OS user as
    /// owner, the embedded component, the compile cache the environment names.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            store: Arc::new(MemoryStore::new()),
            tools: Vec::new(),
            settings: default_settings(),
            owner: os_user(),
            component: ComponentSource::embedded(),
            cache: CompileCache::from_env(),
            limits: Limits::default(),
        }
    }

    /// Serve one connection of newline-delimited JSON-RPC until `input` ends.
    ///
    /// Requests run concurrently; all output goes through one writer, so messages never
    /// interleave. At the end of input, requests already read are answered, waiting
    /// `tasks/result` requests and running tools are stopped, and the output is flushed.
    pub async fn serve<R, W>(&self, input: R, output: W) -> std::io::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_until(input, output, std::future::pending())
            .await
    }

    /// [`serve`](Self::serve), but also ending, the same way, when `stop` completes (e.g. on
    /// SIGTERM); an error from `stop` is returned after the shutdown.
    pub async fn serve_until<R, W>(
        &self,
        input: R,
        output: W,
        stop: impl Future<Output = std::io::Result<()>>,
    ) -> std::io::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        transport::stdio::serve(&self.runner, input, output, stop).await
    }

    /// [`serve_until`](Self::serve_until) this process's standard input and output: what an MCP
    /// client that starts the server as a command speaks to. Where they are pipes, they are read
    /// and written without a blocking thread in between.
    ///
    /// Spawn it on a multi-threaded runtime (`tokio::spawn`) rather than `block_on` it: the
    /// requests it spawns then start on the runtime's workers instead of each waking one from
    /// outside.
    pub async fn serve_stdio_until(
        &self,
        stop: impl Future<Output = std::io::Result<()>>,
    ) -> std::io::Result<()> {
        let (input, output, _restore) = transport::stdio::process_streams();
        self.serve_until(input, output, stop).await
    }

    /// Work as a worker until `stop` completes: take no calls, but claim tasks waiting for a run
    /// in the store (queued by servers running with `queue` set, waiting for their next
    /// attempt, lost with a host that died, or handed back by one that stopped) and run their
    /// tools, as many at once as the settings' `claim_limit`. Cancels, questions and answers
    /// reach its tools through the store, as for any host sharing it.
    ///
    /// At `stop` it drains: it claims no more tasks, lets its running tools finish for up to
    /// the limits' `drain` (or until [`hurry`](Self::hurry)), then stops those still running and
    /// hands their tasks back to wait for another host, without spending an attempt.
    pub async fn work_until(
        &self,
        stop: impl Future<Output = std::io::Result<()>>,
    ) -> std::io::Result<()> {
        // A worker has no client: what its runs would send has nowhere to go (clients poll).
        let nobody = Peer::nowhere(self.runner.owner.clone());
        let drain = self.runner.limits.drain;
        self.runner
            .serve_loop(nobody, |hub| async move {
                let stopped = stop.await;
                hub.drain_runs(tokio::time::Instant::now() + drain).await;
                stopped
            })
            .await
    }

    /// End the drain under way at once, rather than after its period (see [`Limits::drain`]):
    /// what a second SIGTERM or Ctrl-C does. The tools still running are stopped at once, their
    /// calls answered and their tasks handed back (or failed), as at the end of a drain. Before a
    /// stop it makes the coming drain end at once.
    pub fn hurry(&self) {
        self.runner.hurry.cancel();
    }

    /// Serve MCP over Streamable HTTP on `listener` until `stop` completes; then stop taking
    /// requests, end open streams, stop running tools and return.
    pub async fn serve_http(
        &self,
        listener: TcpListener,
        options: HttpOptions,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HttpError> {
        transport::http::serve(&self.runner, listener, options, stop).await
    }
}
