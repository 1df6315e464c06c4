//! The raw Lambda event, checked and mended before lambda_http converts it: a body flagged
//! `isBase64Encoded` that is not base64 would make lambda_http panic, a header that is not valid
//! HTTP or a request URI it cannot build too, and a numeric JWT claim would make its parser
//! refuse the whole event. Each becomes an ordinary answer instead.

use crate::auth::principal;
use crate::edge::metrics::EventSource;
use base64::Engine;
use lambda_http::http::header;
use serde_json::Value;

/// What the raw-event pass found.
#[derive(Debug, Clone)]
pub struct EventFacts {
    pub source: EventSource,
    /// `requestContext` as sent.
    pub request_context: Value,
    /// `isBase64Encoded` was set but the body is not base64.
    pub body_unreadable: bool,
    /// A header was not valid HTTP (and was dropped).
    pub malformed: bool,
}

/// Checks and mends the raw event before lambda_http sees it. `None`: not an HTTP event.
pub fn prepare(event: &mut Value) -> Option<EventFacts> {
    let source = EventSource::of(event);
    let object = event.as_object_mut()?;
    let request_context = object
        .get("requestContext")
        .filter(|c| c.is_object())?
        .clone();
    let mut facts = EventFacts {
        source,
        request_context,
        body_unreadable: false,
        malformed: false,
    };
    for key in ["headers", "multiValueHeaders"] {
        if let Some(headers) = object.get_mut(key) {
            facts.malformed |= clean_headers(headers, key == "multiValueHeaders");
        }
    }
    if object.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        let readable = match object.get("body") {
            Some(Value::String(body)) => base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_ok(),
            Some(Value::Null) | None => true,
            Some(_) => false,
        };
        if !readable {
            facts.body_unreadable = true;
            object.insert("body".into(), Value::Null);
            object.insert("isBase64Encoded".into(), Value::Bool(false));
        }
    } else if object
        .get("body")
        .is_some_and(|b| !b.is_string() && !b.is_null())
    {
        facts.body_unreadable = true;
        object.insert("body".into(), Value::Null);
    }
    // lambda_http types JWT claims as a map of strings; API Gateway sends strings, but be
    // lenient. The principal is read from the untouched copy in `facts`.
    if let Some(jwt) = object
        .get_mut("requestContext")
        .and_then(|c| c.get_mut("authorizer"))
        .and_then(|a| a.get_mut("jwt"))
        .filter(|j| j.is_object())
    {
        match jwt.get_mut("claims").and_then(Value::as_object_mut) {
            Some(claims) => {
                for value in claims.values_mut() {
                    if !value.is_string() {
                        *value = Value::String(
                            principal::claim_string(value).unwrap_or_else(|| value.to_string()),
                        );
                    }
                }
            }
            None => jwt["claims"] = Value::Null,
        }
    }
    Some(facts)
}

/// Drops headers that are not valid HTTP; `true` if any was (null values are just absent).
fn clean_headers(headers: &mut Value, multi_value: bool) -> bool {
    let Some(map) = headers.as_object_mut() else {
        let malformed = !headers.is_null();
        *headers = Value::Null;
        return malformed;
    };
    let mut malformed = false;
    map.retain(|name, value| {
        if value.is_null() {
            return false;
        }
        // An empty Host would let the URL parser take the path's first segment for the host.
        let is_host = name.eq_ignore_ascii_case("host");
        let valid_value =
            |v: &str| header::HeaderValue::from_str(v).is_ok() && !(is_host && v.trim().is_empty());
        let name_ok = header::HeaderName::from_bytes(name.as_bytes()).is_ok();
        let value_ok = if multi_value {
            value
                .as_array()
                .is_some_and(|vs| vs.iter().all(|v| v.as_str().is_some_and(valid_value)))
        } else {
            value.as_str().is_some_and(valid_value)
        };
        malformed |= !(name_ok && value_ok);
        name_ok && value_ok
    });
    malformed
}

/// Whether lambda_http can build the request URI of `event` (it `unwrap`s the URL parse of
/// scheme, host and path, and `expect`s the `http::Uri` with the raw query appended).
pub fn uri_is_buildable(event: &Value) -> bool {
    let header = |name: &str| -> Option<String> {
        ["headers", "multiValueHeaders"].iter().find_map(|key| {
            let map = event.get(*key)?.as_object()?;
            let (_, value) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
            value
                .as_str()
                .or_else(|| value.get(0).and_then(Value::as_str))
                .map(String::from)
        })
    };
    let context = &event["requestContext"];
    let host = header("host").or_else(|| context["domainName"].as_str().map(String::from));
    let scheme = header("x-forwarded-proto").unwrap_or_else(|| "https".into());
    let raw_path = event["rawPath"]
        .as_str()
        .or(event["path"].as_str())
        .unwrap_or_default();
    let path = match context["stage"].as_str() {
        Some(stage) if stage != "$default" && !raw_path.starts_with(&format!("/{stage}/")) => {
            format!("/{stage}{raw_path}")
        }
        _ => raw_path.to_string(),
    };
    let base = match &host {
        Some(host) => format!("{scheme}://{host}{path}"),
        None => format!("http://localhost{path}"),
    };
    let Ok(url) = url::Url::parse(&base) else {
        return false;
    };
    let mut uri = if host.is_some() {
        url.to_string()
    } else {
        url.path().to_string()
    };
    if let Some(query) = event["rawQueryString"].as_str().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    http::Uri::try_from(uri).is_ok()
}

/// An event with the marks of an HTTP event (a request context and a method or a version).
pub fn looks_like_http(event: &Value) -> bool {
    event.get("requestContext").is_some_and(Value::is_object)
        && ["httpMethod", "version", "routeKey", "rawPath"]
            .iter()
            .any(|k| event.get(*k).is_some())
}
