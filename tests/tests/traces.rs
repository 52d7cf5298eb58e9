//! OpenTelemetry traces through the real binaries, received by an OTLP/HTTP receiver in the
//! test: a client's `traceparent` in `_meta` is continued by the server's request, component and
//! store spans, and by the tool's run on a worker that claimed the task from a shared store; the
//! command tool gets the run's context as `TRACEPARENT`. Both OTLP encodings (protobuf, JSON),
//! and a protocol this build does not speak refused in one line.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_tasks_e2e::{Server, Worker, binary, tempdir};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use prost::Message as _;
use serde_json::json;

/// The client's trace and span, as a W3C `traceparent`.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

const TOOLS: &str = r#"
[server]
poll_interval_ms = 100

[[tools]]
name = "traced"
description = "Print the trace context the tool was given"
command = ["sh", "-c", 'echo "$TRACEPARENT"']
task_support = "optional"

[[tools]]
name = "broken"
description = "Fail"
command = ["sh", "-c", "echo no >&2; exit 3"]
task_support = "optional"
"#;

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Seen {
    /// The `service.instance.id` of the process that sent it.
    instance: String,
    name: String,
    /// OTLP's span kind: 1 internal, 2 server, 3 client.
    kind: i32,
    trace_id: String,
    span_id: String,
    parent: String,
    attributes: BTreeMap<String, String>,
    /// OTLP's status code: 0 unset, 2 error.
    status: i32,
}

/// An OTLP/HTTP receiver on a free loopback port, keeping every span it is sent.
struct Receiver {
    url: String,
    spans: Arc<Mutex<Vec<Seen>>>,
    /// The content types of the export requests, in order.
    encodings: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("listen");
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let spans = Arc::new(Mutex::new(Vec::new()));
        let encodings = Arc::new(Mutex::new(Vec::new()));
        let (into, types) = (spans.clone(), encodings.clone());
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut body = Vec::new();
                std::io::Read::read_to_end(request.as_reader(), &mut body).unwrap();
                let content_type = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Content-Type"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                assert_eq!(request.url(), "/v1/traces");
                let export = if content_type.contains("json") {
                    serde_json::from_slice::<ExportTraceServiceRequest>(&body).expect("OTLP JSON")
                } else {
                    ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf")
                };
                types.lock().unwrap().push(content_type);
                into.lock().unwrap().extend(flatten(export));
                let _ = request.respond(tiny_http::Response::empty(200));
            }
        });
        Receiver {
            url,
            spans,
            encodings,
        }
    }

    /// Every export came with this content type.
    fn all_sent_as(&self, content_type: &str) {
        let encodings = self.encodings.lock().unwrap();
        assert!(
            !encodings.is_empty() && encodings.iter().all(|t| t == content_type),
            "{encodings:?}"
        );
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<Seen> {
        self.spans.lock().unwrap().clone()
    }

    /// The spans received, once `pred` holds of them (at most 20 s).
    fn wait_for(&self, what: &str, pred: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let spans = self.spans();
            if pred(&spans) {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "never received {what}: {spans:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn text(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn flatten(export: ExportTraceServiceRequest) -> Vec<Seen> {
    let mut seen = Vec::new();
    for resource_spans in export.resource_spans {
        let resource = text(&resource_spans.resource.unwrap_or_default().attributes);
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                seen.push(Seen {
                    instance: resource["service.instance.id"].clone(),
                    name: span.name,
                    kind: span.kind,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    attributes: text(&span.attributes),
                    status: span.status.map(|s| s.code).unwrap_or_default(),
                });
            }
        }
    }
    seen
}

/// The one span named `name` in `spans`.
fn one<'a>(spans: &'a [Seen], name: &str) -> &'a Seen {
    let named: Vec<&Seen> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(named.len(), 1, "one span {name}: {spans:#?}");
    named[0]
}

/// The spans whose parent is `parent`.
fn children<'a>(spans: &'a [Seen], parent: &Seen) -> Vec<&'a Seen> {
    spans
        .iter()
        .filter(|s| s.parent == parent.span_id && s.trace_id == parent.trace_id)
        .collect()
}

/// The names of the spans whose parent is `parent`.
fn child_names<'a>(spans: &'a [Seen], parent: &Seen) -> Vec<&'a str> {
    children(spans, parent)
        .into_iter()
        .map(|s| s.name.as_str())
        .collect()
}

fn traced_call() -> serde_json::Value {
    json!({
        "name": "traced",
        "arguments": {},
        "task": { "ttl": 60000 },
        "_meta": { "traceparent": format!("00-{TRACE_ID}-{CLIENT_SPAN}-01") },
    })
}

#[test]
fn a_call_is_traced_under_the_clients_trace_from_the_server_into_the_tool_on_a_worker() {
    let receiver = Receiver::start();
    let dir = tempdir::Dir::new();
    let store = format!("file:{}", dir.path().join("tasks.db").display());
    let tools = dir.path().join("tools.toml");
    std::fs::write(&tools, TOOLS).unwrap();
    // The server queues every task; only the worker runs tools.
    let mut server = Server::start(
        TOOLS,
        &[
            "--owner",
            "ops",
            "--store",
            &store,
            "--run",
            "queue",
            "--otlp-endpoint",
            &receiver.url,
        ],
    );
    server.initialize();
    let mut worker = Worker::start_with(&tools, &store, &["--otlp-endpoint", &receiver.url]);

    let created = server
        .request("tools/call", traced_call())
        .expect("tools/call");
    let task_id = created["task"]["taskId"].as_str().unwrap().to_string();
    let result = server.completed_result(&task_id);
    let printed = result["content"][0]["text"]
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    worker.sigterm();
    assert!(worker.wait().success(), "{}", worker.stderr());
    let (status, stderr) = server.close();
    assert!(status.success(), "{stderr}");

    // Both processes flushed their spans before they exited.
    let spans = receiver.wait_for("the run's spans", |spans| {
        spans
            .iter()
            .any(|s| s.name == "execute_tool traced" && s.trace_id == TRACE_ID)
    });
    let ours: Vec<Seen> = spans
        .iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .cloned()
        .collect();

    // The server's request: a server span, a child of the client's.
    let request = one(&ours, "tools/call traced");
    assert_eq!((request.kind, request.parent.as_str()), (2, CLIENT_SPAN));
    assert_eq!(request.attributes["mcp.method.name"], "tools/call");
    assert_eq!(request.attributes["gen_ai.tool.name"], "traced");
    assert_eq!(request.attributes["network.transport"], "pipe");
    assert_eq!(request.attributes["jsonrpc.request.id"], "2");
    // Its component call, and that call's store calls (the new task written).
    let handle = one(&ours, "component handle");
    assert_eq!(handle.parent, request.span_id);
    let stored = child_names(&ours, handle);
    assert!(stored.contains(&"store create"), "{stored:?}");
    assert!(children(&ours, handle).iter().all(|s| s.kind == 3));

    // The run, on the worker (another process), a child of the client's span: the worker knew
    // it from the task's stored request.
    let run = one(&ours, "execute_tool traced");
    assert_eq!(run.parent, CLIENT_SPAN);
    assert_ne!(run.instance, request.instance);
    assert_eq!(run.attributes["gen_ai.operation.name"], "execute_tool");
    assert_eq!(run.attributes["mcp_tasks.task.id"], task_id);
    // The outcome it reported, and the task written done.
    let finished = one(&ours, "component tool-finished");
    assert_eq!(finished.parent, run.span_id);
    let writes = child_names(&ours, finished);
    assert!(writes.contains(&"store update"), "{writes:?}");
    // The command tool was handed the run's context.
    assert_eq!(printed, format!("00-{TRACE_ID}-{}-01", run.span_id));

    // Nothing but a request starts a trace: the sweeps of both hosts made no spans.
    for span in &spans {
        assert!(
            span.kind == 2 || !span.parent.is_empty(),
            "a root span: {span:?}"
        );
    }
    assert!(!spans.iter().any(|s| s.name == "component sweep"));
    receiver.all_sent_as("application/x-protobuf");
}

#[test]
fn the_environment_turns_traces_on_in_json_and_a_failed_call_is_marked() {
    let receiver = Receiver::start();
    let mut server = Server::start_with_env(
        TOOLS,
        &["--owner", "ops"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ],
    );
    server.initialize();
    // A plain call: its run goes inside its request's span.
    let mut call = traced_call();
    call.as_object_mut().unwrap().remove("task");
    let plain = server.request("tools/call", call).expect("tools/call");
    let printed = plain["content"][0]["text"]
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    // A tool that fails, and a method nobody serves.
    let failed = server
        .request("tools/call", json!({ "name": "broken", "arguments": {} }))
        .expect("tools/call");
    assert_eq!(failed["isError"], true);
    let unknown = server.request("nothing/here", json!({}));
    assert_eq!(unknown.unwrap_err()["code"], -32601);
    let (status, stderr) = server.close();
    assert!(status.success(), "{stderr}");

    let spans = receiver.wait_for("three requests' spans", |spans| {
        ["tools/call traced", "execute_tool broken", "nothing/here"]
            .iter()
            .all(|name| spans.iter().any(|s| s.name == *name))
    });
    let request = one(&spans, "tools/call traced");
    assert_eq!(request.trace_id, TRACE_ID);
    let run = one(&spans, "execute_tool traced");
    assert_eq!(
        (run.trace_id.as_str(), run.parent.as_str()),
        (TRACE_ID, request.span_id.as_str())
    );
    assert_eq!(printed, format!("00-{TRACE_ID}-{}-01", run.span_id));
    // A request without a trace context starts its own trace.
    let broken = one(&spans, "tools/call broken");
    assert_ne!(broken.trace_id, TRACE_ID);
    assert_eq!(broken.parent, "");
    let broken_run = one(&spans, "execute_tool broken");
    assert_eq!(broken_run.parent, broken.span_id);
    assert_eq!(
        (
            broken_run.status,
            broken_run.attributes["error.type"].as_str()
        ),
        (2, "tool_error")
    );
    let unknown = one(&spans, "nothing/here");
    assert_eq!(
        (unknown.status, unknown.attributes["error.type"].as_str()),
        (2, "-32601")
    );
    receiver.all_sent_as("application/json");
}

#[test]
fn an_otlp_protocol_this_build_does_not_speak_is_refused_in_one_line() {
    let out = Command::new(binary())
        .args(["serve", "--otlp-endpoint", "http://127.0.0.1:4317"])
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "mcp-tasks: error: OTLP protocol 'grpc' is not supported: use http/protobuf (the default, \
         port 4318) or http/json",
    );
}
