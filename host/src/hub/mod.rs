//! The hub: what the clients of one transport share, carrying out what the component decides.
//!
//! The component decides every status and every reply; the hub only runs tools ([`runs`]), holds
//! `tasks/result` requests until their task changes and carries out each answer's actions
//! ([`requests`]), passes tools' questions and the clients' answers between them, keeps
//! subscriptions and sweeps ([`watch`]), and hands messages to each client's outbox. Transports
//! feed it; it knows none of them.

mod requests;
mod runs;
mod watch;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::{Notify, broadcast, oneshot};
use tokio_util::sync::CancellationToken;

use crate::bindings::exports::mcp::tasks::router::Context;
use crate::component::Guest;
use crate::limits::Limits;
use crate::outbox::Outbox;
use crate::tools::Catalog;
use crate::util::{lock, now_ms};
pub(crate) use requests::{Places, answer_error};
use runs::RunHandle;
use watch::Subscription;

/// The JSON-RPC error code of a waiting request the server stopped before answering it (at the
/// end of input, SIGTERM or Ctrl-C, once the drain is over): -32000, a server error, as the
/// component answers a stopped tool's call with (see the WIT's `tool-released`).
pub(crate) const SERVER_STOPPING: i32 = -32000;

/// How many change events a waiting `tasks/result` may fall behind before it simply re-checks.
const CHANGED_BACKLOG: usize = 1024;

/// One client as the component sees it: who it is, its session, and where its messages go.
/// Over stdio there is one for the whole connection; over HTTP, one for each request.
pub(crate) struct Peer {
    /// Tells this peer's subscriptions from another's with the same request ID.
    pub(crate) id: u64,
    pub(crate) owner: String,
    /// The component's session state (legacy era), shared by the requests of one session.
    pub(crate) session: Arc<Mutex<String>>,
    /// Whether server-to-client requests can be written to this client at any time.
    pub(crate) push: bool,
    /// Tells this client's request IDs from another's (see the WIT's `context.client`).
    pub(crate) client: String,
    /// How its messages come, for a task's history (see the WIT's `context.transport`).
    pub(crate) transport: &'static str,
    pub(crate) outbox: Outbox,
}

impl Peer {
    /// A client nobody hears: for work that answers no client (a worker, the sweep of a server
    /// with many clients), acting as `owner`.
    pub(crate) fn nowhere(owner: String) -> Arc<Peer> {
        Arc::new(Peer {
            id: 0,
            owner,
            session: Arc::default(),
            push: false,
            client: String::new(),
            transport: "host",
            outbox: Outbox::nowhere(),
        })
    }
}

/// What the clients of one transport share: the component, the running tools, the questions
/// they wait on, the waiting requests and the subscriptions. It carries out what the component
/// decides, for whichever [`Peer`] a message came from.
pub(crate) struct Hub {
    guest: Arc<Guest>,
    catalog: Arc<Catalog>,
    executor: String,
    /// Task IDs as they change, for the `tasks/result` requests waiting on them.
    changed: broadcast::Sender<String>,
    /// Each running tool, by run token.
    runs: Mutex<HashMap<String, RunHandle>>,
    /// Where the answer to each pending question goes, by run token and question key.
    questions: Mutex<HashMap<(String, String), oneshot::Sender<Value>>>,
    /// The `subscriptions/listen` streams, by peer and subscription name.
    subscriptions: Mutex<HashMap<(u64, String), Subscription>>,
    pub(crate) shutdown: CancellationToken,
    tool_tasks: tokio_util::task::TaskTracker,
    /// Whether the last sweep may have left tasks waiting for a host (it claimed as many as it
    /// had room for): then each run that ends here asks for a sweep at once.
    backlog: AtomicBool,
    /// Wakes the sweeper before its next tick.
    sweep_soon: Notify,
    /// Whether this host drains before it stops: its sweeps claim nothing more.
    draining: AtomicBool,
    /// Ends a drain under way at once ([`Server::hurry`](crate::Server::hurry)).
    hurry: CancellationToken,
}

/// What a server's transports need to run hubs: its component and tools, its identity among
/// the hosts sharing the store, its owner and its bounds; and the serve loop they all run in.
pub(crate) struct Runner {
    pub(crate) guest: Arc<Guest>,
    pub(crate) catalog: Arc<Catalog>,
    /// This server among those sharing a store: `<host name>/<random UUID>`, so a task's
    /// executor says where it ran.
    pub(crate) executor: String,
    /// The owner of every task when callers are not told apart (stdio, HTTP without auth).
    pub(crate) owner: String,
    /// What the server refuses beyond, per caller.
    pub(crate) limits: Limits,
    /// Cancelled to end the drains under way at once (a second stop signal).
    pub(crate) hurry: CancellationToken,
}

impl Runner {
    /// The serve loop every transport runs in: a hub for the transport's clients and its sweeper
    /// (whose messages go to `sweeps_to`), the transport fed until its future ends (a transport
    /// drains its hub's runs before it ends: see [`Hub::drain_runs`]), then the same shutdown for
    /// all: waiting requests end, tools still running are stopped and waited for.
    pub(crate) async fn serve_loop<F: Future>(
        &self,
        sweeps_to: Arc<Peer>,
        transport: impl FnOnce(Arc<Hub>) -> F,
    ) -> F::Output {
        let hub = Hub::new(
            self.guest.clone(),
            self.catalog.clone(),
            self.executor.clone(),
            self.hurry.clone(),
        );
        let sweeper = tokio::spawn(hub.clone().sweep_periodically(sweeps_to));
        let served = transport(hub.clone()).await;
        hub.shutdown.cancel();
        sweeper.abort();
        hub.finish().await;
        served
    }
}

impl Hub {
    /// Whether the store reads in this process's memory: then pipelined lines cross into the
    /// component together.
    pub(crate) fn reads_locally(&self) -> bool {
        self.guest.reads_locally()
    }

    /// A hub for one transport's clients, sharing a server's component and tools; the tasks whose
    /// tools it runs are leased to `executor`; `hurry` ends its drain at once.
    pub(crate) fn new(
        guest: Arc<Guest>,
        catalog: Arc<Catalog>,
        executor: String,
        hurry: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Hub {
            guest,
            catalog,
            executor,
            changed: broadcast::channel(CHANGED_BACKLOG).0,
            runs: Mutex::new(HashMap::new()),
            questions: Mutex::new(HashMap::new()),
            subscriptions: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            tool_tasks: tokio_util::task::TaskTracker::new(),
            backlog: AtomicBool::new(false),
            sweep_soon: Notify::new(),
            draining: AtomicBool::new(false),
            hurry,
        })
    }

    fn ctx(&self, peer: &Peer) -> Context {
        Context {
            owner: peer.owner.clone(),
            now: now_ms(),
            session: lock(&peer.session).clone(),
            executor: self.executor.clone(),
            push: peer.push,
            client: peer.client.clone(),
            transport: peer.transport.into(),
        }
    }

    /// The component it calls.
    pub(crate) fn guest(&self) -> Arc<Guest> {
        self.guest.clone()
    }

    /// This host's identity among those sharing the store.
    pub(crate) fn executor(&self) -> String {
        self.executor.clone()
    }

    /// How many tools run here for calls of this owner.
    pub(crate) fn runs_of(&self, owner: &str) -> usize {
        lock(&self.runs)
            .values()
            .filter(|r| r.owner == owner)
            .count()
    }

    /// The input schema of a tool, for transports that check arguments against it.
    pub(crate) fn input_schema(&self, tool: &str) -> Option<Value> {
        let tool = self.catalog.get(tool)?;
        serde_json::from_str(&tool.info().input_schema).ok()
    }

    /// How long a 2025-11-25 call of this tool keeps its SSE stream open (see
    /// [`Tool::stream_close_after`](crate::Tool::stream_close_after)).
    pub(crate) fn stream_close_after(&self, tool: &str) -> Option<std::time::Duration> {
        self.catalog.get(tool)?.stream_close_after()
    }

    /// The peer's stream has closed: its subscriptions end.
    pub(crate) fn forget(&self, peer_id: u64) {
        lock(&self.subscriptions).retain(|(id, _), _| *id != peer_id);
    }

    /// Stop every tool and wait for them to end.
    pub(crate) async fn finish(&self) {
        self.shutdown.cancel();
        self.stop_all_runs();
        lock(&self.subscriptions).clear();
        self.tool_tasks.close();
        self.tool_tasks.wait().await;
    }
}
