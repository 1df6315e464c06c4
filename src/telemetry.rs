//! Traces with OpenTelemetry (issue 22), exported over OTLP/HTTP (protobuf) when the standard
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set; without one,
//! nothing is built and nothing costs.
//!
//! - One SERVER span per invocation (FaaS attributes), whose parent is the invocation's X-Ray
//!   trace header (`Lambda-Runtime-Trace-Id`, read with the AWS X-Ray propagator): the spans join
//!   Lambda's own trace, with X-Ray's id format. Sampling follows the header: only an invocation
//!   that says `Sampled=1` records anything (`ParentBased(AlwaysOff)`).
//! - The spans of this crate's code (`tracing` spans of target `change_password*` at INFO: the
//!   argon2 work, the breached-password lookup) become children through tracing-opentelemetry;
//!   every AWS SDK call gets a CLIENT span from `aws::sdk_spans`.
//! - Finished spans wait in a buffer and are exported once the handler is done, before the
//!   response is handed back to the runtime: nothing is lost when the environment freezes, and no
//!   background thread or runtime of the SDK's is involved. An export is one attempt, at most
//!   [`EXPORT_TIMEOUT`]; a failure is logged and dropped, never the invocation's.
//!
//! No attribute holds a password, hash, pepper, token or the user id.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracerProvider, Span, SpanData, SpanExporter as _, SpanProcessor,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;

/// The longest an export may take (it runs before the invocation's answer is handed back).
pub const EXPORT_TIMEOUT: Duration = Duration::from_millis(500);
/// The instrumentation scope of every span.
pub const SCOPE: &str = "change-password";

/// The traces of one process, when an OTLP endpoint is configured.
pub struct Telemetry {
    provider: SdkTracerProvider,
    buffer: Buffer,
    exporter: opentelemetry_otlp::SpanExporter,
    function_name: String,
    cold: AtomicBool,
}

/// Finished, sampled spans waiting for the end of the invocation.
#[derive(Debug, Clone, Default)]
struct Buffer(Arc<Mutex<Vec<SpanData>>>);

impl Buffer {
    fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl SpanProcessor for Buffer {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(span);
        }
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// Whether the environment asks for traces: an OTLP endpoint, and the SDK not disabled.
pub fn configured(lookup: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
    let disabled = lookup("OTEL_SDK_DISABLED")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || lookup("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
    !disabled && (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

impl Telemetry {
    /// The traces the environment asks for; `Ok(None)` when it asks for none.
    pub fn from_env() -> Result<Option<Telemetry>, String> {
        if !configured(|name| std::env::var(name).ok()) {
            return Ok(None);
        }
        let function_name =
            std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| SCOPE.to_string());
        let mut attributes = vec![
            KeyValue::new("cloud.provider", "aws"),
            KeyValue::new("cloud.platform", "aws_lambda"),
            KeyValue::new("faas.name", function_name.clone()),
        ];
        for (key, var) in [
            ("cloud.region", "AWS_REGION"),
            ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
        ] {
            if let Ok(value) = std::env::var(var) {
                attributes.push(KeyValue::new(key, value));
            }
        }
        // OTEL_SERVICE_NAME (read by the builder) wins; else the function's name.
        let builder = Resource::builder().with_attributes(attributes);
        let builder = if std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty()) {
            builder
        } else {
            builder.with_service_name(function_name.clone())
        };
        let resource = builder.build();
        // The endpoint and headers come from the standard OTEL_* variables; the timeout is
        // fixed (EXPORT_TIMEOUT: the export runs before the answer is handed back).
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(OtlpHttpClient::new()?)
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("the OTLP exporter: {e}"))?;
        exporter.set_resource(&resource);
        let buffer = Buffer::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(buffer.clone())
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
            .with_id_generator(opentelemetry_aws::trace::XrayIdGenerator::default())
            .with_resource(resource)
            .build();
        // The SDK interceptor (aws::sdk_spans) starts its spans on the global provider.
        opentelemetry::global::set_tracer_provider(provider.clone());
        Ok(Some(Telemetry {
            provider,
            buffer,
            exporter,
            function_name,
            cold: AtomicBool::new(true),
        }))
    }

    /// The tracing layer that turns this crate's spans into OpenTelemetry spans.
    pub fn layer(&self) -> crate::logging::SpanLayer {
        Box::new(
            tracing_opentelemetry::layer()
                .with_tracer(self.provider.tracer(SCOPE))
                .with_filter(Targets::new().with_target("change_password", tracing::Level::INFO)),
        )
    }

    /// The invocation's span, child of the X-Ray trace Lambda gave it.
    pub fn invocation_span(&self, context: &lambda_runtime::Context) -> tracing::Span {
        let cold = self.cold.swap(false, Ordering::SeqCst);
        let span = tracing::info_span!(
            target: "change_password::invocation",
            "invocation",
            otel.name = %self.function_name,
            otel.kind = "server",
            faas.trigger = "http",
            faas.invocation_id = %context.request_id,
            faas.coldstart = cold,
            cloud.resource_id = %context.invoked_function_arn,
        );
        let parent = context
            .xray_trace_id
            .as_deref()
            .and_then(opentelemetry_aws::trace::xray_propagator::span_context_from_str);
        if let Some(parent) = parent {
            use opentelemetry::trace::TraceContextExt;
            let _ = span.set_parent(Context::new().with_remote_span_context(parent));
        }
        span
    }

    /// Exports the spans finished so far (one attempt, at most [`EXPORT_TIMEOUT`]).
    pub async fn flush(&self) {
        let batch = self.buffer.take();
        if batch.is_empty() {
            return;
        }
        let spans = batch.len();
        match tokio::time::timeout(EXPORT_TIMEOUT, self.exporter.export(batch)).await {
            Ok(Ok(())) => tracing::debug!(spans, "spans exported"),
            Ok(Err(e)) => tracing::warn!(spans, error = %e, "the spans could not be exported"),
            Err(_) => tracing::warn!(spans, "the span export timed out"),
        }
    }
}

/// The exporter's HTTP client: hyper over the TLS stack the rest of the function uses.
#[derive(Debug, Clone)]
struct OtlpHttpClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl OtlpHttpClient {
    fn new() -> Result<Self, String> {
        Ok(OtlpHttpClient {
            client: Client::builder(TokioExecutor::new()).build(crate::web::https::connector()?),
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpHttpClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let send = async {
            let response = self.client.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, 64 * 1024).collect().await?.to_bytes();
            Ok::<_, opentelemetry_http::HttpError>(http::Response::from_parts(parts, body))
        };
        tokio::time::timeout(EXPORT_TIMEOUT, send)
            .await
            .map_err(|_| "the OTLP endpoint did not answer in time")?
    }
}

#[cfg(test)]
mod tests {
    use super::configured;

    #[test]
    fn only_an_endpoint_turns_traces_on() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!configured(env(&[])));
        assert!(configured(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4318"
        )])));
        assert!(configured(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:4318/v1/traces"
        )])));
        assert!(!configured(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_SDK_DISABLED", "true")
        ])));
        assert!(!configured(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_TRACES_EXPORTER", "none")
        ])));
        assert!(!configured(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
    }
}
