//! One OpenTelemetry CLIENT span per AWS SDK operation (retries included), child of the span
//! that made the call, with the semantic conventions of AWS SDK calls: `rpc.system=aws-api`,
//! `rpc.service`, `rpc.method`, `cloud.region`, `aws.request_id`, the HTTP status, and an error
//! status on throttles, faults and failures. Only for sampled traces (an unsampled parent, or no
//! tracing at all, costs one check). Never a key, value or expression of a request.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The interceptor every client shares.
#[derive(Debug, Clone, Default)]
pub struct SdkSpans {
    region: Option<String>,
}

impl SdkSpans {
    pub fn new(region: Option<&str>) -> Self {
        SdkSpans {
            region: region.map(String::from),
        }
    }
}

/// The operation's span, from before serialization to after the last attempt.
#[derive(Debug, Clone)]
struct Started(Context);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// A status that X-Ray reads as a throttle.
fn throttled(status: u16, error_type: &str) -> bool {
    status == 429 || error_type.contains("Throttl") || error_type.contains("Exceeded")
}

impl Intercept for SdkSpans {
    fn name(&self) -> &'static str {
        "SdkSpans"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let parent = tracing::Span::current().context();
        if !parent.span().span_context().is_sampled() {
            return Ok(());
        }
        // The operation's name is in the bag only later: the span is named after the call.
        let mut attributes = vec![KeyValue::new("rpc.system", "aws-api")];
        if let Some(region) = &self.region {
            attributes.push(KeyValue::new("cloud.region", region.clone()));
        }
        let tracer = opentelemetry::global::tracer(crate::telemetry::SCOPE);
        let span = tracer
            .span_builder("AWS SDK call")
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(&tracer, &parent);
        cfg.interceptor_state()
            .store_put(Started(parent.with_span(span)));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Started(cx)) = cfg.load::<Started>().cloned() else {
            return Ok(());
        };
        let span = cx.span();
        if let Some(metadata) = cfg.load::<Metadata>() {
            let (service, operation) = (metadata.service(), metadata.name());
            span.update_name(format!("{service}.{operation}"));
            span.set_attribute(KeyValue::new("rpc.service", service.to_string()));
            span.set_attribute(KeyValue::new("rpc.method", operation.to_string()));
        }
        let response = context.response();
        let header = |name: &str| {
            response
                .and_then(|r| r.headers().get(name))
                .unwrap_or_default()
                .to_string()
        };
        let request_id = [header("x-amzn-requestid"), header("x-amz-request-id")]
            .into_iter()
            .find(|id| !id.is_empty());
        if let Some(id) = request_id {
            span.set_attribute(KeyValue::new("aws.request_id", id));
        }
        let failed = matches!(context.output_or_error(), Some(Err(_)));
        match response.map(|r| r.status().as_u16()) {
            Some(status) => {
                span.set_attribute(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                ));
                let error_type = header("x-amzn-errortype");
                if throttled(status, &error_type) {
                    span.set_attribute(KeyValue::new("aws.throttled", true));
                    span.set_status(Status::error("throttled"));
                } else if status >= 500 {
                    span.set_status(Status::error("fault"));
                } else if status >= 400 || failed {
                    span.set_status(Status::error("error"));
                }
                if status >= 400 {
                    span.set_attribute(KeyValue::new("error.type", status.to_string()));
                }
            }
            None if failed => span.set_status(Status::error("no response")),
            None => {}
        }
        span.end();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::throttled;

    #[test]
    fn throttles_are_429_or_named_so() {
        assert!(throttled(429, ""));
        assert!(throttled(400, "ThrottlingException"));
        assert!(throttled(400, "ProvisionedThroughputExceededException"));
        assert!(!throttled(400, "ConditionalCheckFailedException"));
        assert!(!throttled(500, ""));
    }
}
