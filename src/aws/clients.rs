//! The AWS SDK configuration shared by every client: explicit timeouts well under the
//! function timeout, the standard retry mode, and a span per call in sampled traces. Endpoints come from the SDK's own
//! `AWS_ENDPOINT_URL*` variables (local emulators), never from code paths of our own.

use crate::aws::sdk_spans::SdkSpans;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::sync::OnceLock;
use std::time::Duration;

/// Connect timeout of one attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// One attempt of an operation.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
/// A whole operation with its retries. A request makes a handful of sequential AWS calls (read,
/// reserve, clear or re-read, write, re-read; a contended reservation retries a few more): the
/// 8 s request budget of the handler bounds them all, within the 10 s function timeout.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(2000);
pub const MAX_ATTEMPTS: u32 = 3;

pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// The span interceptor every client shares (it records only within a sampled trace).
fn spans(sdk: &SdkConfig) -> SdkSpans {
    static SPANS: OnceLock<SdkSpans> = OnceLock::new();
    SPANS
        .get_or_init(|| SdkSpans::new(sdk.region().map(|r| r.as_ref())))
        .clone()
}

/// The DynamoDB client (with a span per call when traced).
pub fn dynamodb(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(spans(sdk));
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// The Secrets Manager client (with a span per call when traced).
pub fn secrets_manager(sdk: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::config::Builder::from(sdk).interceptor(spans(sdk));
    aws_sdk_secretsmanager::Client::from_conf(config.build())
}

/// The Cognito user pools client (with a span per call when traced).
pub fn cognito(sdk: &SdkConfig) -> aws_sdk_cognitoidentityprovider::Client {
    let config =
        aws_sdk_cognitoidentityprovider::config::Builder::from(sdk).interceptor(spans(sdk));
    aws_sdk_cognitoidentityprovider::Client::from_conf(config.build())
}

/// The SES v2 client (with a span per call when traced), for `change-notice`. One attempt
/// per send: `SendEmail` is not idempotent, so the SDK's own retry of an attempt whose answer
/// was lost could mail the address twice; a failed send fails the invocation, whose retry
/// sends only what is missing.
pub fn sesv2(sdk: &SdkConfig) -> aws_sdk_sesv2::Client {
    let config = aws_sdk_sesv2::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .interceptor(spans(sdk));
    aws_sdk_sesv2::Client::from_conf(config.build())
}

/// An error and its sources, on one line (SDK errors keep the useful part in their sources).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
