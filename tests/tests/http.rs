//! `mcp-tasks serve --http` through the real binary: callers as owners (bearer tokens and JWTs),
//! DNS-rebinding protection, 2025-11-25 sessions with their streams, 2026-07-28 header checks,
//! limits, and replicas sharing one PostgreSQL.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_tasks_e2e::http::HttpServer;
use mcp_tasks_e2e::root;
use serde_json::{Value, json};

const TOOLS: &str = r#"
[server]
poll_interval_ms = 100

[[tools]]
name = "greet"
command = ["sh", "-c", 'printf "hello, %s" "$0"', "{name}"]
task_support = "optional"
input_schema = { type = "object", properties = { name = { type = "string" } }, required = ["name"] }

[[tools]]
name = "wait"
command = ["sleep", "30"]
task_support = "optional"
grace_secs = 0.2

[[tools]]
name = "hang"
command = ["sh", "-c", "echo $$ > $DIR/hang.pid; exec sleep 30"]
task_support = "forbidden"

[[tools]]
name = "confirm"
command = ["sh", "-c", '''
read args
echo '{"message":"Proceed?","requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}' >&3
read answer
echo "answer: $answer"
''']
task_support = "optional"
questions = true
"#;

fn with_tokens() -> HttpServer {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let tokens = mcp_tasks_e2e::http::tokens_file(dir.path());
    let server = HttpServer::start(TOOLS, &["--auth-tokens", tokens.to_str().unwrap()]);
    drop(dir); // The server read the file at start.
    server
}

#[test]
fn each_caller_owns_its_tasks_and_sees_no_other() {
    let server = with_tokens();
    let created = server.modern(
        Some("alice-token"),
        1,
        "tools/call",
        json!({ "name": "wait", "arguments": {} }),
    );
    assert_eq!(created.status, 200, "{created:?}");
    let task_id = created.result()["taskId"].as_str().unwrap().to_string();
    let get = json!({ "taskId": task_id });

    let mine = server.modern(Some("alice-token"), 2, "tasks/get", get.clone());
    assert_eq!(mine.result()["status"], "working");
    // Bob gets exactly what a task that does not exist gets.
    let theirs = server.modern(Some("bob-token"), 3, "tasks/get", get.clone());
    let none = server.modern(
        Some("bob-token"),
        3,
        "tasks/get",
        json!({ "taskId": "no-such-task" }),
    );
    assert_eq!(theirs.error_code(), -32602);
    assert_eq!(
        theirs.answer()["error"]["message"],
        none.answer()["error"]["message"]
    );
    let cancel = server.modern(Some("bob-token"), 4, "tasks/cancel", get.clone());
    assert_eq!(cancel.error_code(), -32602);
    assert_eq!(
        server
            .modern(Some("alice-token"), 5, "tasks/get", get.clone())
            .result()["status"],
        "working"
    );

    // No token, or a wrong one: 401 with the challenge that names the metadata.
    let missing = server.modern(None, 6, "tasks/get", get.clone());
    assert_eq!(missing.status, 401);
    let challenge = missing.header("www-authenticate").unwrap();
    let metadata_url = format!(
        "http://{}/.well-known/oauth-protected-resource/mcp",
        server.addr()
    );
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(&metadata_url),
        "{challenge}"
    );
    let wrong = server.modern(Some("mallory-token"), 7, "tasks/get", get);
    assert_eq!(wrong.status, 401);
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let metadata = server.call("GET", "/.well-known/oauth-protected-resource/mcp", &[]);
    assert_eq!(metadata.status, 200);
    assert_eq!(metadata.messages[0]["resource"], server.url);
    assert_eq!(
        metadata.messages[0]["bearer_methods_supported"],
        json!(["header"])
    );
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt(key_file: &str, claims: Value) -> String {
    let pem = std::fs::read(root().join("tests/fixtures").join(key_file)).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("test-key".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_pem(&pem).unwrap()).unwrap()
}

#[test]
fn jwts_are_checked_for_signature_issuer_audience_and_expiry() {
    let jwks = root().join("tests/fixtures/jwks.json");
    let server = HttpServer::start(
        TOOLS,
        &[
            "--jwt-issuer",
            "https://issuer.example",
            "--jwt-audience",
            "mcp-tasks-test",
            "--jwks",
            jwks.to_str().unwrap(),
        ],
    );
    let claims = |sub: &str, exp: u64, aud: &str, iss: &str| json!({ "sub": sub, "exp": exp, "aud": aud, "iss": iss });
    let call = |token: &str| {
        server.modern(
            Some(token),
            1,
            "tools/call",
            json!({ "name": "greet", "arguments": { "name": "jwt" } }),
        )
    };
    let good = jwt(
        "jwt-signing.pem",
        claims(
            "carol",
            now() + 600,
            "mcp-tasks-test",
            "https://issuer.example",
        ),
    );
    let created = call(&good);
    assert_eq!(created.status, 200, "{created:?}");
    let task_id = created.result()["taskId"].as_str().unwrap().to_string();
    // The owner is `sub`: another subject's valid token does not see carol's task.
    let dave = jwt(
        "jwt-signing.pem",
        claims(
            "dave",
            now() + 600,
            "mcp-tasks-test",
            "https://issuer.example",
        ),
    );
    let get = json!({ "taskId": task_id });
    assert_eq!(
        server
            .modern(Some(&dave), 2, "tasks/get", get.clone())
            .error_code(),
        -32602
    );
    server.poll(Some(&good), &task_id, |t| t["status"] == "completed");

    for (why, token) in [
        (
            "expired",
            jwt(
                "jwt-signing.pem",
                claims(
                    "carol",
                    now() - 600,
                    "mcp-tasks-test",
                    "https://issuer.example",
                ),
            ),
        ),
        (
            "signed by another key",
            jwt(
                "jwt-other.pem",
                claims(
                    "carol",
                    now() + 600,
                    "mcp-tasks-test",
                    "https://issuer.example",
                ),
            ),
        ),
        (
            "for another audience",
            jwt(
                "jwt-signing.pem",
                claims(
                    "carol",
                    now() + 600,
                    "someone-else",
                    "https://issuer.example",
                ),
            ),
        ),
        (
            "from another issuer",
            jwt(
                "jwt-signing.pem",
                claims(
                    "carol",
                    now() + 600,
                    "mcp-tasks-test",
                    "https://evil.example",
                ),
            ),
        ),
        ("not a JWT", "carol".to_string()),
    ] {
        let refused = call(&token);
        assert_eq!(refused.status, 401, "{why}: {refused:?}");
        assert!(
            refused
                .header("www-authenticate")
                .is_some_and(|c| c.contains("invalid_token")),
            "{why}: {refused:?}"
        );
    }
    let metadata = server.call("GET", "/.well-known/oauth-protected-resource", &[]);
    assert_eq!(
        metadata.messages[0]["authorization_servers"],
        json!(["https://issuer.example"])
    );
}

#[test]
fn foreign_origins_and_hosts_are_refused() {
    let server = HttpServer::start(TOOLS, &["--allow-origin", "https://app.example"]);
    let list = |extra: &[(&str, &str)]| {
        server
            .modern_with(None, 1, "tools/list", json!({}), extra)
            .status
    };
    assert_eq!(list(&[]), 200);
    assert_eq!(list(&[("origin", "http://localhost:3000")]), 200);
    assert_eq!(list(&[("origin", "https://app.example")]), 200);
    assert_eq!(list(&[("origin", "http://evil.example")]), 403);
    assert_eq!(list(&[("host", "evil.example:80")]), 403);
    // Without authentication the server says, at start, that every caller is one owner.
    assert!(
        server.stderr().contains("no authentication"),
        "{}",
        server.stderr()
    );
}

/// Open a 2025-11-25 session with these client capabilities (`initialize`, then
/// `notifications/initialized`); its ID.
fn open_session(server: &HttpServer, capabilities: Value) -> String {
    let init = server.post(
        &[],
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": capabilities,
            "clientInfo": { "name": "http-test", "version": "1" }
        }}),
    );
    assert_eq!(init.status, 200, "{init:?}");
    assert_eq!(init.result()["protocolVersion"], "2025-11-25");
    let session = init
        .header("mcp-session-id")
        .expect("a session id")
        .to_string();
    let initialized = server.post(
        &[
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
    );
    assert_eq!(initialized.status, 202);
    session
}

#[test]
fn a_2025_11_25_session_carries_a_tasks_question_and_its_status() {
    let server = HttpServer::start(TOOLS, &["--owner", "sessions"]);
    let session = open_session(&server, json!({ "elicitation": { "form": {} } }));
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let post = |body: Value| server.post(&headers, &body);

    // Without the session header, or with one that does not exist: 400 and 404.
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    assert_eq!(server.post(&[], &list).status, 400);
    assert_eq!(
        server
            .post(&[("mcp-session-id", "no-such-session")], &list)
            .status,
        404
    );
    assert_eq!(post(list).status, 200);

    // The session's GET stream carries what belongs to no request: the status notifications.
    let mut session_stream = server.get_stream(&headers);

    // A task whose tool asks: tasks/result answers with an SSE stream that carries the
    // question; the answer goes back as a POST, and the result follows on the same stream.
    let created = post(
        json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "confirm", "arguments": {}, "task": { "ttl": 60000 }
        }}),
    );
    let task_id = created.result()["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut result_stream = server.post_stream(
        &headers,
        &json!({ "jsonrpc": "2.0", "id": 4, "method": "tasks/result",
                 "params": { "taskId": task_id } }),
    );
    let question = result_stream.next().expect("the question");
    assert_eq!(question["method"], "elicitation/create", "{question}");
    assert_eq!(question["params"]["message"], "Proceed?");
    assert_eq!(
        question["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        task_id.as_str()
    );
    let answer = json!({ "jsonrpc": "2.0", "id": question["id"],
                         "result": { "action": "accept", "content": { "ok": true } } });
    assert_eq!(post(answer).status, 202);
    let result = result_stream
        .find(|m| m["id"] == 4)
        .expect("the result on the tasks/result stream");
    assert_eq!(
        result["result"]["content"][0]["text"],
        "answer: {\"action\":\"accept\",\"content\":{\"ok\":true}}\n"
    );
    let completed = session_stream
        .find(|m| {
            m["method"] == "notifications/tasks/status" && m["params"]["status"] == "completed"
        })
        .expect("the completed status on the session's stream");
    assert_eq!(completed["params"]["taskId"], task_id.as_str());

    // DELETE ends the session (its tasks stay); its id is then unknown.
    let ended = server.call(
        "DELETE",
        "/mcp",
        &[
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-11-25"),
        ],
    );
    assert_eq!(ended.status, 200);
    assert_eq!(
        post(json!({ "jsonrpc": "2.0", "id": 6, "method": "tools/list" })).status,
        404
    );
}

#[test]
fn two_replicas_on_postgresql_share_a_task_end_to_end() {
    let store = mcp_tasks_e2e::postgres_url();
    let a = HttpServer::start(TOOLS, &["--store", &store, "--owner", "team"]);
    let b = HttpServer::start(TOOLS, &["--store", &store, "--owner", "team"]);
    // Created through A: its tool runs on A, and asks.
    let created = a.modern(
        None,
        1,
        "tools/call",
        json!({ "name": "confirm", "arguments": {} }),
    );
    let task_id = created.result()["taskId"].as_str().unwrap().to_string();
    // Polled and answered through B.
    let asking = b.poll(None, &task_id, |t| t["status"] == "input_required");
    let key = asking["inputRequests"]
        .as_object()
        .and_then(|r| r.keys().next().cloned())
        .expect("a keyed question");
    let updated = b.modern(
        None,
        2,
        "tasks/update",
        json!({ "taskId": task_id, "inputResponses": {
            key: { "action": "accept", "content": { "ok": true } }
        }}),
    );
    assert_eq!(updated.status, 200, "{updated:?}");
    let done = b.poll(None, &task_id, |t| t["status"] == "completed");
    assert_eq!(
        done["result"]["content"][0]["text"],
        "answer: {\"action\":\"accept\",\"content\":{\"ok\":true}}\n"
    );
    // Another task through B, cancelled through A: the tool on B is stopped.
    let waiting = b.modern(
        None,
        3,
        "tools/call",
        json!({ "name": "wait", "arguments": {} }),
    );
    let waiting_id = waiting.result()["taskId"].as_str().unwrap().to_string();
    let ack = a.modern(None, 4, "tasks/cancel", json!({ "taskId": waiting_id }));
    assert_eq!(ack.result()["resultType"], "complete");
    b.poll(None, &waiting_id, |t| t["status"] == "cancelled");
    a.poll(None, &waiting_id, |t| t["status"] == "cancelled");
}

#[test]
fn limits_refuse_with_clear_errors() {
    let server = HttpServer::start(
        TOOLS,
        &[
            "--max-tasks-per-owner",
            "1",
            "--max-streams-per-owner",
            "1",
            "--max-body",
            "2048",
        ],
    );
    let first = server.modern(
        None,
        1,
        "tools/call",
        json!({ "name": "wait", "arguments": {} }),
    );
    assert_eq!(first.status, 200, "{first:?}");
    let second = server.modern(
        None,
        2,
        "tools/call",
        json!({ "name": "wait", "arguments": {} }),
    );
    assert_eq!(second.status, 429, "{second:?}");
    assert_eq!(second.answer()["id"], 2);
    assert!(
        second.answer()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tools running"),
        "{second:?}"
    );
    assert_eq!(second.header("retry-after"), Some("1"));
    // A body past the limit: 413, before anything is read into a task.
    let big = server.modern(
        None,
        3,
        "tools/call",
        json!({ "name": "greet", "arguments": { "name": "x".repeat(4096) } }),
    );
    assert_eq!(big.status, 413);
    assert_eq!(big.error_code(), -32600, "{big:?}");
    // One listen stream is allowed; a second is refused while the first is open.
    let first_id = first.result()["taskId"].as_str().unwrap().to_string();
    let listen = |id: u64| {
        json!({ "jsonrpc": "2.0", "id": id, "method": "subscriptions/listen", "params": {
            "notifications": { "taskIds": [first_id] },
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {
                    "extensions": { "io.modelcontextprotocol/tasks": {} }
                }
            }
        }})
    };
    let headers = [
        ("mcp-protocol-version", MODERN_VERSION),
        ("mcp-method", "subscriptions/listen"),
    ];
    let mut open = server.post_stream(&headers, &listen(4));
    let acknowledged = open.next().expect("the acknowledgement");
    assert_eq!(
        acknowledged["method"],
        "notifications/subscriptions/acknowledged"
    );
    let refused = server.post(&headers, &listen(5));
    assert_eq!(refused.status, 429, "{refused:?}");
    drop(open);
}

const MODERN_VERSION: &str = mcp_tasks_e2e::http::MODERN;

#[test]
fn a_client_that_does_not_read_its_stream_loses_notifications_never_the_answer() {
    // A tool that reports progress as fast as it can, each report passed on, until told to stop.
    let chatty = r#"
[server]
progress_interval_ms = 0

[[tools]]
name = "chatty"
command = ["sh", "-c", "i=1; while [ ! -e $DIR/stop ]; do echo \"{\\\"progress\\\": $i}\" >&2; i=$((i+1)); done; echo done"]
task_support = "forbidden"
"#;
    let server = HttpServer::start(chatty, &["--max-queued-bytes", "20000"]);
    let session = open_session(&server, json!({}));
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    // The call's stream is opened and not read until notifications are dropped.
    let mut stream = server.post_stream(
        &headers,
        &json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "chatty", "arguments": {}, "_meta": { "progressToken": "p" }
        }}),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !server.stderr().contains("notifications dropped") {
        assert!(std::time::Instant::now() < deadline, "nothing dropped");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::write(server.dir.path().join("stop"), "").unwrap();
    let answer = stream
        .find(|m| {
            assert!(
                m.get("id").is_some() || m["method"] == "notifications/progress",
                "{m}"
            );
            m.get("id").is_some()
        })
        .expect("the answer");
    // The answer is there, whole, and the server serves on.
    assert_eq!(answer["result"]["content"][0]["text"], "done\n", "{answer}");
    let list = server.post(
        &headers,
        &json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/list" }),
    );
    assert_eq!(list.status, 200, "{list:?}");
}

#[test]
fn a_stateless_call_whose_client_goes_away_stops_its_tool() {
    let server = HttpServer::start(TOOLS, &[]);
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "hang", "arguments": {},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {}
        }
    }});
    let headers = [
        ("mcp-protocol-version", MODERN_VERSION),
        ("mcp-method", "tools/call"),
        ("mcp-name", "hang"),
    ];
    let answered = server.post_and_leave(&headers, &call, std::time::Duration::from_millis(700));
    assert!(!answered, "the tool sleeps for 30 s");
    let pid = mcp_tasks_e2e::read_pids(&server.dir.path().join("hang.pid"), 1)[0];
    mcp_tasks_e2e::wait_until_dead(&[pid], "the tool of the abandoned call");
}

/// Serves `body` at any path over plain HTTP on loopback, for a JWKS URL; its address, and how
/// many requests it answered.
fn serve_jwks(body: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let mut stream = &stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (format!("http://{addr}/jwks.json"), served)
}

#[test]
fn a_jwks_url_is_fetched_at_start() {
    let jwks = std::fs::read_to_string(root().join("tests/fixtures/jwks.json")).unwrap();
    let (url, served) = serve_jwks(jwks);
    let server = HttpServer::start(
        TOOLS,
        &["--jwt-issuer", "https://issuer.example", "--jwks", &url],
    );
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The audience defaults to the endpoint's public URL.
    let token = jwt(
        "jwt-signing.pem",
        json!({ "sub": "erin", "exp": now() + 600, "aud": server.url, "iss": "https://issuer.example" }),
    );
    let listed = server.modern(Some(&token), 1, "tools/list", json!({}));
    assert_eq!(listed.status, 200, "{listed:?}");
    let other_audience = jwt(
        "jwt-signing.pem",
        json!({ "sub": "erin", "exp": now() + 600, "aud": "elsewhere", "iss": "https://issuer.example" }),
    );
    assert_eq!(
        server
            .modern(Some(&other_audience), 2, "tools/list", json!({}))
            .status,
        401
    );
}

#[test]
fn a_public_address_without_authentication_is_refused() {
    let out = std::process::Command::new(mcp_tasks_e2e::binary())
        .args(["serve", "--http", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("mcp-tasks: error: --http 0.0.0.0:")
            && stderr.contains("give --auth-tokens or --jwt-issuer"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_jwks_stops_the_start_with_a_clear_error() {
    let out = std::process::Command::new(mcp_tasks_e2e::binary())
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--jwt-issuer",
            "https://issuer.example",
            "--jwks",
            "http://127.0.0.1:1/jwks.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mcp-tasks: error: cannot fetch JWKS http://127.0.0.1:1/jwks.json"),
        "{stderr}"
    );
}

#[test]
fn sigterm_ends_open_streams_and_exits_cleanly() {
    let mut server = HttpServer::start(TOOLS, &[]);
    let init = server.post(
        &[],
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": { "name": "http-test", "version": "1" }
        }}),
    );
    let session = init.header("mcp-session-id").unwrap().to_string();
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    // A session stream and a running tool: neither holds the exit up.
    let mut stream = server.get_stream(&headers);
    let created = server.modern(
        None,
        2,
        "tools/call",
        json!({ "name": "wait", "arguments": {} }),
    );
    assert_eq!(created.status, 200, "{created:?}");
    let status = server.terminate();
    assert!(status.success(), "{status}\n{}", server.stderr());
    assert!(stream.next().is_none(), "the stream ended");
}
