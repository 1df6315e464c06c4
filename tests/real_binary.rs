//! The real `change-password` binary under a Lambda Runtime API emulator: a corpus of bad input
//! (never a 5xx, never a dead process, no secret in the TRACE logs), and races between several
//! processes changing one account.

mod support;

use base64::Engine;
use serde_json::{Value, json};
use std::time::Duration;
use support::runtime_api::{Invocation, RuntimeApi, aws_vars, drain};
use support::*;

const MARKER: &str = "Corpus-Secret-Marker-93f1";
/// Events whose answer is known to differ from the expected one (none today): only their
/// class (4xx) is checked, and the difference is printed.
const KNOWN_DISCREPANCIES: &[&str] = &[];
const LIMIT: Duration = Duration::from_secs(20);

fn http_event(body: &str) -> Value {
    let mut e = load_event("apigw-http-jwt.json");
    e["isBase64Encoded"] = json!(false);
    e["body"] = json!(body);
    e
}

fn wrong(new: &str) -> String {
    json!({"CurrentPassword": format!("{MARKER}-wrong"), "NewPassword": new}).to_string()
}

/// A change made to a sample event.
type Mutation = Box<dyn Fn(&mut Value)>;

/// The status SPEC §2 gives a body: 413 over 16 KiB, else `otherwise`.
fn sized(e: &Value, otherwise: u16) -> u16 {
    let len = e["body"].as_str().map_or(0, str::len);
    if len > 16 * 1024 { 413 } else { otherwise }
}

/// At least 200 events an attacker or a broken client could send. `Some(status)`: an HTTP event,
/// which must get exactly that status (each derived from SPEC §2-§4 for that event: 400 for a
/// body that is not the request or a wrong current password, 401, 403, 404, 405, 413, 415);
/// `None`: not an HTTP event, which may get a clean error instead.
fn corpus() -> Vec<(String, Value, Option<u16>)> {
    let mut out: Vec<(String, Value, Option<u16>)> = Vec::new();
    let mut http = |name: String, e: Value, status: u16| out.push((name, e, Some(status)));
    // Bodies that are not the request: invalid JSON, wrong shapes and types.
    let bad_json = [
        "",
        " ",
        "{",
        "}",
        "[",
        "{\"CurrentPassword\"",
        "{\"CurrentPassword\":}",
        "{,}",
        "{'a':1}",
        "nul",
        "tru",
        "01",
        "{\"a\":1,}",
        "\u{0}",
        "{\"CurrentPassword\":\"a\"\"NewPassword\":\"b\"}",
        "{\"x\":\"\\u12\"}",
        "\"\\ud800\"",
        "[1,2",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "1e999999",
        "{\"CurrentPassword\":\"a\\x\"}",
        "<xml/>",
        "a=b&c=d",
        "{\"CurrentPassword\":\"a\",}",
        "// comment",
        "{\"a\":[}",
        "{\"a\":{\"b\":}",
        "\u{feff}{}",
        "{}}",
    ];
    for (i, body) in bad_json.iter().enumerate() {
        http(format!("bad-json-{i}"), http_event(body), 400);
    }
    let values = [
        json!(1),
        json!(1.5),
        json!(true),
        json!([]),
        json!(["a"]),
        json!({}),
        json!({"a": "b"}),
        json!(-0),
    ];
    for (i, v) in values.iter().enumerate() {
        http(
            format!("type-current-{i}"),
            http_event(
                &json!({"CurrentPassword": v, "NewPassword": "violet-Harbor-Lantern-42"})
                    .to_string(),
            ),
            400,
        );
        http(
            format!("type-new-{i}"),
            http_event(&json!({"CurrentPassword": MARKER, "NewPassword": v}).to_string()),
            400,
        );
    }
    for body in [
        json!([]),
        json!("text"),
        json!(42),
        json!(null),
        json!(true),
    ] {
        http(
            format!("not-object-{body}"),
            http_event(&body.to_string()),
            400,
        );
    }
    for depth in [10, 100, 127, 129, 1000, 5000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let e = http_event(&format!("{{\"CurrentPassword\":{nested}}}"));
        http(format!("deep-array-{depth}"), e.clone(), sized(&e, 400));
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let e = http_event(&objects);
        http(format!("deep-object-{depth}"), e.clone(), sized(&e, 400));
    }
    // Huge and strange strings.
    for len in [129, 1000, 15_000, 16_385, 100_000, 1_000_000] {
        let e = http_event(&wrong(&"x".repeat(len)));
        http(format!("huge-new-{len}"), e.clone(), sized(&e, 400));
        let e = http_event(
            &json!({"CurrentPassword": "y".repeat(len), "NewPassword": "violet-Harbor-Lantern-42"})
                .to_string(),
        );
        http(format!("huge-current-{len}"), e.clone(), sized(&e, 400));
    }
    let strange = [
        "\u{0}",
        "a\u{0}b-Lantern-Harbor-99",
        "\u{1}\u{2}\u{3}\u{7f}",
        "\r\n\t",
        "\u{202e}evil",
        "\u{fffd}\u{fffd}",
        "😀😀😀😀😀😀😀😀😀😀😀😀",
        "\u{FB01}\u{FB01}\u{FB01}\u{FB01}\u{FB01}\u{FB01}\u{FB01}",
        "ǅǅǅǅǅǅǅǅǅǅǅǅǅ",
        "' OR 1=1 --",
        "${jndi:ldap://x}",
        "%00%01",
        "\u{10ffff}\u{10ffff}",
    ];
    for (i, s) in strange.iter().enumerate() {
        http(format!("strange-new-{i}"), http_event(&wrong(s)), 400);
        http(
            format!("strange-current-{i}"),
            http_event(
                &json!({"CurrentPassword": s, "NewPassword": "violet-Harbor-Lantern-42"})
                    .to_string(),
            ),
            400,
        );
    }
    http(
        "null-fields".into(),
        http_event(&json!({"CurrentPassword": null, "NewPassword": null}).to_string()),
        400,
    );
    http(
        "empty-fields".into(),
        http_event(&json!({"CurrentPassword": "", "NewPassword": ""}).to_string()),
        400,
    );
    http(
        "dup-fields".into(),
        http_event(r#"{"CurrentPassword":"a","currentpassword":"b","NewPassword":"c"}"#),
        400,
    );
    // Base64 bodies: invalid base64, and valid base64 of invalid UTF-8.
    let b64 = base64::engine::general_purpose::STANDARD;
    for (i, body) in [
        "%%%",
        "a",
        "ab=",
        "====",
        "YWJj\n",
        "not base64 at all!",
        "Zm9v YmFy",
        "\u{0}",
        "-_-_",
        "YQ",
    ]
    .iter()
    .enumerate()
    {
        let mut e = http_event(body);
        e["isBase64Encoded"] = json!(true);
        http(format!("bad-base64-{i}"), e, 400);
    }
    for (i, bytes) in [
        vec![0xff],
        vec![0xc3, 0x28],
        vec![0xe2, 0x82],
        vec![0xf0, 0x9f, 0x98],
        vec![0xed, 0xa0, 0x80],
        vec![0x80; 10],
        vec![0; 5],
        b"{\"CurrentPassword\":\"\xff\"}".to_vec(),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = http_event(&b64.encode(bytes));
        e["isBase64Encoded"] = json!(true);
        http(format!("bad-utf8-{i}"), e, 400);
    }
    for body in [json!(5), json!({"a": 1}), json!([1])] {
        let mut e = http_event("");
        e["body"] = body.clone();
        http(format!("body-not-string-{body}"), e, 400);
    }
    // Headers and methods.
    for ct in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "json",
        "application/",
        "*/*",
        "application/json-patch",
        "text/json",
        "\u{7f}",
    ] {
        let mut e = http_event(&wrong("violet-Harbor-Lantern-42"));
        e["headers"]["content-type"] = json!(ct);
        // A value that is not valid HTTP (DEL) is a malformed request, not a media type.
        let status = if ct == "\u{7f}" { 400 } else { 415 };
        http(format!("content-type-{ct}"), e, status);
    }
    for method in [
        "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "post", "FOO",
    ] {
        let mut e = http_event(&wrong("violet-Harbor-Lantern-42"));
        e["requestContext"]["http"]["method"] = json!(method);
        http(format!("method-{method}"), e, 405);
    }
    // The authorizer's claims decide who calls, whatever the headers: a wrong current password.
    for (i, headers) in [
        json!(null),
        json!({}),
        json!({"content-type": null}),
        json!({"authorization": "Bearer"}),
        json!({"authorization": "Basic dXNlcjpwYXNz"}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = http_event(&wrong("violet-Harbor-Lantern-42"));
        e["headers"] = headers;
        http(format!("headers-{i}"), e, 400);
    }
    // Request URIs lambda_http cannot build (found by cargo fuzz: a backtick in the Host header
    // made it panic).
    // Each is a malformed request (400), but a path without its leading slash, which is another
    // path (404).
    let uri_breakers: Vec<(&str, Mutation)> = vec![
        (
            "host-backtick",
            Box::new(|e: &mut Value| {
                e["headers"]["host"] = json!("b2c3d4e5f6.execute-api.eu-west-1.amazon`aws.com")
            }),
        ),
        (
            "host-space",
            Box::new(|e: &mut Value| e["headers"]["host"] = json!("a b")),
        ),
        (
            "host-empty",
            Box::new(|e: &mut Value| e["headers"]["host"] = json!("")),
        ),
        (
            "host-port-bad",
            Box::new(|e: &mut Value| e["headers"]["host"] = json!("example.com:99999999")),
        ),
        (
            "domain-bad",
            Box::new(|e: &mut Value| {
                e["headers"].as_object_mut().unwrap().remove("host");
                e["requestContext"]["domainName"] = json!("bad domain");
            }),
        ),
        (
            "proto-bad",
            Box::new(|e: &mut Value| e["headers"]["x-forwarded-proto"] = json!("ht tp")),
        ),
        (
            "proto-empty",
            Box::new(|e: &mut Value| e["headers"]["x-forwarded-proto"] = json!("")),
        ),
        (
            "query-bad",
            Box::new(|e: &mut Value| e["rawQueryString"] = json!("a=b c")),
        ),
        (
            "query-hash",
            Box::new(|e: &mut Value| e["rawQueryString"] = json!("a=#b")),
        ),
        (
            "path-no-slash",
            Box::new(|e: &mut Value| e["rawPath"] = json!("api/workspace/account/change-password")),
        ),
    ];
    for (name, mutate) in uri_breakers {
        let mut e = http_event(&wrong("violet-Harbor-Lantern-42"));
        mutate(&mut e);
        let status = if name == "path-no-slash" { 404 } else { 400 };
        http(format!("uri-{name}"), e, status);
    }
    // Paths.
    for path in [
        "/",
        "",
        "/api",
        "/api/workspace/account/change-password/",
        "/API/WORKSPACE/ACCOUNT/CHANGE-PASSWORD",
        "/a/b/api/workspace/account/change-password",
        "/api/workspace/account/../account/change-password",
        "/api/workspace/account/change-password%00",
        "/ünï/api",
        &format!("/{}", "x".repeat(10_000)),
    ] {
        let mut e = http_event(&wrong("violet-Harbor-Lantern-42"));
        e["rawPath"] = json!(path);
        e["requestContext"]["http"]["path"] = json!(path);
        // Another path is 404; with its dot-segments removed (RFC 3986 §5.2.4) the `..` one is
        // the route itself, and its wrong current password a 400.
        let status = if path.contains("/../") { 400 } else { 404 };
        http(
            format!("path-{}", path.chars().take(40).collect::<String>()),
            e,
            status,
        );
    }
    // Missing or empty request-context fields and claims.
    let mutations: Vec<(&str, Mutation)> = vec![
        ("ctx-empty", Box::new(|e| e["requestContext"] = json!({}))),
        (
            "authorizer-null",
            Box::new(|e| e["requestContext"]["authorizer"] = json!(null)),
        ),
        (
            "authorizer-empty",
            Box::new(|e| e["requestContext"]["authorizer"] = json!({})),
        ),
        (
            "jwt-null",
            Box::new(|e| e["requestContext"]["authorizer"]["jwt"] = json!(null)),
        ),
        (
            "jwt-empty",
            Box::new(|e| e["requestContext"]["authorizer"]["jwt"] = json!({})),
        ),
        (
            "claims-empty",
            Box::new(|e| e["requestContext"]["authorizer"]["jwt"]["claims"] = json!({})),
        ),
        (
            "claims-null",
            Box::new(|e| e["requestContext"]["authorizer"]["jwt"]["claims"] = json!(null)),
        ),
        (
            "claims-array",
            Box::new(|e| e["requestContext"]["authorizer"]["jwt"]["claims"] = json!([1, 2])),
        ),
        (
            "sub-null",
            Box::new(|e| e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(null)),
        ),
        (
            "sub-empty",
            Box::new(|e| e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("")),
        ),
        (
            "sub-number",
            Box::new(|e| e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(12345)),
        ),
        (
            "sub-object",
            Box::new(|e| {
                e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!({"a": 1})
            }),
        ),
        (
            "sub-huge",
            Box::new(|e| {
                e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("s".repeat(5000))
            }),
        ),
        (
            "sub-other-user",
            Box::new(|e| {
                e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("no-such-user")
            }),
        ),
        (
            "machine",
            Box::new(|e| {
                let c = &mut e["requestContext"]["authorizer"]["jwt"]["claims"];
                c.as_object_mut().unwrap().remove("username");
                c["client_id"] = c["sub"].clone();
            }),
        ),
        (
            "lambda-empty",
            Box::new(|e| e["requestContext"]["authorizer"] = json!({"lambda": {}})),
        ),
        (
            "lambda-null",
            Box::new(|e| e["requestContext"]["authorizer"] = json!({"lambda": null})),
        ),
        (
            "principal-empty",
            Box::new(|e| e["requestContext"]["authorizer"] = json!({"principalId": ""})),
        ),
        (
            "api-key-only",
            Box::new(|e| {
                e["requestContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorizer");
                e["requestContext"]["identity"] = json!({"apiKey": "k", "apiKeyId": "id"});
            }),
        ),
        (
            "http-missing",
            Box::new(|e| {
                e["requestContext"].as_object_mut().unwrap().remove("http");
            }),
        ),
        (
            "stage-missing",
            Box::new(|e| {
                e["requestContext"].as_object_mut().unwrap().remove("stage");
            }),
        ),
        (
            "query-token-garbage",
            Box::new(|e| {
                e["requestContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorizer");
                e["queryStringParameters"] = json!({"access_token": "x.y.z"});
            }),
        ),
    ];
    // SPEC §3: no usable principal is 401 (the sample's own bearer token is then refused: no
    // verifier is configured), an API-key or machine caller 403; a user id with no record is 404
    // `AccountNotFound`; an event lambda_http cannot read is a malformed request (400); else the
    // current password is wrong (400).
    let expected = |name: &str| match name {
        "authorizer-null"
        | "authorizer-empty"
        | "jwt-null"
        | "jwt-empty"
        | "claims-empty"
        | "claims-null"
        | "claims-array"
        | "sub-null"
        | "sub-empty"
        | "sub-object"
        | "lambda-empty"
        | "lambda-null"
        | "principal-empty"
        | "query-token-garbage"
        // Longer than OpenID Connect allows a `sub` (and than a DynamoDB key can be).
        | "sub-huge" => 401,
        "machine" | "api-key-only" => 403,
        "sub-number" | "sub-other-user" => 404,
        "ctx-empty" | "http-missing" | "stage-missing" => 400,
        other => panic!("no expectation for {other}"),
    };
    for (name, mutate) in mutations {
        let mut e = http_event(&json!({"CurrentPassword": format!("{MARKER}-current"), "NewPassword": "violet-Harbor-Lantern-42"}).to_string());
        mutate(&mut e);
        http(name.to_string(), e, expected(name));
    }
    // REST and ALB shapes with odd fields: one set of headers missing still carries the
    // request (a wrong current password, 400); no claims is 401.
    for (i, (mutate, status)) in [
        (
            (|e: &mut Value| e["multiValueHeaders"] = json!(null)) as fn(&mut Value),
            400,
        ),
        (|e: &mut Value| e["headers"] = json!(null), 400),
        (
            |e: &mut Value| e["requestContext"]["authorizer"] = json!({"claims": null}),
            401,
        ),
        (
            |e: &mut Value| e["requestContext"]["authorizer"]["claims"] = json!({}),
            401,
        ),
        (|e: &mut Value| e["httpMethod"] = json!("GET"), 405),
        (|e: &mut Value| e["path"] = json!("/nope"), 404),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = load_event("apigw-rest-cognito.json");
        e["body"] = json!(wrong("violet-Harbor-Lantern-42"));
        mutate(&mut e);
        http(format!("rest-{i}"), e, status);
    }
    // alb.json's bearer token is refused (no verifier), whatever is done to it: 401.
    for (i, (mutate, status)) in [
        (
            (|e: &mut Value| e["headers"]["authorization"] = json!("Bearer garbage"))
                as fn(&mut Value),
            401,
        ),
        (
            |e: &mut Value| {
                e["headers"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorization");
            },
            401,
        ),
        (
            |e: &mut Value| e["queryStringParameters"] = json!({"access_token": ""}),
            401,
        ),
        (|e: &mut Value| e["httpMethod"] = json!("DELETE"), 405),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = load_event("alb.json");
        mutate(&mut e);
        http(format!("alb-{i}"), e, status);
    }
    // Not HTTP events at all.
    let not_http = [
        json!(null),
        json!(true),
        json!(1),
        json!("text"),
        json!([]),
        json!([1, 2, 3]),
        json!({}),
        json!({"Records": [{"eventSource": "aws:s3"}]}),
        json!({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}),
        json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
        json!({"requestContext": null}),
        json!({"requestContext": "x"}),
        json!({"requestContext": []}),
        json!({"httpMethod": "POST"}),
        json!({"version": "2.0"}),
        json!({"body": "x"}),
        json!({"key1": "value1"}),
    ];
    for (i, e) in not_http.into_iter().enumerate() {
        out.push((format!("not-http-{i}"), e, None));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_corpus_never_breaks_the_process() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let api = RuntimeApi::start().await;
    let mut child = api.spawn_function(&aws_vars(
        &table,
        &[
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("LOCKOUT_THRESHOLD", "0"),
        ],
    ));
    let stdout = tokio::spawn(drain(child.stdout.take().unwrap()));
    let stderr = tokio::spawn(drain(child.stderr.take().unwrap()));
    let corpus = corpus();
    assert!(
        corpus.len() >= 200,
        "the corpus has {} events",
        corpus.len()
    );
    let (mut statuses, mut errors, mut failures) =
        (std::collections::BTreeMap::new(), 0, Vec::new());
    for (name, event, expected) in &corpus {
        match api.invoke(event.clone(), LIMIT).await {
            Some(Invocation::Response(r)) => {
                let status = r["statusCode"].as_u64().unwrap_or(0);
                match expected {
                    Some(want)
                        if KNOWN_DISCREPANCIES.contains(&name.as_str())
                            && (400..500).contains(&status) =>
                    {
                        eprintln!("known discrepancy: {name}: {status}, expected {want}");
                    }
                    Some(want) if status != u64::from(*want) => failures.push(format!(
                        "{name}: status {status}, expected {want}: {}",
                        r["body"]
                    )),
                    None if !(400..500).contains(&status) => {
                        failures.push(format!("{name}: status {status}: {r}"))
                    }
                    _ => {}
                }
                // An ALB reads the status line from statusDescription.
                if event["requestContext"].get("elb").is_some() {
                    let reason = http::StatusCode::from_u16(status as u16)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or_default();
                    if r["statusDescription"] != format!("{status} {reason}").as_str() {
                        failures.push(format!(
                            "{name}: statusDescription {}",
                            r["statusDescription"]
                        ));
                    }
                }
                *statuses.entry(status).or_insert(0) += 1;
                let body = r["body"].as_str().unwrap_or_default();
                assert!(
                    !body.contains(MARKER),
                    "{name}: a password came back: {body}"
                );
            }
            Some(Invocation::Error(e)) => {
                if expected.is_some() {
                    failures.push(format!(
                        "{name}: an HTTP event got an invocation error: {e}"
                    ));
                }
                errors += 1;
            }
            None => panic!(
                "{name}: no answer: the process died or hung ({:?})",
                child.try_wait()
            ),
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "{name}: the process exited"
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The next valid request still succeeds.
    match api.invoke(load_event("apigw-http-jwt.json"), LIMIT).await {
        Some(Invocation::Response(r)) => assert_eq!(r["statusCode"], 200, "{r}"),
        other => panic!("{other:?}"),
    }
    child.kill().await.unwrap();
    let logs = format!("{}{}", stdout.await.unwrap(), stderr.await.unwrap());
    assert!(!logs.contains("panicked"), "a panic was logged");
    for secret in [MARKER, DEMO_CURRENT, DEMO_NEW, "$argon2"] {
        assert!(!logs.contains(secret), "{secret} reached the logs");
    }
    assert!(
        logs.contains("change-password request"),
        "the function logged its requests"
    );
    // The ready line names the argon2 SIMD backend this CPU selected.
    let backend = change_password::domain::password_hashing::Argon2Hasher::backend();
    assert!(
        logs.contains(&format!("\"argon2_backend\":\"{backend}\"")),
        "the ready line names the backend {backend}"
    );
    eprintln!(
        "corpus: {} events, statuses {statuses:?}, {errors} clean invocation errors",
        corpus.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_racing_on_one_account() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let api = std::sync::Arc::new(RuntimeApi::start().await);
    let mut children: Vec<_> = (0..3)
        .map(|_| api.spawn_function(&aws_vars(&table, &[("LOCKOUT_THRESHOLD", "100")])))
        .collect();
    // Concurrent wrong attempts are counted exactly.
    let attempts = 6;
    let mut tasks = Vec::new();
    for i in 0..attempts {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.invoke(
                http_event(&wrong(&format!("racer-{i}-Violet-Harbor-Lantern"))),
                LIMIT,
            )
            .await
        }));
    }
    for t in tasks {
        match t.await.unwrap() {
            Some(Invocation::Response(r)) => assert_eq!(r["statusCode"], 400, "{r}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        Some(attempts)
    );
    // Concurrent changes: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let api = api.clone();
        let new = format!("racer-{i}-Violet-Harbor-Lantern");
        let body = json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": new}).to_string();
        tasks.push(tokio::spawn(async move {
            (new, api.invoke(http_event(&body), LIMIT).await)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (new, answer) = t.await.unwrap();
        match answer {
            Some(Invocation::Response(r)) => match r["statusCode"].as_u64() {
                Some(200) => winners.push(new),
                Some(409) | Some(400) => {}
                _ => panic!("{r}"),
            },
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = s(&item(&sdk, &table, DEMO_SUB).await, "PasswordHash").unwrap();
    assert!(rust_argon2::verify_encoded(&stored, winners[0].as_bytes()).unwrap());
    for child in &mut children {
        assert!(child.try_wait().unwrap().is_none());
        child.kill().await.unwrap();
    }
}

/// Sends `guesses` concurrent wrong current passwords to `processes` instances; returns the
/// statuses and how many argon2 verifies of the current password the instances ran.
async fn burst(
    table: &str,
    processes: usize,
    guesses: usize,
) -> (std::collections::BTreeMap<u64, usize>, usize) {
    let api = std::sync::Arc::new(RuntimeApi::start().await);
    let mut children: Vec<_> = (0..processes)
        .map(|_| {
            api.spawn_function(&aws_vars(
                table,
                &[
                    ("LOCKOUT_THRESHOLD", "5"),
                    ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ],
            ))
        })
        .collect();
    let logs: Vec<_> = children
        .iter_mut()
        .map(|c| tokio::spawn(drain(c.stdout.take().unwrap())))
        .collect();
    let mut tasks = Vec::new();
    for i in 0..guesses {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.invoke(
                http_event(&wrong(&format!("burst-{i}-Violet-Harbor"))),
                LIMIT,
            )
            .await
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        match t.await.unwrap() {
            Some(Invocation::Response(r)) => {
                *statuses
                    .entry(r["statusCode"].as_u64().unwrap())
                    .or_insert(0) += 1
            }
            other => panic!("{other:?}"),
        }
    }
    for child in &mut children {
        assert!(child.try_wait().unwrap().is_none(), "an instance died");
        child.kill().await.unwrap();
    }
    let (mut verifies, mut durations) = (0, Vec::new());
    for log in logs {
        for line in log.await.unwrap().lines() {
            verifies += usize::from(line.contains("current password verified"));
            if let Ok(l) = serde_json::from_str::<Value>(line)
                && let Some(ms) = l["duration_ms"].as_f64()
            {
                durations.push(ms.round() as u64);
            }
        }
    }
    durations.sort();
    eprintln!("request durations (ms): {durations:?}");
    (statuses, verifies)
}

/// A stored hash that takes long to verify (64 MiB, t = 4), so that a burst overlaps.
async fn seed_slow(sdk: &aws_config::SdkConfig, table: &str, used: u32) {
    use change_password::domain::password_hashing::{
        Argon2Hasher, Argon2Settings, PasswordHashing, PepperKeys,
    };
    let slow = Argon2Hasher::new(Argon2Settings {
        memory_kib: 65_536,
        iterations: 4,
        parallelism: 1,
    });
    let mut record = seed_demo(sdk, table, DEMO_CURRENT).await;
    record.password_hash = Some(slow.hash(DEMO_CURRENT, &PepperKeys::none()).unwrap());
    record.failed_attempts = used;
    change_password::aws::dynamodb_store::put_record(
        &aws_sdk_dynamodb::Client::new(sdk),
        table,
        &record,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_guesses_across_instances_runs_at_most_the_threshold_of_verifies() {
    let sdk = sdk().await;
    // A fresh account: 12 guesses on 6 instances at once.
    let table = new_table(&sdk).await;
    seed_slow(&sdk, &table, 0).await;
    let (statuses, verifies) = burst(&table, 6, 12).await;
    eprintln!("burst on a fresh account: statuses {statuses:?}, verifies {verifies}");
    assert_eq!(verifies, 5, "{statuses:?}");
    // A wrong guess whose argon2 ends after the lock was set answers 429 too: at most four
    // 400s, and only from guesses that ended before the fifth attempt was taken.
    let wrong = statuses.get(&400).copied().unwrap_or(0);
    assert!(wrong <= 4, "{statuses:?}");
    assert_eq!(
        statuses.get(&429).copied().unwrap_or(0),
        12 - wrong,
        "{statuses:?}"
    );
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert!(n(&after, "LockedUntil").is_some());
    assert_eq!(n(&after, "FailedPasswordAttempts"), Some(0));
    // Four attempts already used: six guesses at once run one verify, and none answers 400.
    let table = new_table(&sdk).await;
    seed_slow(&sdk, &table, 4).await;
    let (statuses, verifies) = burst(&table, 6, 6).await;
    eprintln!("burst with 4 attempts used: statuses {statuses:?}, verifies {verifies}");
    assert_eq!(verifies, 1, "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&6), "{statuses:?}");
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert!(n(&after, "LockedUntil").is_some());
    assert_eq!(n(&after, "FailedPasswordAttempts"), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hs256_key_under_32_bytes_stops_the_cold_start_of_both_binaries() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let api = RuntimeApi::start().await;
    for (key, starts) in [
        ("too-short-31-bytes-of-hs256-key", false),
        ("a-key-of-exactly-32-bytes-hs256!", true),
    ] {
        assert_eq!(key.len(), if starts { 32 } else { 31 });
        let secret_id = format!("hs256-{}-{}", std::process::id(), key.len());
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(&secret_id)
            .secret_string(key)
            .send()
            .await
            .unwrap();
        let mut child = api.spawn_function(&aws_vars(
            &table,
            &[
                ("JWT_ISSUER", "https://issuer.example"),
                ("JWT_HS256_SECRET_ID", &secret_id),
            ],
        ));
        let stderr = tokio::spawn(drain(child.stderr.take().unwrap()));
        if starts {
            // It serves: an event without a token answers 401.
            let mut e = http_event("{}");
            e["requestContext"]["authorizer"] = Value::Null;
            e["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
            match api.invoke(e, LIMIT).await {
                Some(Invocation::Response(r)) => assert_eq!(r["statusCode"], 401, "{r}"),
                other => panic!("{other:?}"),
            }
            child.kill().await.unwrap();
        } else {
            let status = tokio::time::timeout(LIMIT, child.wait())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(status.code(), Some(2));
            let stderr = stderr.await.unwrap();
            assert!(stderr.contains("JWT_HS256_SECRET_ID"), "{stderr}");
            assert!(stderr.contains("32"), "{stderr}");
            assert!(
                !stderr.contains(key),
                "the key itself is never printed: {stderr}"
            );
            // token-authorizer, with the same configuration, refuses to start too.
            let mut authorizer = api.spawn_authorizer(&aws_vars(
                &table,
                &[
                    ("JWT_ISSUER", "https://issuer.example"),
                    ("JWT_HS256_SECRET_ID", &secret_id),
                ],
            ));
            let stderr = tokio::spawn(drain(authorizer.stderr.take().unwrap()));
            let status = tokio::time::timeout(LIMIT, authorizer.wait())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(status.code(), Some(2));
            let stderr = stderr.await.unwrap();
            assert!(stderr.contains("JWT_HS256_SECRET_ID"), "{stderr}");
            assert!(!stderr.contains(key), "{stderr}");
        }
    }
}

/// Sets number attributes of the demo user's item.
async fn set_numbers(sdk: &aws_config::SdkConfig, table: &str, values: &[(&str, i64)]) {
    let values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)> = values
        .iter()
        .map(|(name, v)| {
            (
                *name,
                aws_sdk_dynamodb::types::AttributeValue::N(v.to_string()),
            )
        })
        .collect();
    set_attributes(sdk, table, &values).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_crossing_the_hard_lock_runs_no_more_wrong_guesses_in_a_row_than_the_cap() {
    let sdk = sdk().await;
    // 97 wrong current passwords in a row already (across 19 locks, the last one over): eight
    // guesses at once on four instances may run three more verifies, never a fourth.
    let table = new_table(&sdk).await;
    seed_slow(&sdk, &table, 0).await;
    set_numbers(
        &sdk,
        &table,
        &[("ConsecutiveFailedAttempts", 97), ("LockCount", 19)],
    )
    .await;
    let (statuses, verifies) = burst(&table, 4, 8).await;
    eprintln!("burst across the hard lock: statuses {statuses:?}, verifies {verifies}");
    assert_eq!(verifies, 3, "{statuses:?}");
    // Guesses that ended before the hard lock: 400; the one that took it: 401; the others:
    // 401, or 429 AttemptsInFlight while that last verify was still running.
    let wrong = statuses.get(&400).copied().unwrap_or(0);
    assert!(wrong <= 2, "{statuses:?}");
    let challenged = statuses.get(&401).copied().unwrap_or(0);
    assert!(challenged >= 1, "{statuses:?}");
    assert_eq!(
        challenged + statuses.get(&429).copied().unwrap_or(0),
        8 - wrong,
        "{statuses:?}"
    );
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&after, "ConsecutiveFailedAttempts"), Some(100));
    let since = n(&after, "SignInRequiredAfter").expect("hard-locked");

    // The right password with a token from before the hard lock: the RFC 9470 challenge, no
    // argon2; a token from a sign-in after it lifts the lock and the change goes through.
    let app = app(&sdk, &table).await;
    let right = json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW}).to_string();
    let mut old = http_event(&right);
    old["requestContext"]["authorizer"]["jwt"]["claims"]["auth_time"] = json!(since.to_string());
    let a = invoke(&app, old, "old-sign-in").await;
    a.assert_problem(401, "old-sign-in");
    let challenge = a.header("www-authenticate").unwrap().to_string();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_user_authentication\"")
            && challenge.contains("max_age=\""),
        "{challenge}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut fresh = http_event(&right);
    fresh["requestContext"]["authorizer"]["jwt"]["claims"]["auth_time"] = json!(now().to_string());
    fresh["requestContext"]["authorizer"]["jwt"]["claims"]["iat"] = json!(now().to_string());
    let a = invoke(&app, fresh, "new-sign-in").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&after, "SignInRequiredAfter"), None);
    assert_eq!(n(&after, "ConsecutiveFailedAttempts"), Some(0));
    assert_eq!(n(&after, "LockCount"), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_right_passwords_are_never_told_of_a_lock_that_is_not_there() {
    let sdk = sdk().await;
    // Four attempts used: the next one takes the last and sets the lock before argon2 runs.
    // Six changes with the right password at once: the lock is lifted as soon as that verify
    // says right; meanwhile the others hear of attempts in flight, with a short Retry-After.
    let table = new_table(&sdk).await;
    seed_slow(&sdk, &table, 4).await;
    let api = std::sync::Arc::new(RuntimeApi::start().await);
    let mut children: Vec<_> = (0..3)
        .map(|_| api.spawn_function(&aws_vars(&table, &[("LOCKOUT_THRESHOLD", "5")])))
        .collect();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let body = json!({"CurrentPassword": DEMO_CURRENT,
                    "NewPassword": format!("racer-{i}-Violet-Harbor-Lantern")});
                api.invoke(http_event(&body.to_string()), LIMIT).await
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        let Some(Invocation::Response(r)) = t.await.unwrap() else {
            panic!("no answer")
        };
        let status = r["statusCode"].as_u64().unwrap();
        *statuses.entry(status).or_insert(0) += 1;
        if status == 429 {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            let retry_after: u64 = r["headers"]["retry-after"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                body["Errors"][0]["Metadata"]["Reason"], "AttemptsInFlight",
                "{body}"
            );
            // 10 s pending at most, counted from another process's clock second: one more
            // second when the racer read its clock in the second before (seen under load).
            assert!(
                retry_after <= 11,
                "a lock that is not there announced: {retry_after}"
            );
        }
    }
    eprintln!("right passwords racing over the last attempt: {statuses:?}");
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&after, "LockedUntil"), None, "the lock was lifted");
    assert_eq!(n(&after, "LockPendingUntil"), None);
    for child in &mut children {
        child.kill().await.unwrap();
    }
}

/// A token of the test issuer, signed with `key`.
fn hs256_token(key: &str, claims: Value) -> String {
    sign_hs256(key, &claims)
}

#[tokio::test]
async fn a_machine_let_through_by_token_authorizer_is_403_at_change_password() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let key = "a-test-only-hs256-key-of-thirty-two-bytes-or-more";
    let secret_id = create_secret(&sdk, &format!("machine-{table}"), key).await;
    let issuer = "https://issuer.example";
    let vars = [
        ("JWT_ISSUER", issuer),
        ("JWT_HS256_SECRET_ID", secret_id.as_str()),
    ];
    let authorizers = RuntimeApi::start().await;
    let mut authorizer = authorizers.spawn_authorizer(&aws_vars(&table, &vars));
    let functions = RuntimeApi::start().await;
    let mut function = functions.spawn_function(&aws_vars(&table, &[]));
    let machine = hs256_token(
        key,
        json!({"sub": "app-1", "client_id": "app-1", "token_use": "access", "iss": issuer,
               "iat": now(), "exp": now() + 600}),
    );
    let user = hs256_token(
        key,
        json!({"sub": DEMO_SUB, "username": "demo", "token_use": "access", "iss": issuer,
               "iat": now(), "exp": now() + 600}),
    );
    for (token, kind, status) in [(machine, "machine", 403), (user, "user", 400)] {
        let mut event = load_event("authorizer-http-simple.json");
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
        event["identitySource"] = json!([format!("Bearer {token}")]);
        let Some(Invocation::Response(answer)) = authorizers.invoke(event, LIMIT).await else {
            panic!("the authorizer answers")
        };
        assert_eq!(answer["isAuthorized"], true, "{answer}");
        assert_eq!(answer["context"]["principal_type"], kind, "{answer}");
        // The API behind it passes that context on to change-password.
        let mut request = http_event(&wrong("Violet-Harbor-Lantern-42-x"));
        request["requestContext"]["authorizer"] = json!({"lambda": answer["context"]});
        let Some(Invocation::Response(r)) = functions.invoke(request, LIMIT).await else {
            panic!("change-password answers")
        };
        assert_eq!(r["statusCode"], status, "{kind}: {r}");
    }
    authorizer.kill().await.unwrap();
    function.kill().await.unwrap();
}

#[tokio::test]
async fn behind_an_alb_only_https_and_only_a_header_token() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let api = RuntimeApi::start().await;
    // No issuer configured: a token that reaches verification is refused as invalid (the
    // door's own rules come first).
    let mut function = api.spawn_function(&aws_vars(&table, &[]));
    let sample = load_event("alb.json");
    let token = sample["headers"]["authorization"]
        .as_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_string();
    let mut plain_http = sample.clone();
    plain_http["headers"]["x-forwarded-proto"] = json!("http");
    plain_http["headers"]["x-forwarded-port"] = json!("80");
    let mut no_proto = sample.clone();
    no_proto["headers"]
        .as_object_mut()
        .unwrap()
        .remove("x-forwarded-proto");
    let mut query_token = sample.clone();
    query_token["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    query_token["queryStringParameters"] = json!({"access_token": token});
    for (name, event, challenge) in [
        ("plain HTTP", plain_http, "Bearer error=\"invalid_request\""),
        (
            "no X-Forwarded-Proto",
            no_proto,
            "Bearer error=\"invalid_request\"",
        ),
        (
            "query token",
            query_token,
            "Bearer error=\"invalid_request\"",
        ),
        // As committed: HTTPS and a header token (not a valid one).
        ("the sample", sample, "Bearer error=\"invalid_token\""),
    ] {
        let Some(Invocation::Response(r)) = api.invoke(event, LIMIT).await else {
            panic!("{name}: no answer")
        };
        assert_eq!(r["statusCode"], 401, "{name}: {r}");
        assert_eq!(r["headers"]["www-authenticate"], challenge, "{name}: {r}");
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["status"], 401, "{name}");
    }
    function.kill().await.unwrap();
}
