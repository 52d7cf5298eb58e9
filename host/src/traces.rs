//! OpenTelemetry traces: the spans a host opens as it serves, and their export over OTLP.
//!
//! The spans are `tracing` spans under the target [`TARGET`], named and tagged after
//! OpenTelemetry's semantic conventions for MCP, with their OpenTelemetry name and kind in the
//! `otel.name` and `otel.kind` fields that `tracing-opentelemetry` reads:
//!
//! | span | kind | what it covers | attributes |
//! |---|---|---|---|
//! | `{method} {tool}` (`tools/call build`, `tasks/get`) | server | one incoming message, from its arrival until it is answered or waits no more | `mcp.method.name`, `jsonrpc.request.id`, `gen_ai.tool.name`, `network.transport`, `error.type`, `rpc.response.status_code` |
//! | `component {call}` (`component handle`) | internal | one call into the component | `mcp_tasks.call` |
//! | `store {op}` (`store update`) | client | one call of the component to the store | `db.operation.name`, `error.type` |
//! | `execute_tool {tool}` | internal | a tool's run, its reports and its outcome | `gen_ai.operation.name`, `gen_ai.tool.name`, `mcp_tasks.task.id` |
//!
//! A request continues the trace its `_meta` carries (`traceparent`, `tracestate`; SEP-414);
//! a tool's run continues its request's, on whichever host runs it (the component hands the
//! run the context of the call that created its task: the WIT's `run.trace-context`), and a
//! command tool gets it as `TRACEPARENT` and `TRACESTATE` in its environment. Component and
//! store spans are only opened inside a request's or a run's, so a host's sweeps make no traces.
//!
//! Off unless a subscriber wants the target: the binary installs [`Exporter`] when
//! `--otlp-endpoint` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and otherwise every span here is
//! disabled at its call site (one relaxed load; no field is evaluated). An embedder that
//! installs its own `tracing-opentelemetry` layer gets the same spans.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::field::Empty;
use tracing::{Level, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::types::{Outcome, Outgoing, StoreError};

/// The `tracing` target of every span here: a subscriber that wants traces enables it (the
/// binary's log lines leave it out).
pub const TARGET: &str = "mcp_tasks::spans";

/// Whether anything listens for these spans: one relaxed load of the call site's interest.
pub(crate) fn enabled() -> bool {
    tracing::enabled!(target: TARGET, Level::INFO)
}

/// The span of one incoming JSON-RPC message `line`, arrived over `transport` (`stdio`,
/// `http`): a child of the trace context in its `_meta`, else of the span current here (none
/// at a transport), else a new trace. Disabled when traces are off, and then `line` is not read.
pub(crate) fn request(line: &str, transport: &str) -> Span {
    if !enabled() {
        return Span::none();
    }
    let message: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let method = message["method"].as_str().unwrap_or("(invalid)");
    let tool = message["params"]["name"]
        .as_str()
        .filter(|_| method == "tools/call");
    let name = match tool {
        Some(tool) => format!("{method} {tool}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        "otel.name" = name,
        "otel.kind" = "server",
        "mcp.method.name" = method,
        "jsonrpc.request.id" = message.get("id").map(|id| id.to_string()),
        "gen_ai.tool.name" = tool,
        "network.transport" = if transport == "stdio" { "pipe" } else { "tcp" },
        "error.type" = Empty,
        "rpc.response.status_code" = Empty,
        "otel.status_code" = Empty,
    );
    if let Some(meta) = message["params"]["_meta"].as_object() {
        let carrier: Vec<(String, String)> = meta
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
        continue_trace(&span, &carrier);
    }
    span
}

/// A response went out: when it is an error, mark the current span (its request's) failed,
/// with the JSON-RPC code as `error.type`.
pub(crate) fn responded(message: &Outgoing) {
    if !message.is_error || !enabled() {
        return;
    }
    let code = serde_json::from_str::<serde_json::Value>(&message.message)
        .ok()
        .and_then(|m| m["error"]["code"].as_i64())
        .map(|code| code.to_string())
        .unwrap_or_else(|| "error".into());
    let span = Span::current();
    span.record("error.type", code.as_str());
    span.record("rpc.response.status_code", code.as_str());
    span.record("otel.status_code", "ERROR");
}

/// The span of one call into the component (`handle`, `tool-finished`, …), inside the current
/// request's or run's; disabled outside one, so that sweeps trace nothing.
pub(crate) fn component(call: &'static str) -> Span {
    if !enabled() || Span::current().is_none() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "component",
        "otel.name" = format!("component {call}"),
        "otel.kind" = "internal",
        "mcp_tasks.call" = call,
    )
}

/// The span of one store call `op` the component makes, inside its component call's.
pub(crate) fn store(op: &'static str) -> Span {
    if !enabled() || Span::current().is_none() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "store",
        "otel.name" = format!("store {op}"),
        "otel.kind" = "client",
        "db.operation.name" = op,
        "error.type" = Empty,
        "otel.status_code" = Empty,
        "otel.status_message" = Empty,
    )
}

/// A store call of `span` answered `error`: its kind as `error.type`, and the span failed if
/// the backend did (a conflict or a missing task is an answer the component expects).
pub(crate) fn store_failed(span: &Span, error: &StoreError) {
    if span.is_disabled() {
        return;
    }
    let kind = match error {
        StoreError::NotFound => "not_found",
        StoreError::AlreadyExists => "already_exists",
        StoreError::Conflict(_) => "conflict",
        StoreError::InvalidCursor => "invalid_cursor",
        StoreError::Unavailable(_) => "unavailable",
    };
    span.record("error.type", kind);
    if let StoreError::Unavailable(why) = error {
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_message", why.as_str());
    }
}

/// The span of a run of `tool`: a child of the span current here (the request that started
/// it), else of `trace_context` (the call that created its task, for a run a sweep started).
pub(crate) fn run(tool: &str, task_id: Option<&str>, trace_context: &[(String, String)]) -> Span {
    if !enabled() {
        return Span::none();
    }
    let inside_request = !Span::current().is_none();
    let span = tracing::info_span!(
        target: TARGET,
        "run",
        "otel.name" = format!("execute_tool {tool}"),
        "otel.kind" = "internal",
        "gen_ai.operation.name" = "execute_tool",
        "gen_ai.tool.name" = tool,
        "mcp_tasks.task.id" = task_id,
        "error.type" = Empty,
        "otel.status_code" = Empty,
    );
    if !inside_request {
        continue_trace(&span, trace_context);
    }
    span
}

/// A run of `span` ended with `outcome`: a JSON-RPC error, or a result with `isError`, fails
/// the span (`error.type` the code, or `tool_error`).
pub(crate) fn run_ended(span: &Span, outcome: &Outcome) {
    if span.is_disabled() {
        return;
    }
    let kind = match outcome {
        Outcome::Error(e) => e.code.to_string(),
        Outcome::Success(result) if result.contains("\"isError\"") => {
            match serde_json::from_str::<serde_json::Value>(result) {
                Ok(result) if result["isError"] == true => "tool_error".to_string(),
                _ => return,
            }
        }
        Outcome::Success(_) => return,
    };
    span.record("error.type", kind.as_str());
    span.record("otel.status_code", "ERROR");
}

/// The W3C trace context of the current span, as environment variables for a process that
/// continues it (`TRACEPARENT`, `TRACESTATE`: OpenTelemetry's environment carrier); none when
/// traces are off.
pub(crate) fn environment() -> Vec<(String, String)> {
    if !enabled() {
        return Vec::new();
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&Span::current().context(), &mut carrier);
    carrier
        .into_iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect()
}

/// Make `span` a child of the W3C trace context in `carrier` (keys as in `_meta`), if it holds
/// a valid one; a malformed one is ignored, as W3C Trace Context asks.
fn continue_trace(span: &Span, carrier: &[(String, String)]) {
    struct Pairs<'a>(&'a [(String, String)]);
    impl Extractor for Pairs<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| k.as_str()).collect()
        }
    }
    use opentelemetry::trace::TraceContextExt as _;
    let parent = TraceContextPropagator::new().extract(&Pairs(carrier));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Why traces could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    /// The OTLP protocol asked for is not one this build speaks.
    #[error(
        "OTLP protocol '{0}' is not supported: use http/protobuf (the default, port 4318) or \
         http/json"
    )]
    Protocol(String),
    /// The exporter could not be built (a bad endpoint, say).
    #[error("cannot export traces: {0}")]
    Exporter(String),
}

/// The OTLP exporter of a process's spans: built by [`Exporter::configured`], turned into a
/// `tracing` layer by [`Exporter::layer`]; dropping it sends the spans still buffered.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// An exporter when traces are asked for: to `endpoint` (the collector's base URL, as
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` gives it: spans go to its `/v1/traces`), else to
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`; `None` when
    /// neither is set. `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, `http/json`),
    /// `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` apply.
    ///
    /// Call it outside an async runtime: its HTTP client runs its own.
    pub fn configured(endpoint: Option<&str>) -> Result<Option<Exporter>, TracesError> {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let env_endpoint = from_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| from_env("OTEL_EXPORTER_OTLP_ENDPOINT"));
        if endpoint.is_none() && env_endpoint.is_none() {
            return Ok(None);
        }
        let protocol = from_env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| from_env("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .unwrap_or_else(|| "http/protobuf".into());
        let protocol = match protocol.as_str() {
            "http/protobuf" => Protocol::HttpBinary,
            "http/json" => Protocol::HttpJson,
            other => return Err(TracesError::Protocol(other.into())),
        };
        let client = BlockingClient::new().map_err(|e| TracesError::Exporter(e.to_string()))?;
        let mut builder = SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(protocol);
        if let Some(base) = endpoint {
            builder = builder.with_endpoint(format!("{}/v1/traces", base.trim_end_matches('/')));
        }
        let exporter = builder
            .build()
            .map_err(|e| TracesError::Exporter(e.to_string()))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if from_env("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("mcp-tasks");
        }
        // One process among the replicas and workers that share a store and a service name.
        let instance = uuid::Uuid::new_v4().to_string();
        let resource = resource
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_attribute(opentelemetry::KeyValue::new(
                "service.instance.id",
                instance,
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Some(Exporter { provider }))
    }

    /// The `tracing` layer that hands this module's spans to the exporter (and no other
    /// target's).
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        use tracing_subscriber::Layer as _;
        let tracer = self.provider.tracer("mcp-tasks");
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(
                tracing_subscriber::filter::Targets::new().with_target(TARGET, Level::INFO),
            )
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("mcp-tasks: the last spans could not be exported: {e}");
        }
    }
}

/// The exporter's HTTP client: reqwest's blocking client (with its own runtime thread), since
/// the SDK's batch processor exports from a thread of its own, outside any async runtime.
#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

impl BlockingClient {
    fn new() -> reqwest::Result<Self> {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map(BlockingClient)
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for BlockingClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let request = reqwest::blocking::Request::try_from(request)?;
        let response = self.0.execute(request)?;
        let mut answer = opentelemetry_http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        Ok(answer.body(response.bytes()?)?)
    }
}
