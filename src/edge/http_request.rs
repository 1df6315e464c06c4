//! HTTP in: routing, media type, size and the JSON body (SPEC §2).

use crate::domain::change_password::ChangeRequest;
use crate::domain::issue::{Field, Issue, codes};
use serde_json::Value;

pub const ROUTE: &str = "/api/workspace/account/change-password";
/// Bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A request refused before any account is looked at (answered with a problem document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request body too large")]
    PayloadTooLarge,
    /// The event carries malformed HTTP (an invalid header, a missing method).
    #[error("malformed request")]
    Malformed,
}

/// The route, optionally behind one stage segment (`/prod/api/...`).
pub fn is_route(path: &str) -> bool {
    if path == ROUTE {
        return true;
    }
    match path.strip_suffix(ROUTE) {
        Some(prefix) => {
            let stage = prefix.strip_prefix('/').unwrap_or("");
            !stage.is_empty() && !stage.contains('/')
        }
        None => false,
    }
}

/// Steps 1 of SPEC §4: path, method, media type, size.
pub fn check_envelope(
    path: &str,
    method: &str,
    malformed: bool,
    content_type: Option<&[u8]>,
    body_len: usize,
) -> Result<(), Rejection> {
    if !is_route(path) {
        return Err(Rejection::NotFound);
    }
    if method != "POST" {
        return Err(Rejection::MethodNotAllowed);
    }
    if malformed {
        return Err(Rejection::Malformed);
    }
    if let Some(ct) = content_type
        && !is_json_media_type(ct)
    {
        return Err(Rejection::UnsupportedMediaType);
    }
    if body_len > MAX_BODY_BYTES {
        return Err(Rejection::PayloadTooLarge);
    }
    Ok(())
}

/// `application/json` or `application/*+json`, any parameters.
pub fn is_json_media_type(value: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    subtype == "json"
        || (subtype.ends_with("+json") && subtype.len() > "+json".len() && !subtype.contains('/'))
}

fn invalid_body(message: &str) -> ChangeRequest {
    ChangeRequest {
        input_issues: vec![Issue::validation(
            codes::INVALID_REQUEST_BODY,
            None,
            message,
        )],
        ..ChangeRequest::default()
    }
}

/// Parses the body: a JSON object whose property names match case-insensitively; unknown
/// properties are ignored; each password is a string or null.
pub fn parse_body(body: &[u8]) -> ChangeRequest {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return invalid_body("The request body must be a JSON object.");
    };
    let Value::Object(map) = value else {
        return invalid_body("The request body must be a JSON object.");
    };
    let mut request = ChangeRequest::default();
    let mut wrong_types = Vec::new();
    for (name, field, target) in [
        (
            "currentpassword",
            Field::CurrentPassword,
            &mut request.current_password,
        ),
        ("newpassword", Field::NewPassword, &mut request.new_password),
    ] {
        let mut matches = map.iter().filter(|(k, _)| k.to_lowercase() == name);
        let first = matches.next();
        if matches.next().is_some() {
            return invalid_body(
                "A property is given more than once (names match case-insensitively).",
            );
        }
        match first.map(|(_, v)| v) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => *target = Some(s.clone()),
            // Reported with every other validation error of the request (SPEC §4 step 5).
            Some(_) => wrong_types.push(Issue::validation(
                codes::INVALID_REQUEST_BODY,
                Some(field),
                format!("{} must be a string or null.", field.as_str()),
            )),
        }
    }
    request.input_issues = wrong_types;
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_stage() {
        assert!(is_route(ROUTE));
        assert!(is_route("/prod/api/workspace/account/change-password"));
        assert!(!is_route("/a/b/api/workspace/account/change-password"));
        assert!(!is_route("//api/workspace/account/change-password"));
        assert!(!is_route("/api/workspace/account/change-password/"));
        assert!(!is_route("/xapi/workspace/account/change-password"));
    }

    #[test]
    fn media_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
            "application/vnd.x+json;v=1",
        ] {
            assert!(is_json_media_type(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/xml",
            "application/+json",
            "application/jsonx",
            "json",
            "",
        ] {
            assert!(!is_json_media_type(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn envelope_checks_in_order() {
        let ct = Some(&b"text/plain"[..]);
        assert_eq!(
            check_envelope("/x", "GET", true, ct, 1 << 20),
            Err(Rejection::NotFound)
        );
        assert_eq!(
            check_envelope(ROUTE, "GET", true, ct, 1 << 20),
            Err(Rejection::MethodNotAllowed)
        );
        assert_eq!(
            check_envelope(ROUTE, "POST", true, ct, 1 << 20),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            check_envelope(ROUTE, "POST", false, ct, 1 << 20),
            Err(Rejection::UnsupportedMediaType)
        );
        assert_eq!(
            check_envelope(ROUTE, "POST", false, None, MAX_BODY_BYTES + 1),
            Err(Rejection::PayloadTooLarge)
        );
        assert_eq!(
            check_envelope(ROUTE, "POST", false, None, MAX_BODY_BYTES),
            Ok(())
        );
    }

    #[test]
    fn body_names_are_case_insensitive_and_unknowns_ignored() {
        let r = parse_body(br#"{"currentPassword":"a","NEWPASSWORD":"b","Extra":[1]}"#);
        assert!(r.input_issues.is_empty());
        assert_eq!(r.current_password.as_deref(), Some("a"));
        assert_eq!(r.new_password.as_deref(), Some("b"));
        let r = parse_body(br#"{"CurrentPassword":null}"#);
        assert!(
            r.input_issues.is_empty() && r.current_password.is_none() && r.new_password.is_none()
        );
    }

    #[test]
    fn bad_bodies_are_invalid_request_body() {
        for body in [
            &b""[..],
            b"[]",
            b"\"x\"",
            b"{",
            b"{\"CurrentPassword\":1}",
            b"{\"NewPassword\":{}}",
            b"\xff\xfe",
            br#"{"currentpassword":"a","CurrentPassword":"b"}"#,
        ] {
            let r = parse_body(body);
            assert_eq!(
                r.input_issues.len(),
                1,
                "{:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(r.input_issues[0].code, codes::INVALID_REQUEST_BODY);
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            parse_body(deep.as_bytes()).input_issues[0].code,
            codes::INVALID_REQUEST_BODY
        );
    }
}
