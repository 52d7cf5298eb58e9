//! Where the binary's logs and traces go: log lines on stderr, and spans over OTLP when asked.

use mcp_tasks::traces::{Exporter, TARGET};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry};

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
        // Not an `Option` layer: a missing one says it wants every span, which would make
        // each span here live (and each request be read for its trace context) with traces off.
        let mut layers = vec![log_lines(self.log_format)];
        if let Some(exporter) = &exporter {
            layers.push(exporter.layer().boxed());
        }
        tracing_subscriber::registry().with(layers).init();
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
fn log_lines(format: LogFormat) -> Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary's subscriber lets no span of the traces live when traces are off (so they
    /// cost one check each), and every one when an exporter is installed.
    #[test]
    fn spans_of_traces_live_only_when_exported() {
        let quiet = || tracing::info_span!(target: TARGET, "request").is_disabled();
        let logs_only = tracing_subscriber::registry().with(vec![log_lines(LogFormat::Text)]);
        tracing::subscriber::with_default(logs_only, || {
            assert!(!tracing::enabled!(target: TARGET, tracing::Level::INFO));
            assert!(quiet());
        });
        let exporter = Exporter::configured(Some("http://127.0.0.1:9"))
            .unwrap()
            .unwrap();
        let traced = tracing_subscriber::registry()
            .with(vec![log_lines(LogFormat::Text), exporter.layer().boxed()]);
        tracing::subscriber::with_default(traced, || assert!(!quiet()));
    }
}
