//! A router driven as a host drives it, over an in-memory store that checks every write: the
//! harness of the router's unit tests, its property tests and its fuzzing.

// A fuzzing build (no tests) uses part of the harness only.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod sequence;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::model::{Page, Settings, TaskSupport};

#[derive(Default)]
pub(crate) struct MemStore {
    pub(crate) tasks: RefCell<BTreeMap<String, Task>>,
    /// Conflicts to report before the next update goes through, to exercise the CAS retry.
    pub(crate) conflicts: Cell<u32>,
}

impl Store for MemStore {
    fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        Ok(self.tasks.borrow().get(id).cloned())
    }
    fn create(&self, task: &Task) -> Result<(), StoreError> {
        let mut tasks = self.tasks.borrow_mut();
        if tasks.contains_key(&task.id) {
            return Err(StoreError::AlreadyExists);
        }
        tasks.insert(task.id.clone(), task.clone());
        Ok(())
    }
    fn update(&self, task: &Task, expected: u64) -> Result<(), StoreError> {
        if self.conflicts.get() > 0 {
            self.conflicts.set(self.conflicts.get() - 1);
            return Err(StoreError::Conflict(expected + 1));
        }
        let mut tasks = self.tasks.borrow_mut();
        let stored = tasks.get_mut(&task.id).ok_or(StoreError::NotFound)?;
        if stored.version != expected {
            return Err(StoreError::Conflict(stored.version));
        }
        check_update(stored, task);
        *stored = task.clone();
        Ok(())
    }
    fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let mut all: Vec<Task> = self
            .tasks
            .borrow()
            .values()
            .filter(|t| t.owner == owner && status.is_none_or(|s| t.status == s))
            .cloned()
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let start = match cursor {
            None => 0,
            Some(c) => {
                all.iter()
                    .position(|t| t.id == c)
                    .ok_or(StoreError::InvalidCursor)?
                    + 1
            }
        };
        let rest = &all[start..];
        let page: Vec<Task> = rest.iter().take(limit as usize).cloned().collect();
        let next_cursor = (rest.len() > page.len()).then(|| page.last().unwrap().id.clone());
        Ok(Page {
            tasks: page,
            next_cursor,
        })
    }
    fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.tasks
            .borrow_mut()
            .remove(id)
            .map(|_| ())
            .ok_or(StoreError::NotFound)
    }
    fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError> {
        Ok(self
            .tasks
            .borrow()
            .values()
            .filter(|t| !crate::machine::is_terminal(t.status))
            .filter(|t| t.lease_until.is_some_and(|until| until <= now))
            .map(|t| t.id.clone())
            .take(limit as usize)
            .collect())
    }
    fn expire(&self, now: u64) -> Result<Vec<String>, StoreError> {
        let mut tasks = self.tasks.borrow_mut();
        let gone: Vec<String> = tasks
            .values()
            .filter(|t| t.is_expired(now))
            .map(|t| t.id.clone())
            .collect();
        for id in &gone {
            tasks.remove(id);
        }
        Ok(gone)
    }
}

/// The invariants every write of the router keeps, checked on each update in every test: a
/// version that grows, a status change the state machine allows, a terminal task left as it is
/// (but for an operator's retry linking it to its new task), and the task's identity unchanged.
pub(crate) fn check_update(stored: &Task, new: &Task) {
    assert!(
        new.version > stored.version,
        "version {} → {} of {}",
        stored.version,
        new.version,
        new.id
    );
    // A terminal task never moves: only an operator's retry writes one again, adding the link
    // to the new task (its variables) and saying so in its history.
    if crate::machine::is_terminal(stored.status) {
        let kept = Task {
            version: stored.version,
            variables: stored.variables.clone(),
            history: stored.history.clone(),
            ..new.clone()
        };
        assert_eq!(&kept, stored, "a {:?} task changed", stored.status);
        assert!(
            new.history
                .last()
                .is_some_and(|e| e.event == crate::model::HistoryEvent::Retried),
            "a {:?} task written again: {stored:?} → {new:?}",
            stored.status
        );
    }
    assert!(
        new.status == stored.status || crate::machine::can_transition(stored.status, new.status),
        "illegal {:?} → {:?} of {}",
        stored.status,
        new.status,
        new.id
    );
    assert_eq!(
        (&new.owner, new.created_at, &new.request),
        (&stored.owner, stored.created_at, &stored.request),
        "owner, creation or request changed"
    );
}

pub(crate) struct TestServer {
    pub(crate) page_size: u32,
    /// The host's queue mode and claim limit, as a test sets them.
    pub(crate) queue: Cell<bool>,
    pub(crate) claim_limit: Cell<u32>,
}

impl Server for TestServer {
    fn settings(&self) -> std::borrow::Cow<'_, Settings> {
        std::borrow::Cow::Owned(Settings {
            name: "test".into(),
            version: "1.0".into(),
            instructions: None,
            default_ttl: Some(60_000),
            max_ttl: Some(600_000),
            poll_interval: 500,
            page_size: self.page_size,
            lease: 10_000,
            state_key: "test-secret".into(),
            progress_interval: 100,
            queue: self.queue.get(),
            claim_limit: self.claim_limit.get(),
        })
    }
    fn tools(&self) -> Vec<Tool> {
        ["sleep", "echo", "quick", "pipeline"]
            .iter()
            .filter_map(|n| self.find_tool(n))
            .collect()
    }
    fn find_tool(&self, name: &str) -> Option<Tool> {
        let (support, schema) = match name {
            "sleep" => (
                TaskSupport::Required,
                r#"{"type":"object","required":["secs"]}"#,
            ),
            "echo" => (TaskSupport::Optional, r#"{"type":"object"}"#),
            "quick" => (TaskSupport::Forbidden, r#"{"type":"object"}"#),
            "gather" => (TaskSupport::Required, r#"{"type":"object"}"#),
            "flaky" => (TaskSupport::Optional, r#"{"type":"object"}"#),
            "unique" => (TaskSupport::Optional, r#"{"type":"object"}"#),
            "queued" => (TaskSupport::Optional, r#"{"type":"object"}"#),
            // Workflows: `pipeline` runs echo, flaky, then needs_rows; `broken` names a tool
            // that is not here.
            "pipeline" | "broken" => (TaskSupport::Optional, r#"{"type":"object"}"#),
            "needs_rows" => (
                TaskSupport::Optional,
                r#"{"type":"object","required":["rows"]}"#,
            ),
            _ => return None,
        };
        let steps: Vec<String> = match name {
            "pipeline" => vec!["echo".into(), "flaky".into(), "needs_rows".into()],
            "broken" => vec!["echo".into(), "missing".into()],
            _ => Vec::new(),
        };
        Some(Tool {
            name: name.into(),
            title: None,
            description: Some(format!("the {name} tool")),
            input_schema: schema.into(),
            output_schema: None,
            task_support: support,
            defer_task: name == "gather",
            immediate_response: (name == "sleep").then(|| "Sleeping; the result follows.".into()),
            // `flaky` runs three times at most, a second apart, then two, then four.
            max_attempts: if name == "flaky" { 3 } else { 1 },
            retry_backoff: 1_000,
            dedup_window: (name == "unique").then_some(5_000),
            queue: name == "queued",
            steps,
        })
    }
}

pub(crate) struct Harness {
    pub(crate) store: MemStore,
    pub(crate) server: TestServer,
    pub(crate) owner: RefCell<String>,
    pub(crate) now: Cell<u64>,
    pub(crate) next_id: Cell<u64>,
    /// The connection's session, as the host keeps it from `set-session` actions.
    pub(crate) session: RefCell<String>,
    /// The host this harness plays.
    pub(crate) executor: RefCell<String>,
    /// Whether this host can push requests to its client (stdio).
    pub(crate) push: Cell<bool>,
    /// Which client sends the next message (many clients of one HTTP server).
    pub(crate) client: RefCell<String>,
    /// The keys of the questions `ask` puts.
    pub(crate) next_key: Cell<u64>,
    /// Each run's state, as the host keeps it from `run-tool` and `rename-run`.
    pub(crate) run_states: RefCell<BTreeMap<String, String>>,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with_page_size(50)
    }

    pub(crate) fn with_page_size(page_size: u32) -> Self {
        Self {
            store: MemStore::default(),
            server: TestServer {
                page_size,
                queue: Cell::new(false),
                claim_limit: Cell::new(u32::MAX),
            },
            owner: RefCell::new("alice".into()),
            now: Cell::new(1_764_066_600_000),
            next_id: Cell::new(1),
            session: RefCell::new(String::new()),
            executor: RefCell::new("host-a".into()),
            push: Cell::new(false),
            client: RefCell::new(String::new()),
            next_key: Cell::new(1),
            run_states: RefCell::new(BTreeMap::new()),
        }
    }

    pub(crate) fn ctx(&self) -> Context {
        Context {
            owner: self.owner.borrow().clone(),
            now: self.now.get(),
            session: self.session.borrow().clone(),
            executor: self.executor.borrow().clone(),
            push: self.push.get(),
            client: self.client.borrow().clone(),
            transport: "test".into(),
        }
    }

    pub(crate) fn handle(&self, message: Value) -> Vec<Action> {
        let ctx = self.ctx();
        let actions = Router::new(&self.store, &self.server, &ctx).handle(&message.to_string());
        self.keep(actions)
    }

    /// Keep the session and the runs' states as a host does.
    pub(crate) fn keep(&self, actions: Vec<Action>) -> Vec<Action> {
        for action in &actions {
            let mut states = self.run_states.borrow_mut();
            match action {
                Action::SetSession(session) => *self.session.borrow_mut() = session.clone(),
                Action::RunTool(run) => {
                    states.insert(run.token.clone(), run.state.clone());
                }
                Action::RenameRun { to, state, .. } => {
                    states.insert(to.clone(), state.clone());
                }
                Action::UpdateRun { token, state } => {
                    if let Some(kept) = states.get_mut(token) {
                        kept.clone_from(state);
                    }
                }
                _ => {}
            }
        }
        actions
    }

    /// The run's state, as the host keeps it.
    pub(crate) fn run_state(&self, token: &str) -> String {
        self.run_states
            .borrow()
            .get(token)
            .cloned()
            .unwrap_or_default()
    }

    /// A running tool reports.
    pub(crate) fn report(&self, token: &str, report: Report) -> Vec<Action> {
        let ctx = self.ctx();
        let state = self.run_state(token);
        self.keep(
            Router::new(&self.store, &self.server, &ctx).tool_progress(token, &state, &report),
        )
    }

    /// A running tool reports a status line.
    pub(crate) fn say(&self, token: &str, message: &str) -> Vec<Action> {
        self.report(
            token,
            Report {
                message: Some(message.into()),
                ..Report::default()
            },
        )
    }

    /// Initialize with these client capabilities.
    pub(crate) fn initialize(&self, capabilities: Value) {
        let init = json!({ "protocolVersion": "2025-11-25", "capabilities": capabilities });
        self.call("initialize", init).expect("initialized");
    }

    /// A tool asks one elicitation, keyed `q1`, `q2`, … in turn.
    pub(crate) fn ask(&self, token: &str, question: Value) -> Vec<Action> {
        let key = format!("q{}", self.next_key.get());
        self.next_key.set(self.next_key.get() + 1);
        self.ask_keyed(token, &[(&key, "elicitation/create", question)])
    }

    pub(crate) fn ask_keyed(&self, token: &str, questions: &[(&str, &str, Value)]) -> Vec<Action> {
        let questions: Vec<ToolQuestion> = questions
            .iter()
            .map(|(key, method, params)| ToolQuestion {
                key: key.to_string(),
                method: method.to_string(),
                params: params.to_string(),
            })
            .collect();
        let ctx = self.ctx();
        let state = self.run_state(token);
        self.keep(
            Router::new(&self.store, &self.server, &ctx).tool_input(token, &state, &questions),
        )
    }

    pub(crate) fn status(&self, id: &str) -> (String, Option<String>) {
        let got = self.call("tasks/get", json!({ "taskId": id })).unwrap();
        (
            got["status"].as_str().unwrap().to_string(),
            got["statusMessage"].as_str().map(String::from),
        )
    }

    pub(crate) fn request(&self, method: &str, params: Value) -> Vec<Action> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.handle(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
    }

    /// The single message a request answers with: `Ok(result)` or `Err(error)`.
    pub(crate) fn call(&self, method: &str, params: Value) -> Result<Value, Value> {
        let actions = self.request(method, params);
        response(&actions)
    }

    pub(crate) fn finish(
        &self,
        token: &str,
        outcome: Outcome,
        message: Option<&str>,
    ) -> Vec<Action> {
        let ctx = self.ctx();
        Router::new(&self.store, &self.server, &ctx).tool_finished(
            token,
            outcome,
            message.map(String::from),
        )
    }

    /// Create a task on the `echo` tool; its ID and run token.
    pub(crate) fn create(&self, ttl: Option<u64>) -> (String, String) {
        let task = match ttl {
            Some(ttl) => json!({ "ttl": ttl }),
            None => json!({}),
        };
        let actions = self.request("tools/call", json!({ "name": "echo", "task": task }));
        let result = response(&actions).expect("task created");
        let id = result["task"]["taskId"].as_str().unwrap().to_string();
        let Some(Action::RunTool(run)) = actions.get(1) else {
            panic!("no run: {actions:?}")
        };
        assert_eq!(run.task_id.as_deref(), Some(id.as_str()));
        (id, run.token.clone())
    }
}

pub(crate) fn sent(actions: &[Action]) -> Vec<Value> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(m) => Some(serde_json::from_str(&m.message).unwrap()),
            _ => None,
        })
        .collect()
}

pub(crate) fn response(actions: &[Action]) -> Result<Value, Value> {
    let msg = sent(actions)
        .into_iter()
        .find(|m| m.get("result").is_some() || m.get("error").is_some())
        .expect("a response");
    match msg.get("result") {
        Some(r) => Ok(r.clone()),
        None => Err(msg["error"].clone()),
    }
}

pub(crate) fn ok_result(text: &str) -> Outcome {
    Outcome::Result(json!({ "content": [{ "type": "text", "text": text }] }).to_string())
}

pub(crate) fn question() -> Value {
    json!({
        "message": "Deploy to production?",
        "requestedSchema": {
            "type": "object",
            "properties": { "confirm": { "type": "boolean" } },
            "required": ["confirm"]
        }
    })
}

impl Harness {
    pub(crate) fn sweep(&self, running: &[&str]) -> Vec<Action> {
        let ctx = self.ctx();
        let running: Vec<String> = running.iter().map(|t| t.to_string()).collect();
        Router::new(&self.store, &self.server, &ctx).sweep(&running, true)
    }

    /// The sweep of a host that is draining: it claims nothing.
    pub(crate) fn sweep_draining(&self, running: &[&str]) -> Vec<Action> {
        let ctx = self.ctx();
        let running: Vec<String> = running.iter().map(|t| t.to_string()).collect();
        Router::new(&self.store, &self.server, &ctx).sweep(&running, false)
    }

    /// A running tool logs a line.
    pub(crate) fn log(
        &self,
        token: &str,
        level: crate::model::LogLevel,
        data: Value,
    ) -> Vec<Action> {
        let ctx = self.ctx();
        let entry = crate::model::LogEntry {
            level,
            logger: None,
            data: data.to_string(),
        };
        Router::new(&self.store, &self.server, &ctx).tool_log(token, &entry)
    }

    /// The host stops the run `token` at shutdown.
    pub(crate) fn released(&self, token: &str, hand_back: bool) -> Vec<Action> {
        let ctx = self.ctx();
        Router::new(&self.store, &self.server, &ctx).tool_released(token, hand_back)
    }

    pub(crate) fn stored(&self, id: &str) -> Task {
        self.store.tasks.borrow()[id].clone()
    }

    /// A modern request declaring these client capabilities.
    pub(crate) fn modern(
        &self,
        method: &str,
        mut params: Value,
        capabilities: Value,
    ) -> Vec<Action> {
        // Beside what the test put there (a progress token).
        let meta = params["_meta"].take();
        let mut meta = meta.as_object().cloned().unwrap_or_default();
        meta.insert(
            "io.modelcontextprotocol/protocolVersion".into(),
            json!("2026-07-28"),
        );
        meta.insert(
            "io.modelcontextprotocol/clientCapabilities".into(),
            capabilities,
        );
        params["_meta"] = Value::Object(meta);
        self.request(method, params)
    }

    /// A modern request declaring the tasks extension (and elicitation and sampling).
    pub(crate) fn with_tasks(&self, method: &str, params: Value) -> Vec<Action> {
        self.modern(method, params, tasks_caps())
    }
}

/// What a client that speaks the tasks extension (and answers elicitation and sampling)
/// declares.
pub(crate) fn tasks_caps() -> Value {
    json!({
        "extensions": { "io.modelcontextprotocol/tasks": {} },
        "elicitation": {},
        "sampling": {},
    })
}
