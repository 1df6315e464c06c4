//! At TRACE, across every kind of outcome, no password, hash or token reaches the logs.

mod support;

use serde_json::{Value, json};
use support::log_capture::capture;
use support::*;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViIn0.c2lnbmF0dXJlLXNlY3JldA";

#[tokio::test]
async fn nothing_secret_is_logged_at_trace() {
    let capture = capture();
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let app = app(&sdk, &table).await;
    let with_body = |current: &str, new: &str| {
        let mut e = load_event("apigw-http-jwt.json");
        e["isBase64Encoded"] = json!(false);
        e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": new}).to_string());
        e
    };
    let mut outcomes = Vec::new();
    // Validation, wrong password, success, reuse, token refusals (header and query).
    for event in [
        with_body(DEMO_CURRENT, "short"),
        with_body("wrong-current-password-1", DEMO_NEW),
        with_body(DEMO_CURRENT, DEMO_NEW),
        with_body(DEMO_NEW, DEMO_CURRENT),
    ] {
        outcomes.push(invoke(&app, event, "log-test").await.status);
    }
    let mut e: Value = load_event("function-url.json");
    e["headers"]["authorization"] = json!(format!("Bearer {TOKEN}"));
    outcomes.push(invoke(&app, e.clone(), "log-test").await.status);
    e["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    e["queryStringParameters"] = json!({"access_token": TOKEN});
    e["rawQueryString"] = json!(format!("access_token={TOKEN}"));
    outcomes.push(invoke(&app, e, "log-test").await.status);
    assert_eq!(outcomes, vec![400, 400, 200, 400, 401, 401]);

    let logs = capture.text();
    assert!(
        logs.contains("change-password request"),
        "the request lines are logged"
    );
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "TRACE was really enabled:\n{logs}"
    );
    let stored = s(&item(&sdk, &table, DEMO_SUB).await, "PasswordHash").unwrap();
    for secret in [
        DEMO_CURRENT,
        DEMO_NEW,
        "wrong-current-password-1",
        TOKEN,
        "c2lnbmF0dXJlLXNlY3JldA",
        "$argon2",
        stored.as_str(),
        seeded.password_hash.as_deref().unwrap(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret ({secret}) reached the logs:\n{logs}"
        );
    }
}

/// Creates a Secrets Manager secret in moto.
async fn create_secret(sdk: &aws_config::SdkConfig, name: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

fn change(current: &str, new: &str) -> Value {
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": new}).to_string());
    e
}

/// How a key's bytes would look in a log written by mistake: as text, base64, hex or `{:?}`.
fn renderings(key: &[u8]) -> Vec<String> {
    use base64::Engine;
    let mut out = vec![
        base64::engine::general_purpose::STANDARD.encode(key),
        key.iter().map(|b| format!("{b:02x}")).collect(),
        format!("{:?}", &key[..8]).trim_end_matches(']').to_string(),
    ];
    if let Ok(text) = std::str::from_utf8(key) {
        out.push(text.to_string());
    }
    out
}

#[tokio::test]
async fn the_pepper_is_never_logged() {
    let capture = capture();
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let pepper = b"log-test-pepper-32-bytes-long!!!";
    let secret_id = format!("log-pepper-{table}");
    let value = json!({"CurrentKeyId": "k1", "Keys": {"k1": renderings(pepper)[0]}}).to_string();
    create_secret(&sdk, &secret_id, &value).await;
    let app = change_password::app::build(
        &config(&table, &[("PEPPER_SECRET_ID", secret_id.as_str())]),
        &sdk,
    )
    .unwrap();
    // The pepper is read and used: a wrong password, a change, a reuse.
    let mut statuses = Vec::new();
    for (id, (current, new)) in [
        ("pepper-wrong", ("wrong-current-password-1", DEMO_NEW)),
        ("pepper-change", (DEMO_CURRENT, DEMO_NEW)),
        ("pepper-reuse", (DEMO_NEW, DEMO_CURRENT)),
    ] {
        statuses.push(invoke(&app, change(current, new), id).await.status);
        assert_eq!(capture.request_lines(id).len(), 1, "{id} was logged");
    }
    assert_eq!(statuses, vec![400, 200, 400]);
    let stored = s(&item(&sdk, &table, DEMO_SUB).await, "PasswordHash").unwrap();
    assert!(stored.contains("keyid="), "the pepper was used: {stored}");
    let mut secrets = renderings(pepper);
    secrets.push(value.clone());
    secrets.push(stored);
    capture.assert_absent(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_hs256_key_and_a_valid_token_are_never_logged() {
    let capture = capture();
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let key = "log-test-hs256-key-of-enough-length-0123456789";
    let secret_id = format!("log-hs256-{table}");
    create_secret(&sdk, &secret_id, key).await;
    let issuer = "https://issuer.example";
    let app = change_password::app::build(
        &config(
            &table,
            &[
                ("JWT_ISSUER", issuer),
                ("JWT_HS256_SECRET_ID", secret_id.as_str()),
            ],
        ),
        &sdk,
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sign = |key: &[u8]| {
        let claims = json!({"sub": DEMO_SUB, "username": "demo", "token_use": "access",
                            "iss": issuer, "iat": now - 5, "exp": now + 600, "jti": "log-jti"});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    let valid = sign(key.as_bytes());
    let forged = sign(b"another-key-of-enough-length-for-hs256-000");
    let with_token = |token: &str, query: bool| {
        let mut e = load_event("function-url.json");
        e["headers"]
            .as_object_mut()
            .unwrap()
            .remove("authorization");
        if query {
            e["queryStringParameters"] = json!({"access_token": token});
            e["rawQueryString"] = json!(format!("access_token={token}"));
        } else {
            e["headers"]["authorization"] = json!(format!("Bearer {token}"));
        }
        e["body"] =
            json!(json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW}).to_string());
        e["isBase64Encoded"] = json!(false);
        e
    };
    let mut statuses = Vec::new();
    for (id, e) in [
        ("hs-forged", with_token(&forged, false)),
        ("hs-valid", with_token(&valid, false)),
        ("hs-valid-query", with_token(&valid, true)),
    ] {
        statuses.push(invoke(&app, e, id).await.status);
        assert_eq!(capture.request_lines(id).len(), 1, "{id} was logged");
    }
    // The valid token changed the password, then (same session, same change) was a retry.
    assert_eq!(statuses, vec![401, 200, 200]);
    let mut secrets: Vec<String> = renderings(key.as_bytes());
    for token in [&valid, &forged] {
        secrets.push(token.clone());
        // Each part of it too: the signing input and the signature.
        let (input, signature) = token.rsplit_once('.').unwrap();
        secrets.push(input.to_string());
        secrets.push(signature.to_string());
    }
    capture.assert_absent(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_detail_of_5xx_answers_carries_no_secret() {
    let capture = capture();
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let mut logged_details = Vec::new();
    let mut expect_5xx = |id: &str, status: u16, answered: u16| {
        assert_eq!(answered, status, "{id}");
        let lines = capture.request_lines(id);
        assert_eq!(lines.len(), 1, "{id}: {lines:?}");
        assert_eq!(lines[0]["status"], status, "{id}");
        let detail = lines[0]["detail"].as_str().unwrap_or_default().to_string();
        assert!(
            !detail.is_empty(),
            "{id}: the 5xx line has a detail: {}",
            lines[0]
        );
        logged_details.push(detail);
    };
    // 500: a stored hash the service cannot verify (its parameters are over the bounds).
    let unverifiable = "$argon2id$v=19$m=262145,t=1,p=1$bG9nLXRlc3Qtc2FsdA$bG9nLXRlc3QtdGFnLW9mLXRoaXJ0eS10d28tYnl0ZXMh";
    aws_sdk_dynamodb::Client::new(&sdk)
        .update_item()
        .table_name(&table)
        .key(
            "UserId",
            aws_sdk_dynamodb::types::AttributeValue::S(DEMO_SUB.into()),
        )
        .update_expression("SET PasswordHash = :h")
        .expression_attribute_values(
            ":h",
            aws_sdk_dynamodb::types::AttributeValue::S(unverifiable.into()),
        )
        .send()
        .await
        .unwrap();
    let app = app(&sdk, &table).await;
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "detail-500").await;
    expect_5xx("detail-500", 500, a.status);
    change_password::aws::dynamodb_store::put_record(
        &aws_sdk_dynamodb::Client::new(&sdk),
        &table,
        &seeded,
    )
    .await
    .unwrap();
    // 503: a pepper secret whose key is not base64 (its value must not be echoed).
    let pepper_marker = "%%%log-test-pepper-marker%%%";
    let pepper_id = format!("log-bad-pepper-{table}");
    create_secret(
        &sdk,
        &pepper_id,
        &json!({"CurrentKeyId": "k1", "Keys": {"k1": pepper_marker}}).to_string(),
    )
    .await;
    let app = change_password::app::build(
        &config(&table, &[("PEPPER_SECRET_ID", pepper_id.as_str())]),
        &sdk,
    )
    .unwrap();
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "detail-503-pepper").await;
    expect_5xx("detail-503-pepper", 503, a.status);
    // 503: an HS256 key too short to use (its value must not be echoed either).
    let hs_marker = "short-hs-marker-17";
    let hs_id = format!("log-bad-hs256-{table}");
    create_secret(&sdk, &hs_id, hs_marker).await;
    let app = change_password::app::build(
        &config(
            &table,
            &[
                ("JWT_ISSUER", "https://issuer.example"),
                ("JWT_HS256_SECRET_ID", hs_id.as_str()),
            ],
        ),
        &sdk,
    )
    .unwrap();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": DEMO_SUB, "iss": "https://issuer.example", "exp": 4_000_000_000u64}),
        &jsonwebtoken::EncodingKey::from_secret(hs_marker.as_bytes()),
    )
    .unwrap();
    let mut e = load_event("function-url.json");
    e["headers"]["authorization"] = json!(format!("Bearer {token}"));
    let a = invoke(&app, e, "detail-503-hs256").await;
    expect_5xx("detail-503-hs256", 503, a.status);
    // 503: DynamoDB unreachable.
    let handler = handler_at_endpoint(&sdk, "http://127.0.0.1:9", &table);
    let response = handler
        .handle_event(
            change(DEMO_CURRENT, DEMO_NEW),
            context("detail-503-dynamodb"),
        )
        .await
        .unwrap();
    expect_5xx(
        "detail-503-dynamodb",
        503,
        Answer::from_lambda(&response).status,
    );
    eprintln!("5xx details: {logged_details:#?}");
    capture.assert_absent(&[
        unverifiable,
        "bG9nLXRlc3Qtc2FsdA",
        "bG9nLXRlc3QtdGFnLW9mLXRoaXJ0eS10d28tYnl0ZXMh",
        seeded.password_hash.as_deref().unwrap(),
        pepper_marker,
        "log-test-pepper-marker",
        hs_marker,
        token.as_str(),
        token.rsplit_once('.').unwrap().1,
        DEMO_CURRENT,
        DEMO_NEW,
    ]);
}
