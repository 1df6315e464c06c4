//! The AWS SDK configuration shared by every client: explicit timeouts well under the
//! function timeout, and the standard retry mode. Endpoints come from the SDK's own
//! `AWS_ENDPOINT_URL*` variables (local emulators), never from code paths of our own.

use crate::aws::xray::XrayInterceptor;
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

/// The X-Ray interceptor every client shares, when Lambda provides a daemon.
fn xray(sdk: &SdkConfig) -> Option<XrayInterceptor> {
    static XRAY: OnceLock<Option<XrayInterceptor>> = OnceLock::new();
    XRAY.get_or_init(|| XrayInterceptor::from_env(sdk.region().map(|r| r.as_ref())))
        .clone()
}

/// The DynamoDB client (with X-Ray subsegments when traced).
pub fn dynamodb(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(xray) = xray(sdk) {
        config = config.interceptor(xray);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// The Secrets Manager client (with X-Ray subsegments when traced).
pub fn secrets_manager(sdk: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let mut config = aws_sdk_secretsmanager::config::Builder::from(sdk);
    if let Some(xray) = xray(sdk) {
        config = config.interceptor(xray);
    }
    aws_sdk_secretsmanager::Client::from_conf(config.build())
}

/// The Cognito user pools client (with X-Ray subsegments when traced).
pub fn cognito(sdk: &SdkConfig) -> aws_sdk_cognitoidentityprovider::Client {
    let mut config = aws_sdk_cognitoidentityprovider::config::Builder::from(sdk);
    if let Some(xray) = xray(sdk) {
        config = config.interceptor(xray);
    }
    aws_sdk_cognitoidentityprovider::Client::from_conf(config.build())
}

/// The SES v2 client (with X-Ray subsegments when traced), for `change-notice`.
pub fn sesv2(sdk: &SdkConfig) -> aws_sdk_sesv2::Client {
    let mut config = aws_sdk_sesv2::config::Builder::from(sdk);
    if let Some(xray) = xray(sdk) {
        config = config.interceptor(xray);
    }
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
