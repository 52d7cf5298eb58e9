//! The live dashboard in a real browser: Debian's headless Chromium, driven over WebDriver
//! (chromedriver), against `mcp-tasks admin --http` on a SQLite file that a stdio server shares.
//! The page loads nothing from elsewhere, shows a new task without a reload, filters by status,
//! opens a task's detail with its history, and its cancel button cancels (after a confirm).

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_tasks_e2e::{Server, binary, collect_stderr, read_pids, root, tempdir, wait_until_dead};
use serde_json::{Value, json};

const TOOLS: &str = r#"
[server]
poll_interval_ms = 100

[[tools]]
name = "echo"
description = "Print the text"
command = ["sh", "-c", 'echo "$0"', "{text}"]
task_support = "optional"
input_schema = { type = "object", properties = { text = { type = "string" } }, required = ["text"] }

[[tools]]
name = "hang"
description = "Record the PID and never finish"
command = ["sh", "-c", 'echo $$ > "$0"; exec sleep 300', "$DIR/hang.pid"]
task_support = "optional"
grace_secs = 0.2
"#;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One WebDriver session.
struct Browser {
    base: String,
    agent: ureq::Agent,
    _driver: Killed,
}

impl Browser {
    fn start() -> Browser {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "{CHROMIUM} and {CHROMEDRIVER} are needed (Debian's chromium and chromium-driver; \
             .ci/setup installs them)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Killed(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut browser = Browser {
            base: format!("http://127.0.0.1:{port}"),
            agent,
            _driver: driver,
        };
        let start = Instant::now();
        let ready = |b: &Browser| {
            b.agent
                .get(format!("{}/status", b.base))
                .call()
                .is_ok_and(|r| r.status() == 200)
        };
        while !ready(&browser) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let session = browser.call(
            "POST",
            "/session",
            Some(json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1400,1000"]
                }
            }}})),
        );
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"));
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    /// A WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = match body {
            Some(body) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.to_string()),
            None if method == "DELETE" => self.agent.delete(&url).call(),
            None => self.agent.get(&url).call(),
        }
        .expect("WebDriver request");
        let mut text = String::new();
        response
            .body_mut()
            .as_reader()
            .read_to_string(&mut text)
            .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        value.get("value").cloned().unwrap_or(value)
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The element `css` selects, once it exists.
    fn element(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let found = self.call(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            );
            if let Some(id) = found.as_object().and_then(|o| o.values().next()?.as_str()) {
                return id.to_string();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {css}: {found}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Wait until `script` returns true.
    fn until(&self, what: &str, script: &str, patience: Duration) -> Duration {
        let start = Instant::now();
        while self.script(script) != json!(true) {
            assert!(start.elapsed() < patience, "{what}");
            std::thread::sleep(Duration::from_millis(25));
        }
        start.elapsed()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.call("DELETE", "", None);
    }
}

/// `mcp-tasks admin --http 127.0.0.1:0 --store STORE`, and its address.
fn dashboard(store: &str) -> (Killed, String) {
    dashboard_with(store, &[])
}

/// [`dashboard`], with these arguments too.
fn dashboard_with(store: &str, extra: &[&str]) -> (Killed, String) {
    let mut child = Command::new(binary())
        .args([
            "admin",
            "--store",
            store,
            "--as",
            "ops",
            "--http",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcp-tasks admin --http");
    let log = collect_stderr(&mut child);
    let start = Instant::now();
    loop {
        let text = log.lock().unwrap().clone();
        if let Some(addr) = text
            .lines()
            .find(|l| l.contains("serving the dashboard"))
            .and_then(|l| l.split("addr=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
        {
            return (Killed(child), addr.to_string());
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_dashboard_shows_and_steers_tasks_live_in_a_real_browser() {
    let dir = tempdir::Dir::new();
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    let mut alice = Server::start(TOOLS, &["--owner", "alice", "--store", &store]);
    alice.initialize();
    let done = alice.create_task("echo", json!({ "text": "hi" }));
    alice.poll_task(&done, "completed", |t| t["status"] == "completed");

    let (_dashboard, addr) = dashboard(&store);
    let browser = Browser::start();
    let url = format!("http://{addr}/");
    browser.call("POST", "/url", Some(json!({ "url": url })));
    browser.until(
        "the page never went live",
        "return document.getElementById('live').textContent === 'live'",
        Duration::from_secs(10),
    );
    browser.until(
        "the completed task is not listed",
        &format!("return !!document.querySelector('tr[data-id=\"{done}\"]')"),
        Duration::from_secs(5),
    );
    // Mark this page: a reload would lose the mark.
    browser.script("window.sameLoad = true; return true");

    // A task a client creates appears without a reload, within 2 s.
    let hang = alice.create_task("hang", json!({}));
    let pid = read_pids(&alice.dir.path().join("hang.pid"), 1);
    let took = browser.until(
        "the new task did not appear within 2 s",
        &format!("return !!document.querySelector('tr[data-id=\"{hang}\"]')"),
        Duration::from_secs(2),
    );
    eprintln!("the new task appeared after {took:?}");
    assert_eq!(
        browser.script("return window.sameLoad === true"),
        json!(true)
    );
    assert_eq!(
        browser.script("return document.querySelector('#count-working b').textContent"),
        json!("1")
    );

    // Filter by status: only the working task is left.
    browser.script(
        "const s = document.getElementById('status'); s.value = 'working'; \
         s.dispatchEvent(new Event('input', { bubbles: true })); return true",
    );
    browser.until(
        "the filter did not apply",
        &format!(
            "const rows = [...document.querySelectorAll('#tasks tbody tr')].map(r => r.dataset.id); \
             return rows.length === 1 && rows[0] === '{hang}'"
        ),
        Duration::from_secs(5),
    );

    // Its detail, with its history.
    browser.click(&format!("tr[data-id=\"{hang}\"]"));
    browser.until(
        "the detail did not open",
        &format!("return document.getElementById('detail-id').textContent === '{hang}'"),
        Duration::from_secs(5),
    );
    let events = browser
        .script("return [...document.querySelectorAll('#timeline li b')].map(b => b.textContent)");
    assert_eq!(events, json!(["created", "attempt-started"]));

    // Cancel, confirmed: the tool stops, the page shows it.
    browser.click("#cancel");
    let alert = browser.call("GET", "/alert/text", None);
    assert!(alert.as_str().is_some_and(|t| t.contains(&hang)), "{alert}");
    browser.call("POST", "/alert/accept", Some(json!({})));
    wait_until_dead(&pid, "the cancelled tool");
    let task = alice.poll_task(&hang, "cancelled", |t| t["status"] == "cancelled");
    assert_eq!(
        task["statusMessage"],
        "The task was cancelled by admin:ops."
    );
    browser.until(
        "the page did not show the cancel",
        "return document.getElementById('detail-status').textContent === 'cancelled'",
        Duration::from_secs(5),
    );

    // Nothing was fetched from anywhere but the dashboard.
    let fetched = browser.script(
        "return performance.getEntriesByType('resource').map(e => e.name)\
         .concat(performance.getEntriesByType('navigation').map(e => e.name))",
    );
    let fetched: Vec<&str> = fetched
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!fetched.is_empty());
    for name in &fetched {
        assert!(name.starts_with(&url), "{name} is not the dashboard's");
    }

    // A screenshot, for the README (docs/dashboard.png is one).
    browser.click("#close");
    browser.script(
        "const s = document.getElementById('status'); s.value = ''; \
         s.dispatchEvent(new Event('input', { bubbles: true })); return true",
    );
    std::thread::sleep(Duration::from_millis(300));
    let png = browser.call("GET", "/screenshot", None);
    let png = png.as_str().expect("a screenshot");
    let out = root().join("target/dashboard.png");
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png)
        .expect("base64");
    std::fs::write(&out, png).unwrap();
}

/// The last entry of the history of the task an API answer holds.
fn last_entry(answer: &Value) -> Value {
    answer["task"]["history"]
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_else(|| panic!("no history: {answer}"))
}

/// `GET`/`POST` a path of `server` with a bearer token: the status and the JSON body.
fn api(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://{addr}{path}");
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut response = match (method, &bearer) {
        ("POST", Some(b)) => agent.post(&url).header("authorization", b).send_empty(),
        ("POST", None) => agent.post(&url).send_empty(),
        (_, Some(b)) => agent.get(&url).header("authorization", b).call(),
        (_, None) => agent.get(&url).call(),
    }
    .expect("HTTP request");
    let mut text = String::new();
    response
        .body_mut()
        .as_reader()
        .read_to_string(&mut text)
        .unwrap();
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn serve_mounts_the_dashboard_for_its_operators_only_on_a_memory_store() {
    let dir = tempdir::Dir::new();
    let tokens = mcp_tasks_e2e::http::tokens_file(dir.path());
    let server = mcp_tasks_e2e::http::HttpServer::start(
        TOOLS,
        &[
            "--auth-tokens",
            tokens.to_str().unwrap(),
            "--admin",
            "--admin-owner",
            "alice",
        ],
    );
    // Bob's task, in the server's memory.
    let created = server.modern(
        Some("bob-token"),
        1,
        "tools/call",
        json!({ "name": "hang", "arguments": {} }),
    );
    let id = created.result()["task"]["taskId"]
        .as_str()
        .or_else(|| created.result()["taskId"].as_str())
        .unwrap_or_else(|| panic!("{created:?}"))
        .to_string();

    // No token: 401; bob is no operator: 403; alice sees every owner's tasks.
    assert_eq!(api(server.addr(), "GET", "/admin/api/summary", None).0, 401);
    assert_eq!(
        api(
            server.addr(),
            "GET",
            "/admin/api/summary",
            Some("bob-token")
        )
        .0,
        403
    );
    let (status, summary) = api(
        server.addr(),
        "GET",
        "/admin/api/summary",
        Some("alice-token"),
    );
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["byStatus"]["working"], 1);
    let (_, listed) = api(
        server.addr(),
        "GET",
        "/admin/api/tasks?owner=bob",
        Some("alice-token"),
    );
    assert_eq!(listed["tasks"][0]["id"], id.as_str());
    // The page loads without a token (it asks for one when the API wants it), and its address
    // without the slash leads to it.
    let (status, page) = api(server.addr(), "GET", "/admin/", None);
    assert_eq!(status, 200);
    assert!(
        page.as_str()
            .is_some_and(|p| p.contains("<title>mcp-tasks</title>"))
    );
    assert_eq!(api(server.addr(), "GET", "/admin", None).0, 200);

    // Alice cancels bob's task; the history says so; bob sees it cancelled.
    let (status, cancelled) = api(
        server.addr(),
        "POST",
        &format!("/admin/api/tasks/{id}/cancel"),
        Some("alice-token"),
    );
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["task"]["status"], "cancelled");
    let last = last_entry(&cancelled);
    assert_eq!(
        (last["event"].as_str(), last["by"].as_str()),
        (Some("status"), Some("admin:alice"))
    );
    let task = server.poll(Some("bob-token"), &id, |t| t["status"] == "cancelled");
    assert_eq!(
        task["statusMessage"],
        "The task was cancelled by admin:alice."
    );
    let (status, again) = api(
        server.addr(),
        "POST",
        &format!("/admin/api/tasks/{id}/cancel"),
        Some("alice-token"),
    );
    assert_eq!(status, 409, "{again}");
}

#[test]
fn the_standalone_dashboard_admits_the_operators_the_servers_tokens_name() {
    let dir = tempdir::Dir::new();
    let tokens = mcp_tasks_e2e::http::tokens_file(dir.path());
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    // Bob's task, running on a server that shares the file.
    let mut server = Server::start(TOOLS, &["--owner", "bob", "--store", &store]);
    server.initialize();
    let id = server.create_task("hang", json!({}));
    let (_dashboard, addr) = dashboard_with(
        &store,
        &[
            "--auth-tokens",
            tokens.to_str().unwrap(),
            "--admin-owner",
            "alice",
        ],
    );

    // The API and the metrics want a token, and an operator's: 401, 403, 200.
    assert_eq!(api(&addr, "GET", "/api/summary", None).0, 401);
    assert_eq!(api(&addr, "GET", "/api/summary", Some("bob-token")).0, 403);
    assert_eq!(api(&addr, "GET", "/api/summary", Some("wrong")).0, 401);
    let (status, summary) = api(&addr, "GET", "/api/summary", Some("alice-token"));
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["byStatus"]["working"], 1);
    assert_eq!(api(&addr, "GET", "/metrics", None).0, 401);
    let (status, metrics) = api(&addr, "GET", "/metrics", Some("alice-token"));
    assert_eq!(status, 200);
    assert!(
        metrics
            .as_str()
            .is_some_and(|m| m.contains("mcp_tasks_queue_running"))
    );
    // The page holds nothing of the store's: it loads without one, and asks for it.
    assert_eq!(api(&addr, "GET", "/", None).0, 200);

    // Alice's cancel is made, and kept in the history, in her name (not the --as operator's).
    let (status, cancelled) = api(
        &addr,
        "POST",
        &format!("/api/tasks/{id}/cancel"),
        Some("alice-token"),
    );
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(last_entry(&cancelled)["by"], "admin:alice");
    let task = server.poll_task(&id, "cancelled", |t| t["status"] == "cancelled");
    assert_eq!(
        task["statusMessage"],
        "The task was cancelled by admin:alice."
    );
}

#[test]
fn the_standalone_dashboard_refuses_to_serve_others_without_tokens_and_operators() {
    let dir = tempdir::Dir::new();
    let tokens = mcp_tasks_e2e::http::tokens_file(dir.path());
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    let refused = |extra: &[&str]| {
        let out = Command::new(binary())
            .args(["admin", "--store", &store])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    assert_eq!(
        refused(&["--http", "0.0.0.0:0"]).trim(),
        "mcp-tasks: error: --http 0.0.0.0:0 is not a loopback address: anyone who reaches it \
         could use this server, so give --auth-tokens or --jwt-issuer (or bind 127.0.0.1)"
    );
    assert_eq!(
        refused(&[
            "--http",
            "127.0.0.1:0",
            "--auth-tokens",
            tokens.to_str().unwrap()
        ])
        .trim(),
        "mcp-tasks: error: the dashboard with authenticated callers needs --admin-owner OWNER: \
         who may operate"
    );
}
