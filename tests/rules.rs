//! Rules of SPEC §2-§5 that had no test of their own (issue 16, point 2), through the whole
//! handler against a DynamoDB-API server. Where a rule is about what the store sends, or needs a
//! race to happen at a chosen moment, a small proxy in front of moto records the requests and
//! can change the table just before it forwards one.

mod support;

use base64::Engine;
use change_password::domain::password_hashing::PasswordHashing;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::recording_proxy::{Hook, RecordingProxy, Seen};
use support::*;
use tokio::io::AsyncWriteExt;

/// An HTTP API event with a Lambda authorizer for the demo user, and `body`.
fn event(body: &str) -> Value {
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["body"] = Value::String(body.to_string());
    e
}

fn body(current: &str, new: &str) -> String {
    json!({"CurrentPassword": current, "NewPassword": new}).to_string()
}

fn change(current: &str, new: &str) -> Value {
    event(&body(current, new))
}

/// Sets attributes of the demo item directly (as provisioning or another writer would).
async fn set(
    sdk: &aws_config::SdkConfig,
    table: &str,
    values: &[(&str, aws_sdk_dynamodb::types::AttributeValue)],
) {
    set_attributes(sdk, table, values).await
}

fn attr_s(v: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(v.into())
}

fn attr_n(v: i64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(v.to_string())
}

/// The single error item of an envelope, checked for its code, type and severity.
fn single_error<'a>(a: &'a Answer, code: &str, category: u64) -> &'a Value {
    a.assert_envelope();
    assert_eq!(a.body["Success"], false, "{}", a.body);
    assert_eq!(a.body["Data"]["PasswordChanged"], false, "{}", a.body);
    assert_eq!(a.error_codes(), vec![code.to_string()], "{}", a.body);
    let error = &a.body["Errors"][0];
    assert_eq!(error["Type"], category, "{error}");
    assert_eq!(error["Severity"], 2, "{error}");
    error
}

fn is_commit(operation: &str, body: &Value) -> bool {
    operation == "UpdateItem"
        && body["UpdateExpression"]
            .as_str()
            .is_some_and(|e| e.contains("PasswordHash = :new"))
}

fn is_reservation(operation: &str, body: &Value) -> bool {
    operation == "UpdateItem"
        && body["UpdateExpression"]
            .as_str()
            .is_some_and(|e| e.contains("ADD FailedPasswordAttempts :one"))
}

/// Another change of the demo account, committed by someone else.
fn another_change_wins(sdk: &aws_config::SdkConfig, table: &str, winner_hash: String) -> Hook {
    let (sdk, table) = (sdk.clone(), table.to_string());
    Box::new(move || {
        Box::pin(async move {
            set(
                &sdk,
                &table,
                &[
                    ("PasswordHash", attr_s(&winner_hash)),
                    ("PasswordVersion", attr_n(1)),
                ],
            )
            .await
        })
    })
}

// ---------------------------------------------------------------------------------------------
// §4: responses.

#[tokio::test]
async fn anything_unexpected_is_a_500_internal_error_envelope_without_internals() {
    let (sdk, table, app) = setup().await;
    // Three different internal failures: a stored hash above the verifiable bounds, a stored
    // hash naming a pepper key that is not configured, an attribute of the wrong type.
    let over_bounds =
        "$argon2id$v=19$m=262145,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    let unknown_key = "$argon2id$v=19$m=64,t=1,p=1,keyid=azk$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    let causes: Vec<(&str, Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>)> = vec![
        (
            "hash over bounds",
            vec![("PasswordHash", attr_s(over_bounds))],
        ),
        (
            "unknown pepper key",
            vec![("PasswordHash", attr_s(unknown_key))],
        ),
        (
            "PasswordVersion not a number",
            vec![("PasswordVersion", attr_s("seven"))],
        ),
    ];
    let mut messages = Vec::new();
    for (cause, values) in causes {
        seed_demo(&sdk, &table, DEMO_CURRENT).await;
        set(&sdk, &table, &values).await;
        let before = item(&sdk, &table, DEMO_SUB).await;
        let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), cause).await;
        assert_eq!(a.status, 500, "{cause}: {}", a.body);
        let error = single_error(&a, "InternalError", 2);
        assert_eq!(error["Field"], Value::Null, "{cause}");
        assert_eq!(error["Metadata"], Value::Null, "{cause}");
        assert_eq!(a.body["Warnings"], json!([]), "{cause}");
        let text = a.body.to_string();
        for internal in [
            "argon2",
            "PHC",
            "bound",
            "keyid",
            "pepper",
            "attribute",
            "PasswordVersion",
            "seven",
            "GetItem",
            "DynamoDB",
            "c29tZXNhbHQ",
            DEMO_CURRENT,
            DEMO_NEW,
        ] {
            assert!(!text.contains(internal), "{cause}: {internal} in {text}");
        }
        messages.push(error["Message"].as_str().unwrap().to_string());
        // Nothing was changed.
        let after = item(&sdk, &table, DEMO_SUB).await;
        assert_eq!(s(&after, "PasswordHash"), s(&before, "PasswordHash"));
        assert_eq!(after.get("PasswordChangedAt"), None, "{cause}");
    }
    // The message is the same whatever went wrong: it says nothing of the cause.
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");
}

// The request budget. A DynamoDB that never answers is cut by the SDK's own operation timeout
// (2 s) long before the 8 s budget; the budget is what answers when every call is slow but
// within the SDK's per-call limits, and there are enough of them.

/// A DynamoDB endpoint that answers each request after `delay`: GetItem with `item`, any other
/// operation with ConditionalCheckFailedException. Counts the requests it received.
async fn slow_dynamodb(delay: Duration, item: Value) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (c, item) = (c.clone(), item.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(request) = support::http1::read_request(&mut socket, &mut buf).await
                {
                    c.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&request.raw).to_ascii_lowercase();
                    tokio::time::sleep(delay).await;
                    let (status, body) = if head.contains("dynamodb_20120810.getitem") {
                        (200, json!({"Item": item}))
                    } else {
                        (
                            400,
                            json!({"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                                   "message": "The conditional request failed"}),
                        )
                    };
                    let body = body.to_string();
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: slow\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, count)
}

/// The cause of a 5xx as the request's log line gives it (`detail`): what cut the request,
/// read from what happened instead of from how long it took.
fn logged_cause(request_id: &str) -> String {
    let lines = support::log_capture::capture().request_lines(request_id);
    assert_eq!(lines.len(), 1, "{request_id} was logged once: {lines:?}");
    lines[0]["detail"].as_str().unwrap_or_default().to_string()
}

const BUDGET_CAUSE: &str = "a dependency is unavailable: the request did not finish within 8 s";

#[tokio::test]
async fn slow_dependencies_are_cut_at_the_8_s_budget_with_a_503() {
    let sdk = sdk().await;
    let hash = hasher()
        .hash(
            DEMO_CURRENT,
            &change_password::domain::password_hashing::PepperKeys::none(),
        )
        .unwrap();
    // Each call answers in 1 s, under the SDK's 1.5 s attempt timeout, so none times out;
    // the attempt counter "keeps changing" (every update's condition fails), so the store
    // reads and retries: 10 calls, 10 s, if nothing cuts the request.
    let (url, requests) = slow_dynamodb(
        Duration::from_millis(1000),
        json!({"UserId": {"S": DEMO_SUB}, "PasswordHash": {"S": hash}}),
    )
    .await;
    let handler = handler_at_endpoint(&sdk, &url, "users");
    support::log_capture::capture();
    let started = Instant::now();
    let response = handler
        .handle_event(change(DEMO_CURRENT, DEMO_NEW), context("budget"))
        .await
        .unwrap();
    let took = started.elapsed();
    let a = Answer::from_lambda(&response);
    assert_eq!(a.status, 503, "{}", a.body);
    single_error(&a, "ServiceUnavailable", 2);
    assert_eq!(a.header("retry-after"), Some("1"));
    eprintln!("budget: answered after {took:?}");
    // Cut by the budget (its own cause, not an SDK timeout), which is never early; a slow
    // machine only makes it later.
    assert_eq!(logged_cause("budget"), BUDGET_CAUSE);
    assert!(took >= Duration::from_secs(8), "answered after {took:?}");
    // The work was abandoned with the answer: at most the call already sent at the answer
    // reaches the server after it; a sequence that went on would make one every second.
    let sent = requests.load(Ordering::SeqCst);
    assert!(sent < 10, "the whole sequence ran: {sent} calls");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let after = requests.load(Ordering::SeqCst);
    assert!(after <= sent + 1, "calls went on: {sent} then {after}");
}

#[tokio::test]
async fn a_dynamodb_that_never_answers_is_a_503_from_the_sdk_timeout_before_the_budget() {
    let sdk = sdk().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let handler = handler_at_endpoint(&sdk, &url, "users");
    support::log_capture::capture();
    let started = Instant::now();
    let response = handler
        .handle_event(change(DEMO_CURRENT, DEMO_NEW), context("hang"))
        .await
        .unwrap();
    let took = started.elapsed();
    let a = Answer::from_lambda(&response);
    assert_eq!(a.status, 503, "{}", a.body);
    single_error(&a, "ServiceUnavailable", 2);
    assert_eq!(a.header("retry-after"), Some("1"));
    eprintln!("hang: answered after {took:?}");
    // The SDK's operation timeout (2 s) answers, not the 8 s budget.
    let cause = logged_cause("hang");
    assert!(
        cause.contains("timeout") && cause != BUDGET_CAUSE,
        "{cause}"
    );
    let operation = change_password::aws::clients::OPERATION_TIMEOUT;
    assert!(took >= operation, "answered after {took:?}");
}

// ---------------------------------------------------------------------------------------------
// §4: the order of checks.

#[tokio::test]
async fn an_unauthenticated_request_is_judged_on_path_method_type_and_size_first() {
    let (_sdk, _table, app) = setup().await;
    let anonymous = |body: &str| {
        let mut e = event(body);
        e["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("authorizer");
        e["headers"]
            .as_object_mut()
            .unwrap()
            .remove("authorization");
        e
    };
    // As it stands, the request is unauthenticated.
    let a = invoke(&app, anonymous(&body(DEMO_CURRENT, DEMO_NEW)), "r0").await;
    a.assert_problem(401, "r0");
    // Step 1 comes before step 2: each of these is its own problem, not a 401.
    let mut e = anonymous(&body(DEMO_CURRENT, DEMO_NEW));
    e["rawPath"] = json!("/api/workspace/account/other");
    e["requestContext"]["http"]["path"] = json!("/api/workspace/account/other");
    let a = invoke(&app, e, "r1").await;
    a.assert_problem(404, "r1");
    assert_eq!(a.header("www-authenticate"), None);
    let mut e = anonymous(&body(DEMO_CURRENT, DEMO_NEW));
    e["requestContext"]["http"]["method"] = json!("GET");
    let a = invoke(&app, e, "r2").await;
    a.assert_problem(405, "r2");
    assert_eq!(a.header("allow"), Some("POST"));
    let mut e = anonymous(&body(DEMO_CURRENT, DEMO_NEW));
    e["headers"]["content-type"] = json!("text/plain");
    invoke(&app, e, "r3").await.assert_problem(415, "r3");
    let big = json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW, "Pad": "p".repeat(17 * 1024)});
    invoke(&app, anonymous(&big.to_string()), "r4")
        .await
        .assert_problem(413, "r4");
}

#[tokio::test]
async fn a_disabled_or_service_account_is_403_even_while_locked() {
    let (sdk, table, app) = setup().await;
    let locked_until = now() + 600;
    // The lock is live: an active user gets 429.
    set(&sdk, &table, &[("LockedUntil", attr_n(locked_until))]).await;
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "active").await;
    assert_eq!(a.status, 429, "{}", a.body);
    // Step 3 (the account) comes before step 4 (the lockout).
    for (name, attr, value) in [
        ("disabled", "Status", "Disabled"),
        ("service", "AccountType", "Service"),
    ] {
        seed_demo(&sdk, &table, DEMO_CURRENT).await;
        set(
            &sdk,
            &table,
            &[(attr, attr_s(value)), ("LockedUntil", attr_n(locked_until))],
        )
        .await;
        let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), name).await;
        a.assert_problem(403, name);
        assert_eq!(a.header("retry-after"), None, "{name}");
        let after = item(&sdk, &table, DEMO_SUB).await;
        assert_eq!(n(&after, "FailedPasswordAttempts"), None, "{name}");
        assert_eq!(n(&after, "PasswordVersion"), None, "{name}");
    }
    // A token issued before the last change is refused (401) before the lock, too.
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    set(
        &sdk,
        &table,
        &[
            ("TokensValidAfter", attr_n(now() - 10)),
            ("LockedUntil", attr_n(locked_until)),
        ],
    )
    .await;
    let mut e = change(DEMO_CURRENT, DEMO_NEW);
    e["requestContext"]["authorizer"]["lambda"]["iat"] = json!(now() - 100);
    let a = invoke(&app, e, "revoked").await;
    a.assert_problem(401, "revoked");
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn unchanged_after_nfc_and_a_wrong_current_password_over_a_reused_one() {
    let (sdk, table, app) = setup().await;
    // The same password composed and decomposed: NFC makes them one.
    let composed = "caf\u{E9} horse battery staple";
    let decomposed = "cafe\u{301} horse battery staple";
    for (current, new) in [(composed, decomposed), (decomposed, composed)] {
        let a = invoke(&app, change(current, new), "unchanged").await;
        assert_eq!(a.status, 400, "{current} -> {new}: {}", a.body);
        a.assert_envelope();
        let unchanged = a.body["Errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["Code"] == "PasswordUnchanged")
            .unwrap_or_else(|| panic!("{current} -> {new}: no PasswordUnchanged: {}", a.body));
        assert_eq!(unchanged["Field"], "NewPassword");
        assert_eq!(unchanged["Type"], 0);
    }
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        None,
        "a validation error counts nothing"
    );
    // After a change, the old password is in the history; sent as the new one with a wrong
    // current password, the answer is the wrong password (reuse is judged after step 6).
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "change").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = invoke(&app, change("not the password", DEMO_CURRENT), "both").await;
    assert_eq!(a.status, 400, "{}", a.body);
    let error = single_error(&a, "CurrentPasswordIncorrect", 1);
    assert_eq!(error["Field"], "CurrentPassword");
    assert_eq!(error["Metadata"], json!({"RemainingAttempts": "4"}));
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        Some(1)
    );
}

#[tokio::test]
async fn password_reused_carries_the_configured_history_depth() {
    for (depth, config_value) in [(5, None), (2, Some("2"))] {
        let sdk = sdk().await;
        let table = new_table(&sdk).await;
        seed_demo(&sdk, &table, DEMO_CURRENT).await;
        let extra: Vec<(&str, &str)> = config_value
            .map(|v| vec![("PASSWORD_HISTORY", v)])
            .unwrap_or_default();
        let app = change_password::app::build(&config(&table, &extra), &sdk).unwrap();
        let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "first").await;
        assert_eq!(a.status, 200, "{}", a.body);
        let a = invoke(&app, change(DEMO_NEW, DEMO_CURRENT), "back").await;
        assert_eq!(a.status, 400, "{}", a.body);
        let error = single_error(&a, "PasswordReused", 1);
        assert_eq!(error["Field"], "NewPassword");
        assert_eq!(
            error["Metadata"],
            json!({"HistoryDepth": depth.to_string()}),
            "PASSWORD_HISTORY={config_value:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// §5: the record.

#[tokio::test]
async fn missing_account_type_and_status_mean_user_and_active() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let hash = hasher()
        .hash(
            DEMO_CURRENT,
            &change_password::domain::password_hashing::PepperKeys::none(),
        )
        .unwrap();
    // An item as minimal provisioning writes it: no AccountType, no Status.
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(&table)
        .item("UserId", attr_s(DEMO_SUB))
        .item("PasswordHash", attr_s(&hash))
        .send()
        .await
        .unwrap();
    let app = app(&sdk, &table).await;
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "r").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["Success"], true);
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&after, "PasswordVersion"), Some(1));
    assert!(
        rust_argon2::verify_encoded(&s(&after, "PasswordHash").unwrap(), DEMO_NEW.as_bytes())
            .unwrap()
    );
    // Provisioning's attributes are left as they were: still absent.
    assert_eq!(after.get("AccountType"), None);
    assert_eq!(after.get("Status"), None);
}

#[tokio::test]
async fn every_read_of_the_account_is_consistent() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let proxy = RecordingProxy::start().await;
    let app = change_password::app::build(&config(&table, &[]), &proxy.sdk(&sdk)).unwrap();
    let consistent_reads = |seen: &[Seen], what: &str| -> usize {
        let reads: Vec<&Seen> = seen.iter().filter(|s| s.operation == "GetItem").collect();
        for read in &reads {
            assert_eq!(
                read.body["ConsistentRead"], true,
                "{what}: an eventually consistent read: {}",
                read.body
            );
            assert_eq!(read.body["TableName"], table.as_str());
        }
        assert!(
            seen.iter()
                .all(|s| s.operation != "Query" && s.operation != "Scan"),
            "{what}: {seen:?}"
        );
        reads.len()
    };
    // 1. The read of step 3, on a change that succeeds.
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "change").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(consistent_reads(&proxy.take(), "change"), 1);
    // 2. The read after both reservation updates failed (the account was locked in between).
    let (s2, t2) = (sdk.clone(), table.clone());
    proxy.before_first(
        Box::new(is_reservation),
        Box::new(move || {
            Box::pin(async move { set(&s2, &t2, &[("LockedUntil", attr_n(now() + 600))]).await })
        }),
    );
    let a = invoke(&app, change("not the password", DEMO_CURRENT), "locked").await;
    a.assert_code(429, "AccountLocked");
    assert_eq!(consistent_reads(&proxy.take(), "locked in between"), 2);
    // 3. The read after a lost conditional write.
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let winner = hasher()
        .hash(
            "winner-Quokka-Harbour-55",
            &change_password::domain::password_hashing::PepperKeys::none(),
        )
        .unwrap();
    proxy.before_first(
        Box::new(is_commit),
        another_change_wins(&sdk, &table, winner),
    );
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "race").await;
    a.assert_code(409, "PasswordChangeConflict");
    assert_eq!(consistent_reads(&proxy.take(), "race"), 2);
}

#[tokio::test]
async fn the_token_authorizer_reads_the_marker_consistently() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let key = "a-test-only-hs256-key-for-the-rules-tests-0001";
    let secret_id = format!("rules-hs256-{table}");
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&secret_id)
        .secret_string(key)
        .send()
        .await
        .unwrap();
    let proxy = RecordingProxy::start().await;
    let issuer = "https://issuer.example";
    let cfg = config(
        &table,
        &[
            ("JWT_ISSUER", issuer),
            ("JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
            ("JWT_HS256_SECRET_ID", secret_id.as_str()),
        ],
    );
    let authorizer = change_password::app::build_authorizer_with(
        &cfg,
        &proxy.sdk(&sdk),
        &support::manual_clock::marker_read_every_time(),
    )
    .unwrap();
    let claims = json!({"sub": DEMO_SUB, "username": "demo", "token_use": "access", "iss": issuer,
                        "iat": now() - 10, "exp": now() + 600, "jti": "s1"});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap();
    let mut e = load_event("authorizer-rest-token.json");
    e["authorizationToken"] = json!(format!("Bearer {token}"));
    let answer = authorizer.handle_event(&e).await.unwrap();
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Effect"], "Allow",
        "{answer}"
    );
    let reads: Vec<Seen> = proxy
        .take()
        .into_iter()
        .filter(|s| s.operation == "GetItem")
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].body["ConsistentRead"], true, "{}", reads[0].body);
    // Only the marker and the session: no hash leaves the table for the authorizer.
    assert_eq!(
        reads[0].body["ProjectionExpression"], "TokensValidAfter, PasswordChangeSession",
        "{}",
        reads[0].body
    );
}

// ---------------------------------------------------------------------------------------------
// §2: size, after base64 decoding.

#[tokio::test]
async fn the_16_kib_limit_is_on_the_decoded_body() {
    let (sdk, table, app) = setup().await;
    let b64 = base64::engine::general_purpose::STANDARD;
    // A JSON body of exactly `len` bytes.
    let sized = |len: usize| {
        let bare = json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW, "Pad": ""})
            .to_string();
        let text =
            json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW, "Pad": "p".repeat(len - bare.len())})
                .to_string();
        assert_eq!(text.len(), len);
        text
    };
    let limit = 16 * 1024;
    let (at, over) = (b64.encode(sized(limit)), b64.encode(sized(limit + 1)));
    // Both are the same length as sent (and over 16 KiB as base64 text); they differ by one
    // decoded byte.
    assert_eq!(at.len(), over.len());
    assert!(at.len() > limit);
    let mut e = event(&over);
    e["isBase64Encoded"] = json!(true);
    invoke(&app, e, "over").await.assert_problem(413, "over");
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        None
    );
    let mut e = event(&at);
    e["isBase64Encoded"] = json!(true);
    let a = invoke(&app, e, "at").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        Some(1)
    );
}

// ---------------------------------------------------------------------------------------------
// §4: 409 through HTTP, made to happen.

#[tokio::test]
async fn another_change_winning_the_race_is_a_409_envelope_and_nothing_is_lost() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    // Two wrong guesses before: the right current password clears them, 409 or not.
    set(&sdk, &table, &[("FailedPasswordAttempts", attr_n(2))]).await;
    let proxy = RecordingProxy::start().await;
    let app = change_password::app::build(&config(&table, &[]), &proxy.sdk(&sdk)).unwrap();
    // Just before this request's conditional write reaches DynamoDB, another change commits.
    let winner = hasher()
        .hash(
            "winner-Quokka-Harbour-55",
            &change_password::domain::password_hashing::PepperKeys::none(),
        )
        .unwrap();
    proxy.before_first(
        Box::new(is_commit),
        another_change_wins(&sdk, &table, winner.clone()),
    );
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "race").await;
    assert_eq!(a.status, 409, "{}", a.body);
    let error = single_error(&a, "PasswordChangeConflict", 1);
    assert_eq!(error["Field"], Value::Null);
    assert_eq!(error["Metadata"], Value::Null);
    assert_eq!(a.body["Warnings"], json!([]));
    assert_eq!(a.header("retry-after"), None);
    // The write was really sent, and lost: the winner's change stands whole.
    assert_eq!(
        proxy
            .take()
            .iter()
            .filter(|s| is_commit(&s.operation, &s.body))
            .count(),
        1
    );
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(s(&after, "PasswordHash"), Some(winner));
    assert_eq!(n(&after, "PasswordVersion"), Some(1));
    assert_eq!(
        after.get("PasswordChangedAt"),
        None,
        "the loser wrote nothing"
    );
    assert_eq!(n(&after, "FailedPasswordAttempts"), Some(0));
}

// ---------------------------------------------------------------------------------------------
// §4: a write still in flight when the budget ends.

#[tokio::test]
async fn a_write_in_flight_when_the_budget_ends_is_a_503_and_its_retry_a_200() {
    use support::scripted_store::{CommitScript, ScriptedStore};
    let store = Arc::new(ScriptedStore::new(
        CommitScript::SlowAnswer,
        change_password::domain::account::AccountRecord::new_user(
            DEMO_SUB,
            hasher()
                .hash(
                    DEMO_CURRENT,
                    &change_password::domain::password_hashing::PepperKeys::none(),
                )
                .unwrap(),
        ),
    ));
    store.answer_delay_ms.store(10_000, Ordering::SeqCst);
    let handler = Arc::new(change_password::edge::handler::Handler::new(
        service_on(store.clone()),
        None,
    ));
    support::log_capture::capture();
    let started = Instant::now();
    let response = handler
        .handle_event(change(DEMO_CURRENT, DEMO_NEW), context("slow-write"))
        .await
        .unwrap();
    let took = started.elapsed();
    let a = Answer::from_lambda(&response);
    // The outcome is unknown to the function: 503, never 409 nor 200.
    assert_eq!(a.status, 503, "{}", a.body);
    single_error(&a, "ServiceUnavailable", 2);
    assert_eq!(a.header("retry-after"), Some("1"));
    assert_eq!(logged_cause("slow-write"), BUDGET_CAUSE);
    assert!(took >= Duration::from_secs(8), "answered after {took:?}");
    // The write had been applied; the client retries the same request and is told it is done,
    // with nothing written again.
    assert_eq!(store.inner.get(DEMO_SUB).unwrap().password_version, Some(1));
    store.answer_delay_ms.store(0, Ordering::SeqCst);
    let retry = Answer::from_lambda(
        &handler
            .handle_event(change(DEMO_CURRENT, DEMO_NEW), context("retry"))
            .await
            .unwrap(),
    );
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.body["Warnings"][0]["Code"], "PasswordAlreadyChanged");
    let after = store.inner.get(DEMO_SUB).unwrap();
    assert_eq!(
        (after.password_version, after.failed_attempts),
        (Some(1), 0)
    );
}

// ---------------------------------------------------------------------------------------------
// SPEC rules pinned over HTTP (issue 23).

#[tokio::test]
async fn new_passwords_are_stored_exactly_neither_trimmed_nor_truncated() {
    let (sdk, table, app) = setup().await;
    // Spaces around it, and the longest allowed (128 code points, 256 UTF-8 bytes: far past
    // the 72 bytes bcrypt would keep).
    let spaced = "  violet-Harbor-Lantern-42  ";
    let alphabet: Vec<char> = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789éàüß-_!"
        .chars()
        .collect();
    let mut x: u64 = 42;
    let longest: String = (0..128)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            alphabet[(x >> 33) as usize % alphabet.len()]
        })
        .collect();
    assert_eq!(longest.chars().count(), 128);
    for (current, new) in [(DEMO_CURRENT, spaced), (spaced, longest.as_str())] {
        let a = invoke(&app, change(current, new), "exact").await;
        assert_eq!(a.status, 200, "{}", a.body);
        let stored = s(&item(&sdk, &table, DEMO_SUB).await, "PasswordHash").unwrap();
        assert!(rust_argon2::verify_encoded(&stored, new.as_bytes()).unwrap());
        for altered in [new.trim().to_string(), new.chars().take(72).collect()] {
            if altered != new {
                assert!(!rust_argon2::verify_encoded(&stored, altered.as_bytes()).unwrap());
            }
        }
    }
    // One code point more: PasswordTooLong with MaxLength, and nothing else (the estimator is
    // not run on an over-long password).
    let a = invoke(&app, change(&longest, &format!("{longest}z")), "long").await;
    let item = single_error(&a, "PasswordTooLong", 0);
    assert_eq!(item["Metadata"], json!({"MaxLength": "128"}));
    assert!(a.body["Warnings"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_history_is_kept_newest_first() {
    let (sdk, table, app) = setup().await;
    let passwords = [
        DEMO_CURRENT,
        "violet-Harbor-Lantern-42",
        "amber-Quokka-Harbour-77",
        "silver-Otter-Meadow-19",
    ];
    for pair in passwords.windows(2) {
        let a = invoke(&app, change(pair[0], pair[1]), "history").await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let stored = item(&sdk, &table, DEMO_SUB).await;
    let history: Vec<String> = stored["PasswordHistory"]
        .as_l()
        .unwrap()
        .iter()
        .map(|v| v.as_s().unwrap().clone())
        .collect();
    assert_eq!(history.len(), 3);
    // Newest first: the password the last change replaced, then the one before, and so on.
    for (hash, password) in history.iter().zip(passwords[..3].iter().rev()) {
        assert!(
            rust_argon2::verify_encoded(hash, password.as_bytes()).unwrap(),
            "{password}"
        );
    }
}

#[tokio::test]
async fn a_bad_token_is_refused_before_the_account_is_looked_at() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    // Function URL events carry a token the function verifies itself (here: never valid).
    let app = change_password::app::build(
        &config(&table, &[("JWT_ISSUER", "https://issuer.example")]),
        &sdk,
    )
    .unwrap();
    let bad = || {
        let mut e = load_event("function-url.json");
        e["headers"]["authorization"] = json!("Bearer not.a.token");
        e
    };
    // No account at all: 401, not 404.
    let a = invoke(&app, bad(), "missing").await;
    a.assert_problem(401, "missing");
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    // A locked and disabled account: 401, not 429 or 403.
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    set(
        &sdk,
        &table,
        &[
            ("Status", attr_s("Disabled")),
            ("LockedUntil", attr_n(now() + 900)),
        ],
    )
    .await;
    let a = invoke(&app, bad(), "locked").await;
    a.assert_problem(401, "locked");
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn a_retried_change_with_another_session_s_older_token_is_401() {
    let (sdk, table, app) = setup().await;
    let with_session = |jti: &str, iat: i64| {
        let mut e = change(DEMO_CURRENT, DEMO_NEW);
        let ctx = &mut e["requestContext"]["authorizer"]["lambda"];
        ctx["jti"] = json!(jti);
        ctx["iat"] = json!(iat);
        e
    };
    let issued = now() - 60;
    let a = invoke(&app, with_session("session-a", issued), "first").await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The same request again, from the changing session: the retry is recognised.
    let a = invoke(&app, with_session("session-a", issued), "retry").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["Warnings"][0]["Code"], "PasswordAlreadyChanged");
    // From another session whose token predates the change: refused, never "already changed".
    let a = invoke(&app, with_session("session-b", issued), "other").await;
    a.assert_problem(401, "other");
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        Some(1)
    );
}

#[tokio::test]
async fn max_auth_age_holds_at_its_boundary() {
    let (_sdk, table, _) = setup().await;
    let sdk = sdk().await;
    let app =
        change_password::app::build(&config(&table, &[("MAX_AUTH_AGE_SECONDS", "300")]), &sdk)
            .unwrap();
    let signed_in = |ago: i64| {
        let mut e = load_event("apigw-http-jwt.json");
        e["isBase64Encoded"] = json!(false);
        e["body"] = json!(body("not it", DEMO_NEW));
        e["requestContext"]["authorizer"]["jwt"]["claims"]["auth_time"] =
            json!((now() - ago).to_string());
        e
    };
    // 299 s ago (300 s if a second turns meanwhile): within; 301 s ago: too old. The check is
    // `now - auth_time <= MAX_AUTH_AGE_SECONDS` (unit-tested to the second in auth/principal.rs).
    let a = invoke(&app, signed_in(299), "within").await;
    assert_eq!(
        a.error_codes(),
        vec!["CurrentPasswordIncorrect"],
        "{}",
        a.body
    );
    let a = invoke(&app, signed_in(301), "too-old").await;
    a.assert_problem(401, "too-old");
    assert_eq!(
        a.header("www-authenticate"),
        Some(
            "Bearer error=\"insufficient_user_authentication\", error_description=\"A more recent authentication is required\", max_age=\"300\""
        )
    );
}
