//! Sequences of steps a host and its clients take — calls of every kind of tool from two owners
//! in both eras, polls, cancels, answers, tools that report, ask and finish, time passing,
//! sweeps, and messages of any shape — run against the router with every write checked. The
//! property tests generate them (`tests/properties.rs`); the fuzzer decodes them from its bytes
//! (`crate::fuzzing`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

pub(crate) const OWNERS: [&str; 2] = ["alice", "bob"];
pub(crate) const TOOLS: [&str; 10] = [
    "echo",
    "sleep",
    "flaky",
    "gather",
    "unique",
    "queued",
    "pipeline",
    "broken",
    "quick",
    "needs_rows",
];
/// The keys random params are made of: those the methods read, and a few more.
pub(crate) const KEYS: [&str; 17] = [
    "taskId",
    "name",
    "task",
    "ttl",
    "cursor",
    "_meta",
    "arguments",
    "inputResponses",
    "status",
    "protocolVersion",
    "capabilities",
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
    "extensions",
    "io.modelcontextprotocol/tasks",
    "requestId",
    "progressToken",
];
pub(crate) const METHODS: [&str; 12] = [
    "initialize",
    "server/discover",
    "tools/list",
    "tools/call",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tasks/cancel",
    "tasks/update",
    "notifications/cancelled",
    "ping",
    "resources/list",
];

#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// A `tools/call` as a task (or not, as the tool and the era decide).
    Call {
        owner: usize,
        tool: usize,
        modern: bool,
        ttl: Option<u32>,
    },
    Get {
        owner: usize,
        task: usize,
        modern: bool,
    },
    Cancel {
        owner: usize,
        task: usize,
        modern: bool,
    },
    List {
        owner: usize,
        cursor: Option<usize>,
    },
    Result {
        owner: usize,
        task: usize,
    },
    /// A 2026-07-28 answer to the question keyed `q{key}`.
    Update {
        owner: usize,
        task: usize,
        key: u8,
    },
    /// A 2025-11-25 client answers a request the server sent it.
    Reply {
        owner: usize,
        request: usize,
        accept: bool,
    },
    Finish {
        run: usize,
        outcome: u8,
    },
    Report {
        run: usize,
    },
    Ask {
        run: usize,
    },
    Advance {
        ms: u32,
    },
    /// The host sweeps, its runs alive or lost with a host that died.
    Sweep {
        owner: usize,
        alive: bool,
    },
    /// Whether the connection can push requests to its client (stdio) or not (HTTP).
    Push(bool),
    /// Any method with any params.
    Raw {
        owner: usize,
        method: usize,
        params: Value,
    },
    /// A line that may not be JSON-RPC at all.
    Junk(String),
}

/// What the test knows of the world as it drives the router.
pub(crate) struct World {
    h: Harness,
    /// Every task ever created, and its owner.
    tasks: Vec<(String, usize)>,
    /// The tools running now: their run token, and the owner of the connection that started
    /// them, whose context the host hands the component for everything the run does.
    runs: Vec<(String, usize)>,
    /// Requests the server sent a client (legacy questions): their ID and the owner asked.
    requests: Vec<(Value, usize)>,
}

impl World {
    fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
        (!items.is_empty()).then(|| items[i % items.len()].clone())
    }

    fn task(&self, i: usize) -> String {
        // Now and then a task that does not exist.
        Self::pick(&self.tasks, i)
            .filter(|_| !i.is_multiple_of(11))
            .map_or_else(|| "no-such-task".into(), |(id, _)| id)
    }

    fn as_owner(&self, owner: usize) {
        *self.h.owner.borrow_mut() = OWNERS[owner].into();
    }

    fn request(&self, owner: usize, modern: bool, method: &str, params: Value) -> Vec<Action> {
        self.as_owner(owner);
        if modern {
            self.h.with_tasks(method, params)
        } else {
            self.h.request(method, params)
        }
    }

    fn apply(&mut self, op: &Op) -> (usize, Vec<Action>) {
        let by = |owner: usize, actions: Vec<Action>| (owner, actions);
        match op.clone() {
            Op::Call {
                owner,
                tool,
                modern,
                ttl,
            } => {
                let mut params = json!({
                    "name": TOOLS[tool],
                    "arguments": { "secs": 1, "rows": 3, "n": owner },
                });
                if !modern {
                    params["task"] = ttl.map_or(json!({}), |ttl| json!({ "ttl": ttl }));
                }
                by(owner, self.request(owner, modern, "tools/call", params))
            }
            Op::Get {
                owner,
                task,
                modern,
            } => {
                let params = json!({ "taskId": self.task(task) });
                by(owner, self.request(owner, modern, "tasks/get", params))
            }
            Op::Cancel {
                owner,
                task,
                modern,
            } => {
                let params = json!({ "taskId": self.task(task) });
                by(owner, self.request(owner, modern, "tasks/cancel", params))
            }
            Op::List { owner, cursor } => {
                let params = match cursor {
                    Some(i) => json!({ "cursor": self.task(i) }),
                    None => json!({}),
                };
                by(owner, self.request(owner, false, "tasks/list", params))
            }
            Op::Result { owner, task } => {
                let params = json!({ "taskId": self.task(task) });
                by(owner, self.request(owner, false, "tasks/result", params))
            }
            Op::Update { owner, task, key } => {
                let params = json!({
                    "taskId": self.task(task),
                    "inputResponses": {
                        format!("q{key}"): { "action": "accept", "content": { "confirm": true } }
                    },
                });
                by(owner, self.request(owner, true, "tasks/update", params))
            }
            Op::Reply {
                owner,
                request,
                accept,
            } => {
                let Some((id, _)) = Self::pick(&self.requests, request) else {
                    return (owner, Vec::new());
                };
                self.as_owner(owner);
                let result = if accept {
                    json!({ "action": "accept", "content": { "confirm": true } })
                } else {
                    json!({ "action": "decline" })
                };
                by(
                    owner,
                    self.h
                        .handle(json!({ "jsonrpc": "2.0", "id": id, "result": result })),
                )
            }
            Op::Finish { run, outcome } => {
                let Some((token, owner)) = Self::pick(&self.runs, run) else {
                    return (0, Vec::new());
                };
                self.as_owner(owner);
                self.runs.retain(|(t, _)| *t != token);
                let outcome = match outcome {
                    0 | 1 => ok_result("done"),
                    2 => Outcome::Result(
                        json!({ "content": [{ "type": "text", "text": "no" }], "isError": true })
                            .to_string(),
                    ),
                    _ => Outcome::Error(RpcError {
                        code: -32000,
                        message: "failed".into(),
                        data: None,
                    }),
                };
                (
                    owner,
                    self.h.keep(self.h.finish(&token, outcome, Some("bye"))),
                )
            }
            Op::Report { run } => match Self::pick(&self.runs, run) {
                Some((token, owner)) => {
                    self.as_owner(owner);
                    (owner, self.h.say(&token, "halfway"))
                }
                None => (0, Vec::new()),
            },
            Op::Ask { run } => match Self::pick(&self.runs, run) {
                Some((token, owner)) => {
                    self.as_owner(owner);
                    (owner, self.h.ask(&token, question()))
                }
                None => (0, Vec::new()),
            },
            Op::Advance { ms } => {
                self.h.now.set(self.h.now.get() + u64::from(ms));
                (0, Vec::new())
            }
            Op::Sweep { owner, alive } => {
                // A sweep runs with the context of the connection it serves (stdio: its owner).
                self.as_owner(owner);
                let running: Vec<&str> = if alive {
                    self.runs.iter().map(|(t, _)| t.as_str()).collect()
                } else {
                    Vec::new()
                };
                let actions = self.h.keep(self.h.sweep(&running));
                if !alive {
                    self.runs.clear();
                }
                (owner, actions)
            }
            Op::Push(push) => {
                self.h.push.set(push);
                (0, Vec::new())
            }
            Op::Raw {
                owner,
                method,
                params,
            } => {
                self.as_owner(owner);
                by(owner, self.h.request(METHODS[method], params))
            }
            Op::Junk(line) => {
                self.as_owner(0);
                let ctx = self.h.ctx();
                (
                    0,
                    Router::new(&self.h.store, &self.h.server, &ctx).handle(&line),
                )
            }
        }
    }

    /// Learn the tasks, runs and requests the actions started, and check what they tell `owner`.
    fn observe(&mut self, owner: usize, actions: &[Action]) {
        let owners: BTreeMap<String, String> = self
            .h
            .store
            .tasks
            .borrow()
            .values()
            .map(|t| (t.id.clone(), t.owner.clone()))
            .collect();
        for (id, owner) in &owners {
            if !self.tasks.iter().any(|(known, _)| known == id) {
                let index = OWNERS.iter().position(|o| o == owner).unwrap_or(0);
                self.tasks.push((id.clone(), index));
            }
        }
        for action in actions {
            match action {
                Action::RunTool(run) => self.runs.push((run.token.clone(), owner)),
                Action::RenameRun { from, to, .. } => {
                    if let Some(run) = self.runs.iter_mut().find(|(t, _)| t == from) {
                        run.0.clone_from(to);
                    }
                }
                Action::StopTool(token) => self.runs.retain(|(t, _)| t != token),
                Action::Send(outgoing) => {
                    let message = &outgoing.message;
                    let Ok(sent) = serde_json::from_str::<Value>(message) else {
                        panic!("not JSON: {message}");
                    };
                    check_outgoing(outgoing, &sent);
                    if sent.get("method").is_some()
                        && let Some(id) = sent.get("id")
                    {
                        self.requests.push((id.clone(), owner));
                    }
                    // Nothing sent to this owner's client names another owner's task.
                    for (id, task_owner) in &self.tasks {
                        assert!(
                            *task_owner == owner || !message.contains(id.as_str()),
                            "{} was shown {}'s task {id}: {message}",
                            OWNERS[owner],
                            OWNERS[*task_owner]
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

/// What the router says of a message is what the message is: its kind, the request it answers,
/// and the HTTP status of an error.
fn check_outgoing(outgoing: &crate::model::Outgoing, sent: &Value) {
    use crate::model::MessageKind;
    let (id, method) = (sent.get("id"), sent.get("method"));
    let kind = match (id, method) {
        (Some(_), Some(_)) => MessageKind::Request,
        (None, Some(_)) => MessageKind::Notification,
        (_, None) => MessageKind::Response,
    };
    assert_eq!(outgoing.kind, kind, "{outgoing:?}");
    let answers = id
        .filter(|_| kind == MessageKind::Response)
        .map(Value::to_string);
    assert_eq!(outgoing.answers, answers, "{outgoing:?}");
    let status = match sent.pointer("/error/code").and_then(Value::as_i64) {
        Some(-32022..=-32020) => 400,
        Some(-32601) => 404,
        // A modern request without its capabilities: an envelope the version cannot read.
        Some(-32602)
            if outgoing
                .message
                .contains("request carries io.modelcontextprotocol/clientCapabilities") =>
        {
            400
        }
        _ => 200,
    };
    assert_eq!(outgoing.http_status, status, "{outgoing:?}");
}

/// Run `ops` from a fresh harness; panics at the first broken invariant. However the sequence
/// ended, a sweep by a host whose runs all died, long after every lease and TTL, leaves no
/// expired task behind and no task that is neither finished nor leased to a run it has just
/// started.
pub(crate) fn run(ops: &[Op]) {
    let mut world = World {
        h: Harness::new(),
        tasks: Vec::new(),
        runs: Vec::new(),
        requests: Vec::new(),
    };
    world.h.initialize(json!({ "elicitation": {} }));
    for op in ops {
        let (owner, actions) = world.apply(op);
        world.observe(owner, &actions);
    }
    let now = world.h.now.get() + 3_600_000;
    world.h.now.set(now);
    world.as_owner(0);
    let actions = world.h.keep(world.h.sweep(&[]));
    world.observe(0, &actions);
    for task in world.h.store.tasks.borrow().values() {
        assert!(!task.is_expired(now), "expired and kept: {task:?}");
        assert!(
            crate::machine::is_terminal(task.status)
                || task.lease_until.is_some_and(|until| until > now),
            "stuck: {task:?}"
        );
    }
}
