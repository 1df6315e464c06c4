//! JSON logs through tracing-subscriber, honouring `AWS_LAMBDA_LOG_FORMAT` and
//! `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`).
//!
//! Whatever level is asked for, other crates log at INFO at most: lambda_runtime logs the raw
//! event (with the passwords in its body) at TRACE, and the AWS SDK logs requests (with the
//! hashes in them) at TRACE. This binary's own code never logs a password, hash, pepper or token.

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Targets allowed below INFO.
const OWN_TARGET: &str = "change_password";

/// Whether an event of this metadata may be written at all.
pub fn allowed(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with(OWN_TARGET) || *metadata.level() <= Level::INFO
}

/// The filter asked for by the environment.
pub fn env_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    let directive = match lambda_level.map(|l| l.trim().to_ascii_lowercase()) {
        Some(level) if level == "fatal" => "error".to_string(),
        Some(level) if !level.is_empty() => level,
        _ => rust_log.unwrap_or("info").to_string(),
    };
    EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// A layer that receives spans beside the logs (the traces of `telemetry`).
pub type SpanLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// Installs the global subscriber once, configured from the environment.
pub fn init() {
    init_with_spans(None);
}

/// [`init`], with `spans` (the traces, when configured) beside the logs.
pub fn init_with_spans(spans: Option<SpanLayer>) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    let rust_log = std::env::var("RUST_LOG").ok();
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    install(
        env_filter(level.as_deref(), rust_log.as_deref()),
        text,
        std::io::stdout,
        spans,
    );
}

/// Installs the global subscriber once: `filter`, text or JSON lines, written to `writer`.
pub fn init_with<W>(filter: EnvFilter, text: bool, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    install(filter, text, writer, None);
}

fn install<W>(filter: EnvFilter, text: bool, writer: W, spans: Option<SpanLayer>)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(true);
    let layer = if text {
        base.without_time().with_ansi(false).boxed()
    } else {
        base.json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(spans)
        .with(layer.with_filter(filter).with_filter(filter_fn(allowed)))
        .try_init();
}
