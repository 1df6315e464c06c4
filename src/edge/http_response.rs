//! HTTP out: the response envelope and RFC 9457 problems. Every outcome is mapped to its
//! status here and nowhere else.

use crate::auth::principal::PrincipalError;
use crate::domain::change_password::{ChangeError, Changed};
use crate::domain::issue::{Field, Issue, codes};
use crate::edge::http_request::Rejection;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};

/// Everything a request can end in.
#[derive(Debug)]
pub enum Outcome {
    Changed(Changed),
    Rejected(Rejection),
    Refused(PrincipalError),
    Failed(ChangeError),
}

/// A rendered response and the `Code` it carries (for the request's log line).
pub struct Rendered {
    pub response: Response<Body>,
    pub code: &'static str,
}

/// Seconds a client should wait after a 503.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 1;

/// Where the request came from, for the problem document.
pub struct RequestInfo<'a> {
    pub path: &'a str,
    pub trace_id: &'a str,
}

/// The one place where outcomes become statuses.
pub fn render(outcome: &Outcome, extra_warnings: Vec<Issue>, info: &RequestInfo<'_>) -> Rendered {
    use StatusCode as S;
    match outcome {
        Outcome::Changed(changed) => {
            let mut warnings = changed.warnings.clone();
            warnings.extend(extra_warnings);
            envelope(S::OK, "PasswordChanged", true, &[], &warnings, None)
        }
        Outcome::Rejected(r) => match r {
            Rejection::NotFound => problem(
                S::NOT_FOUND,
                "NotFound",
                "No resource at this path.",
                info,
                &[],
            ),
            Rejection::MethodNotAllowed => problem(
                S::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "Only POST is allowed here.",
                info,
                &[(header::ALLOW, "POST")],
            ),
            Rejection::UnsupportedMediaType => problem(
                S::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "The body must be application/json.",
                info,
                &[],
            ),
            Rejection::Malformed => problem(
                S::BAD_REQUEST,
                "MalformedRequest",
                "The request is not well-formed HTTP.",
                info,
                &[],
            ),
            Rejection::PayloadTooLarge => problem(
                S::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                "The request body is larger than 16 KiB.",
                info,
                &[],
            ),
        },
        Outcome::Refused(e) => match e {
            PrincipalError::Unauthenticated => problem(
                S::UNAUTHORIZED,
                "Unauthenticated",
                "Authentication is required.",
                info,
                &[(header::WWW_AUTHENTICATE, "Bearer")],
            ),
            PrincipalError::InvalidToken => problem(
                S::UNAUTHORIZED,
                "InvalidToken",
                "The access token is not valid.",
                info,
                &[(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
            ),
            PrincipalError::SignInTooOld { max_age } => problem(
                S::UNAUTHORIZED,
                "SignInRequired",
                "Changing the password needs a recent sign-in. Sign in again, then retry.",
                info,
                &[(
                    header::WWW_AUTHENTICATE,
                    &format!(
                        "Bearer error=\"insufficient_user_authentication\", error_description=\"A more recent authentication is required\", max_age=\"{max_age}\""
                    ),
                )],
            ),
            PrincipalError::InsecureRequest(why) => problem(
                S::UNAUTHORIZED,
                "InsecureRequest",
                &format!(
                    "The credentials cannot be accepted: {why}. Send the token in the Authorization header over HTTPS."
                ),
                info,
                &[(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_request\"")],
            ),
            PrincipalError::ApiKeyCaller | PrincipalError::MachineToken => problem(
                S::FORBIDDEN,
                "Forbidden",
                "Service accounts cannot change a password through this endpoint.",
                info,
                &[],
            ),
        },
        Outcome::Failed(e) => failed(e, info),
    }
}

fn failed(e: &ChangeError, info: &RequestInfo<'_>) -> Rendered {
    use StatusCode as S;
    let single = |status, issue: Issue, retry_after: Option<u64>| {
        envelope(status, issue.code, false, &[issue], &[], retry_after)
    };
    match e {
        ChangeError::ServiceAccount => problem(
            S::FORBIDDEN,
            "Forbidden",
            "Service accounts cannot change a password through this endpoint.",
            info,
            &[],
        ),
        ChangeError::AccountDisabled => problem(
            S::FORBIDDEN,
            "Forbidden",
            "The account is disabled.",
            info,
            &[],
        ),
        ChangeError::TokenRevoked => problem(
            S::UNAUTHORIZED,
            "TokenRevoked",
            "The access token was issued before the account's last password change. Sign in again.",
            info,
            &[(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        ),
        ChangeError::SignInRequired { since } => problem(
            S::UNAUTHORIZED,
            "SignInRequired",
            "Too many incorrect current passwords in a row. Sign in again, then retry.",
            info,
            &[(
                header::WWW_AUTHENTICATE,
                &format!(
                    "Bearer error=\"insufficient_user_authentication\", error_description=\"A new sign-in is required\", max_age=\"{since}\""
                ),
            )],
        ),
        ChangeError::AccountNotFound => single(
            S::NOT_FOUND,
            Issue::business(
                codes::ACCOUNT_NOT_FOUND,
                None,
                "No account exists for the signed-in user.",
            ),
            None,
        ),
        ChangeError::AttemptsInFlight { retry_after } => single(
            S::TOO_MANY_REQUESTS,
            Issue::business(
                codes::ACCOUNT_LOCKED,
                None,
                "Other attempts on this account are being checked: try again in a few seconds.",
            )
            .with("RetryAfterSeconds", retry_after.to_string())
            .with("Reason", "AttemptsInFlight".to_string()),
            Some(*retry_after),
        ),
        ChangeError::AccountLocked { retry_after } => single(
            S::TOO_MANY_REQUESTS,
            Issue::business(
                codes::ACCOUNT_LOCKED,
                None,
                "Too many incorrect current passwords: the account is temporarily locked.",
            )
            .with("RetryAfterSeconds", retry_after.to_string()),
            Some(*retry_after),
        ),
        ChangeError::Invalid(issues) => {
            let code = issues
                .first()
                .map_or(codes::INVALID_REQUEST_BODY, |i| i.code);
            envelope(S::BAD_REQUEST, code, false, issues, &[], None)
        }
        ChangeError::CurrentPasswordIncorrect { remaining_attempts } => {
            let mut issue = Issue::business(
                codes::CURRENT_PASSWORD_INCORRECT,
                Some(Field::CurrentPassword),
                "The current password is incorrect.",
            );
            if let Some(n) = remaining_attempts {
                issue = issue.with("RemainingAttempts", n.to_string());
            }
            single(S::BAD_REQUEST, issue, None)
        }
        ChangeError::PasswordReused { depth } => single(
            S::BAD_REQUEST,
            Issue::business(
                codes::PASSWORD_REUSED,
                Some(Field::NewPassword),
                format!("The new password must not be one of the last {depth}."),
            )
            .with("HistoryDepth", depth.to_string()),
            None,
        ),
        ChangeError::Conflict => single(
            S::CONFLICT,
            Issue::business(
                codes::PASSWORD_CHANGE_CONFLICT,
                None,
                "The password was changed by another request at the same time. Try again.",
            ),
            None,
        ),
        ChangeError::Unavailable(_) => single(
            S::SERVICE_UNAVAILABLE,
            Issue::system(
                codes::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable. Try again shortly.",
            ),
            Some(UNAVAILABLE_RETRY_AFTER),
        ),
        ChangeError::Internal(_) => single(
            S::INTERNAL_SERVER_ERROR,
            Issue::system(codes::INTERNAL_ERROR, "An unexpected error occurred."),
            None,
        ),
    }
}

/// One envelope item.
pub fn item_json(issue: &Issue) -> Value {
    let metadata = if issue.metadata.is_empty() {
        Value::Null
    } else {
        Value::Object(
            issue
                .metadata
                .iter()
                .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
                .collect::<Map<_, _>>(),
        )
    };
    json!({
        "Code": issue.code,
        "Message": issue.message,
        "Target": Value::Null,
        "Field": issue.field.map(Field::as_str),
        "Metadata": metadata,
        "Type": issue.category as u8,
        "Severity": issue.severity as u8,
    })
}

fn envelope(
    status: StatusCode,
    code: &'static str,
    changed: bool,
    errors: &[Issue],
    warnings: &[Issue],
    retry_after: Option<u64>,
) -> Rendered {
    let body = json!({
        "Data": {"PasswordChanged": changed},
        "Errors": errors.iter().map(item_json).collect::<Vec<_>>(),
        "Warnings": warnings.iter().map(item_json).collect::<Vec<_>>(),
        "Success": changed,
    });
    let mut response = respond(status, "application/json", body);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    }
    Rendered { response, code }
}

fn problem(
    status: StatusCode,
    code: &'static str,
    detail: &str,
    info: &RequestInfo<'_>,
    headers: &[(header::HeaderName, &str)],
) -> Rendered {
    let body = json!({
        "type": problem_type(status),
        "title": problem_title(status),
        "status": status.as_u16(),
        "detail": detail,
        "instance": info.path,
        "traceId": info.trace_id,
    });
    let mut response = respond(status, "application/problem+json", body);
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name.clone(), value);
        }
    }
    Rendered { response, code }
}

/// RFC 9110's name of the status (413 is "Content Too Large" there, no longer "Payload").
fn problem_title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Content Too Large",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

/// RFC 9110's section for each status, as the problem `type`.
fn problem_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.1",
        401 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2",
        403 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.4",
        404 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.5",
        405 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6",
        413 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14",
        415 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.16",
        _ => "about:blank",
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
