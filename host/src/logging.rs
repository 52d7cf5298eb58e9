//! Where the binary's logs and traces go: log lines on stderr, and spans over OTLP when asked.

use mcp_tasks::traces::{Exporter, TARGET};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// How a serving command logs and traces.
#[derive(clap::Args)]
pub(crate) struct Observe {
    /// How logs are written to stderr.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// Export OpenTelemetry traces over OTLP/HTTP to this collector: its base URL, e.g.
    /// http://127.0.0.1:4318 (spans go to /v1/traces) [default: $OTEL_EXPORTER_OTLP_ENDPOINT;
    /// with neither, no traces]. OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf or http/json),
    /// OTEL_EXPORTER_OTLP_HEADERS and OTEL_SERVICE_NAME apply.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
}

/// How logs look.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

impl Observe {
    /// Logs to stderr, as [`init`]; and traces to the OTLP collector, if one is set. The
    /// exporter returned sends its last spans when dropped: hold it until the command ends,
    /// outside the async runtime.
    pub(crate) fn init(&self) -> anyhow::Result<Option<Exporter>> {
        let exporter = Exporter::configured(self.otlp_endpoint.as_deref())?;
        let traces = exporter.as_ref().map(|e| e.layer());
        tracing_subscriber::registry()
            .with(log_lines(self.log_format))
            .with(traces)
            .init();
        if exporter.is_some() {
            tracing::info!("exporting traces over OTLP");
        }
        Ok(exporter)
    }
}

/// Logs to stderr in `format`, at the level RUST_LOG sets (default `info`); no traces.
pub(crate) fn init(format: LogFormat) {
    tracing_subscriber::registry()
        .with(log_lines(format))
        .init();
}

/// The layer that writes log lines. Its filter leaves out the spans of traces (their target),
/// so that they cost nothing when not exported and do not prefix the lines when they are.
fn log_lines<S>(format: LogFormat) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(
            format!("{TARGET}=off")
                .parse()
                .expect("the spans' target is a valid directive"),
        );
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => lines.with_ansi(false).with_filter(filter).boxed(),
        LogFormat::Json => lines.json().with_filter(filter).boxed(),
    }
}
