//! CloudWatch Embedded Metric Format: one JSON line on stdout per counted outcome, which
//! CloudWatch Logs turns into metrics in the `ChangePassword` namespace.

use serde_json::json;

pub const NAMESPACE: &str = "ChangePassword";

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    PasswordChanged,
    /// A retry of a change that had succeeded (200 `PasswordAlreadyChanged`, nothing written).
    ChangeRetried,
    CurrentPasswordIncorrect,
    AccountLocked,
    /// `LOCKOUT_MAX_FAILURES` wrong current passwords in a row: a new sign-in is required.
    HardLocked,
    /// Refused for seconds while another attempt's verify settles a pending lock.
    AttemptsInFlight,
    PolicyRejected,
    DependencyFailure,
    /// A token refused because it was issued before the account's last password change.
    TokenRevoked,
    /// After a committed change, the refresh tokens could not be revoked.
    GlobalSignOutFailed,
    /// token-authorizer: a token allowed.
    AuthorizerAllowed,
    /// token-authorizer: a token refused (missing, invalid, revoked).
    AuthorizerDenied,
    /// token-authorizer: the marker could not be read and none was cached: failed closed.
    AuthorizerUnavailable,
    /// change-notice: emails sent (counted by how many).
    NoticeSent,
    /// change-notice: an account with no usable address (nothing sent).
    NoticeWithoutAddress,
    /// change-notice: the account of the event no longer exists.
    NoticeAccountMissing,
    /// change-notice: an event whose notice was sent already (a redelivery, or an older one).
    NoticeDuplicate,
    /// change-notice: an invocation that failed (it is retried, then dead-lettered).
    NoticeFailed,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::PasswordChanged => "PasswordChanged",
            Metric::ChangeRetried => "ChangeRetried",
            Metric::CurrentPasswordIncorrect => "CurrentPasswordIncorrect",
            Metric::AccountLocked => "AccountLocked",
            Metric::HardLocked => "HardLocked",
            Metric::AttemptsInFlight => "AttemptsInFlight",
            Metric::PolicyRejected => "PolicyRejected",
            Metric::DependencyFailure => "DependencyFailure",
            Metric::TokenRevoked => "TokenRevoked",
            Metric::GlobalSignOutFailed => "GlobalSignOutFailed",
            Metric::AuthorizerAllowed => "AuthorizerAllowed",
            Metric::AuthorizerDenied => "AuthorizerDenied",
            Metric::AuthorizerUnavailable => "AuthorizerUnavailable",
            Metric::NoticeSent => "NoticeSent",
            Metric::NoticeWithoutAddress => "NoticeWithoutAddress",
            Metric::NoticeAccountMissing => "NoticeAccountMissing",
            Metric::NoticeDuplicate => "NoticeDuplicate",
            Metric::NoticeFailed => "NoticeFailed",
        }
    }
}

/// Which front door the event came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventSource {
    RestApi,
    HttpApi,
    FunctionUrl,
    Alb,
    #[default]
    Unknown,
}

impl EventSource {
    pub fn name(self) -> &'static str {
        match self {
            EventSource::RestApi => "RestApi",
            EventSource::HttpApi => "HttpApi",
            EventSource::FunctionUrl => "FunctionUrl",
            EventSource::Alb => "Alb",
            EventSource::Unknown => "Unknown",
        }
    }

    /// Tells the source from the raw event's shape.
    pub fn of(event: &serde_json::Value) -> EventSource {
        let context = &event["requestContext"];
        if context.get("elb").is_some() {
            EventSource::Alb
        } else if event["version"] == "2.0" {
            let domain = context["domainName"].as_str().unwrap_or_default();
            if domain.contains(".lambda-url.") {
                EventSource::FunctionUrl
            } else {
                EventSource::HttpApi
            }
        } else if event.get("httpMethod").is_some() {
            EventSource::RestApi
        } else {
            EventSource::Unknown
        }
    }
}

/// One EMF document counting `metric` once, with and without the `EventSource` dimension.
pub fn emf_line(metric: Metric, source: EventSource, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["EventSource"], []],
                "Metrics": [{"Name": metric.name(), "Unit": "Count"}],
            }],
        },
        "EventSource": source.name(),
        metric.name(): 1,
    })
    .to_string()
}

/// Writes the EMF line for `metric` to stdout.
pub fn emit(metric: Metric, source: EventSource) {
    let now = time::OffsetDateTime::now_utc();
    let ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    println!("{}", emf_line(metric, source, ms));
}

/// Writes an EMF line counting `metric` `count` times, without dimensions (for the functions
/// that have no front door).
pub fn emit_count(metric: Metric, count: usize) {
    let now = time::OffsetDateTime::now_utc();
    let ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let line = json!({
        "_aws": {
            "Timestamp": ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{"Name": metric.name(), "Unit": "Count"}],
            }],
        },
        metric.name(): count,
    });
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn emf_document_is_well_formed() {
        let line = emf_line(
            Metric::AccountLocked,
            EventSource::HttpApi,
            1_764_288_000_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "ChangePassword"
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "AccountLocked"
        );
        assert_eq!(v["AccountLocked"], 1);
        assert_eq!(v["EventSource"], "HttpApi");
        assert_eq!(v["_aws"]["Timestamp"], 1_764_288_000_000i64);
    }

    #[test]
    fn sources_are_told_apart() {
        let of = |v: Value| EventSource::of(&v);
        assert_eq!(
            of(serde_json::json!({"requestContext": {"elb": {}}})),
            EventSource::Alb
        );
        assert_eq!(
            of(
                serde_json::json!({"version": "2.0", "requestContext": {"domainName": "x.lambda-url.eu-west-1.on.aws"}})
            ),
            EventSource::FunctionUrl
        );
        assert_eq!(
            of(
                serde_json::json!({"version": "2.0", "requestContext": {"domainName": "x.execute-api.eu-west-1.amazonaws.com"}})
            ),
            EventSource::HttpApi
        );
        assert_eq!(
            of(serde_json::json!({"httpMethod": "POST", "requestContext": {}})),
            EventSource::RestApi
        );
    }
}
