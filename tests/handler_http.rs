//! The whole handler, HTTP contract of SPEC §2-§4, against a DynamoDB-API server.

mod support;

use base64::Engine;
use change_password::domain::account_store::AccountStore;
use change_password::edge::handler::EventError;
use serde_json::{Value, json};
use support::*;

/// An HTTP API event with a Lambda authorizer for the demo user, and `body`.
fn event(body: &str) -> Value {
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["body"] = Value::String(body.to_string());
    e
}

fn body(current: &str, new: &str) -> String {
    json!({"CurrentPassword": current, "NewPassword": new}).to_string()
}

fn assert_no_secrets(answer: &Answer) {
    let text = answer.body.to_string();
    for secret in [DEMO_CURRENT, DEMO_NEW, "$argon2"] {
        assert!(!text.contains(secret), "response carries a secret: {text}");
    }
}

#[tokio::test]
async fn routing_method_media_type_and_size_are_problems_in_that_order() {
    let (_sdk, _table, app) = setup().await;
    let mut e = event(&body(DEMO_CURRENT, DEMO_NEW));
    e["rawPath"] = json!("/api/workspace/account/other");
    e["requestContext"]["http"]["method"] = json!("GET");
    let a = invoke(&app, e, "r1").await;
    a.assert_problem(404, "r1");
    assert_eq!(a.body["instance"], "/api/workspace/account/other");

    let mut e = event(&body(DEMO_CURRENT, DEMO_NEW));
    e["requestContext"]["http"]["method"] = json!("PUT");
    e["headers"]["content-type"] = json!("text/plain");
    let a = invoke(&app, e, "r2").await;
    a.assert_problem(405, "r2");
    assert_eq!(a.header("allow"), Some("POST"));

    let mut e = event(&"x".repeat(20_000));
    e["headers"]["content-type"] = json!("text/plain");
    let a = invoke(&app, e, "r3").await;
    a.assert_problem(415, "r3");

    let padding = "p".repeat(16 * 1024);
    let a = invoke(
        &app,
        event(
            &json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW, "Pad": padding})
                .to_string(),
        ),
        "r4",
    )
    .await;
    a.assert_problem(413, "r4");
}

#[tokio::test]
async fn stage_prefix_json_variants_and_missing_content_type_are_accepted() {
    let (sdk, table, app) = setup().await;
    let mut e = event(&body(DEMO_CURRENT, DEMO_NEW));
    e["rawPath"] = json!("/prod/api/workspace/account/change-password");
    e["headers"]["content-type"] = json!("application/merge-patch+json; charset=UTF-8");
    let a = invoke(&app, e, "r1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut e = event(&json!({"currentpassword": DEMO_NEW, "NEWPASSWORD": "amber-Quokka-Harbour-77", "unknown": {"x": 1}}).to_string());
    e["headers"].as_object_mut().unwrap().remove("content-type");
    let a = invoke(&app, e, "r2").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_no_secrets(&a);
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        Some(2)
    );
}

#[tokio::test]
async fn unauthenticated_callers_get_401_with_a_bearer_challenge() {
    let (_sdk, _table, app) = setup().await;
    let mut e = event(&body(DEMO_CURRENT, DEMO_NEW));
    e["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    e["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    let a = invoke(&app, e.clone(), "r1").await;
    a.assert_problem(401, "r1");
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    e["rawQueryString"] = json!("access_token=abc.def.ghi");
    e["queryStringParameters"] = json!({"access_token": "abc.def.ghi"});
    let a = invoke(&app, e, "r2").await;
    a.assert_problem(401, "r2");
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    assert!(!a.body.to_string().contains("abc.def.ghi"));
}

#[tokio::test]
async fn invalid_base64_is_a_400_and_the_next_request_still_works() {
    let (_sdk, _table, app) = setup().await;
    let mut e = event("%%% not base64 %%%");
    e["isBase64Encoded"] = json!(true);
    let a = invoke(&app, e, "r1").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.error_codes(), vec!["InvalidRequestBody"]);
    // Base64 of invalid UTF-8.
    let mut e = event(&base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, 0x00]));
    e["isBase64Encoded"] = json!(true);
    let a = invoke(&app, e, "r2").await;
    assert_eq!(a.error_codes(), vec!["InvalidRequestBody"]);
    let a = invoke(&app, event(&body(DEMO_CURRENT, DEMO_NEW)), "r3").await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn numeric_claims_and_machine_tokens() {
    let (_sdk, _table, app) = setup().await;
    let mut e = load_event("failure-wrong-current-password.json");
    e["body"] = json!(body(DEMO_CURRENT, DEMO_NEW));
    e["requestContext"]["authorizer"]["jwt"]["claims"]["iat"] = json!(1764288000);
    e["requestContext"]["authorizer"]["jwt"]["claims"]["exp"] = json!(1764291600);
    let a = invoke(&app, e.clone(), "r1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let claims = e["requestContext"]["authorizer"]["jwt"]["claims"]
        .as_object_mut()
        .unwrap();
    claims.remove("username");
    claims.insert("client_id".into(), json!(DEMO_SUB));
    let a = invoke(&app, e, "r2").await;
    a.assert_problem(403, "r2");
}

#[tokio::test]
async fn account_states_map_to_their_statuses() {
    let (sdk, table, app) = setup().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let set = |attr: &'static str, value: &'static str| {
        let client = client.clone();
        let table = table.clone();
        async move {
            client
                .update_item()
                .table_name(table)
                .key(
                    "UserId",
                    aws_sdk_dynamodb::types::AttributeValue::S(DEMO_SUB.into()),
                )
                .update_expression("SET #a = :v")
                .expression_attribute_names("#a", attr)
                .expression_attribute_values(
                    ":v",
                    aws_sdk_dynamodb::types::AttributeValue::S(value.into()),
                )
                .send()
                .await
                .unwrap();
        }
    };
    set("AccountType", "Service").await;
    invoke(&app, event(&body(DEMO_CURRENT, DEMO_NEW)), "r1")
        .await
        .assert_problem(403, "r1");
    set("AccountType", "User").await;
    set("Status", "Disabled").await;
    invoke(&app, event(&body(DEMO_CURRENT, DEMO_NEW)), "r2")
        .await
        .assert_problem(403, "r2");
    let mut e = event(&body(DEMO_CURRENT, DEMO_NEW));
    e["requestContext"]["authorizer"]["lambda"]["sub"] = json!("someone-without-a-record");
    let a = invoke(&app, e, "r3").await;
    assert_eq!(a.status, 404);
    a.assert_envelope();
    assert_eq!(a.error_codes(), vec!["AccountNotFound"]);
    assert_eq!(a.body["Errors"][0]["Type"], 1);
}

#[tokio::test]
async fn validation_errors_come_together_and_touch_nothing() {
    let (sdk, table, app) = setup().await;
    let a = invoke(&app, event(&body("wrong password", "Demo")), "r1").await;
    assert_eq!(a.status, 400);
    a.assert_envelope();
    assert_eq!(
        a.error_codes(),
        vec!["PasswordTooShort", "PasswordBlocklisted"]
    );
    assert_eq!(a.body["Errors"][1]["Metadata"]["List"], "Identifier");
    let short = a.body["Errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Code"] == "PasswordTooShort")
        .unwrap();
    assert_eq!(short["Metadata"]["MinLength"], "15");
    assert_eq!(
        (
            short["Type"].as_u64(),
            short["Severity"].as_u64(),
            short["Field"].as_str()
        ),
        (Some(0), Some(2), Some("NewPassword"))
    );
    let a = invoke(&app, event(&body(DEMO_CURRENT, DEMO_CURRENT)), "r2").await;
    assert!(a.error_codes().contains(&"PasswordUnchanged".to_string()));
    let item = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&item, "FailedPasswordAttempts"), None);
    assert_eq!(n(&item, "PasswordVersion"), None);
}

#[tokio::test]
async fn lockout_answers_429_with_retry_after_before_any_check() {
    let (sdk, table, app) = setup().await;
    for remaining in ["4", "3", "2", "1"] {
        let a = invoke(&app, event(&body("not the password", DEMO_NEW)), "r").await;
        assert_eq!(a.status, 400);
        assert_eq!(
            a.body["Errors"][0]["Metadata"]["RemainingAttempts"],
            remaining
        );
    }
    let a = invoke(&app, event(&body("not the password", DEMO_NEW)), "r").await;
    assert_eq!(a.status, 429, "{}", a.body);
    a.assert_envelope();
    assert_eq!(a.error_codes(), vec!["AccountLocked"]);
    let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900);
    // Even the right password, or an invalid request, gets 429 while locked: the same envelope,
    // `AccountLocked` and a Retry-After that does not grow.
    for e in [event(&body(DEMO_CURRENT, DEMO_NEW)), event("{not json")] {
        let a = invoke(&app, e, "r").await;
        assert_eq!(a.status, 429, "{}", a.body);
        a.assert_envelope();
        assert_eq!(a.error_codes(), vec!["AccountLocked"], "{}", a.body);
        let again: u64 = a
            .header("retry-after")
            .expect("Retry-After on every 429")
            .parse()
            .unwrap();
        assert!(again > 0 && again <= retry, "{again} after {retry}");
    }
    let item = item(&sdk, &table, DEMO_SUB).await;
    assert!(n(&item, "LockedUntil").unwrap() > time::OffsetDateTime::now_utc().unix_timestamp());
    assert_eq!(n(&item, "PasswordVersion"), None);
}

#[tokio::test]
async fn dynamodb_unreachable_is_503_with_retry_after() {
    let sdk = sdk().await;
    // Nothing listens on port 9 of loopback: connection refused.
    let handler = handler_at_endpoint(&sdk, "http://127.0.0.1:9", "users");
    let response = handler
        .handle_event(event(&body(DEMO_CURRENT, DEMO_NEW)), context("r1"))
        .await
        .unwrap();
    let a = Answer::from_lambda(&response);
    assert_eq!(a.status, 503, "{}", a.body);
    a.assert_envelope();
    assert_eq!(a.error_codes(), vec!["ServiceUnavailable"]);
    assert_eq!(a.body["Errors"][0]["Type"], 2);
    assert_eq!(a.header("retry-after"), Some("1"));
    assert!(
        !a.body.to_string().contains("127.0.0.1"),
        "no internals in the message"
    );
    // The 503 came from the store: its read really fails as unavailable.
    let read = handler.service().store().load(DEMO_SUB).await;
    assert!(
        matches!(
            read,
            Err(change_password::domain::account_store::StoreError::Unavailable(_))
        ),
        "{read:?}"
    );
}

#[tokio::test]
async fn non_http_events_are_a_clean_error() {
    let (_sdk, _table, app) = setup().await;
    for e in [
        json!({"Records": []}),
        json!("text"),
        json!(null),
        json!({"requestContext": 5}),
    ] {
        let result = app.handle_event(e, context("r")).await;
        assert!(matches!(result, Err(EventError::NotHttp)), "{result:?}");
    }
}

#[tokio::test]
async fn responses_have_the_shape_of_their_source() {
    let (_sdk, _table, app) = setup().await;
    // REST (payload 1.0): multiValueHeaders; HTTP API: headers.
    let rest = app
        .handle_event(load_event("apigw-rest-api-key.json"), context("r1"))
        .await
        .unwrap();
    assert!(
        rest["multiValueHeaders"]["content-type"].is_array(),
        "{rest}"
    );
    let http = app
        .handle_event(load_event("function-url.json"), context("r2"))
        .await
        .unwrap();
    assert!(http["headers"]["content-type"].is_string(), "{http}");
    let alb = app
        .handle_event(load_event("alb.json"), context("r3"))
        .await
        .unwrap();
    assert_eq!(alb["statusCode"], 401, "{alb}");
    // An ALB needs the status line too: "<code> <reason>".
    assert_eq!(alb["statusDescription"], "401 Unauthorized", "{alb}");
}

#[tokio::test]
async fn a_retried_change_answers_200_already_changed_and_writes_nothing() {
    let (sdk, table, app) = setup().await;
    let first = invoke(&app, event(&body(DEMO_CURRENT, DEMO_NEW)), "first").await;
    assert_eq!(first.status, 200, "{}", first.body);
    let stored = item(&sdk, &table, DEMO_SUB).await;
    assert!(s(&stored, "PreviousPasswordHash").is_some());
    // The client never saw the 200 and sends the same request again.
    let again = invoke(&app, event(&body(DEMO_CURRENT, DEMO_NEW)), "retry").await;
    assert_eq!(again.status, 200, "{}", again.body);
    again.assert_envelope();
    assert_eq!(again.body["Success"], true);
    assert_eq!(again.body["Data"]["PasswordChanged"], true);
    assert_eq!(again.body["Warnings"][0]["Code"], "PasswordAlreadyChanged");
    assert_eq!(again.body["Warnings"][0]["Severity"], 1);
    assert_no_secrets(&again);
    // The attempt it reserved was given back: the item is as the change left it, but for the
    // stream's event marker, which every attempt write clears.
    let mut stored = stored;
    stored.remove("PasswordChangeEvent");
    assert_eq!(
        item(&sdk, &table, DEMO_SUB).await,
        stored,
        "nothing written or counted"
    );
    // Another new password with the old current one is a wrong password, and counts.
    let other = invoke(
        &app,
        event(&body(DEMO_CURRENT, "another-Quokka-Harbour-77")),
        "other",
    )
    .await;
    assert_eq!(other.status, 400, "{}", other.body);
    assert_eq!(other.error_codes(), vec!["CurrentPasswordIncorrect"]);
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        Some(1)
    );
}

#[tokio::test]
async fn jwt_audience_also_holds_for_authorizer_claims() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let app = change_password::app::build(
        &config(&table, &[("JWT_AUDIENCE", "4example0client0id000000000")]),
        &sdk,
    )
    .unwrap();
    let mut e = load_event("apigw-http-jwt.json");
    e["requestContext"]["authorizer"]["jwt"]["claims"]["client_id"] = json!("another-app-client");
    let a = invoke(&app, e, "r").await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(
        a.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    let mut e = load_event("apigw-rest-cognito.json");
    e["requestContext"]["authorizer"]["claims"]["client_id"] = json!("another-app-client");
    e["requestContext"]["authorizer"]["claims"]
        .as_object_mut()
        .unwrap()
        .remove("aud");
    let a = invoke(&app, e, "r").await;
    a.assert_problem(401, "r");
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        None
    );
    // The configured client passes.
    let a = invoke(&app, load_event("apigw-http-jwt.json"), "r").await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn after_a_change_tokens_issued_before_it_are_401_from_every_source_but_the_changing_session()
{
    let (sdk, table, app) = setup().await;
    // The HTTP API JWT sample changes the password; its token (jti, origin_jti) is the
    // changing session.
    let first = invoke(&app, load_event("apigw-http-jwt.json"), "change").await;
    assert_eq!(first.status, 200, "{}", first.body);
    let stored = item(&sdk, &table, DEMO_SUB).await;
    let valid_after = n(&stored, "TokensValidAfter").unwrap();
    assert!(valid_after >= time::OffsetDateTime::now_utc().unix_timestamp() - 5);
    assert_eq!(
        stored["PasswordChangeSession"].as_m().unwrap()["jti"]
            .as_s()
            .unwrap(),
        "5e8f2a1c-7d3b-4c6e-9f0a-1b2c3d4e5f60"
    );
    let last = stored["LastPasswordChange"].as_m().unwrap();
    assert_eq!(last["SourceIp"].as_s().unwrap(), "203.0.113.42");
    assert!(last["UserAgent"].as_s().unwrap().starts_with("Mozilla/5.0"));
    assert_eq!(last["RequestId"].as_s().unwrap(), "change");
    // The same session goes on (here: the same request again, a retry).
    let again = invoke(&app, load_event("apigw-http-jwt.json"), "again").await;
    assert_eq!(again.status, 200, "{}", again.body);
    // Another session's token from before the change: 401 invalid_token, whatever the source.
    let body = json!({"CurrentPassword": DEMO_NEW, "NewPassword": "amber-Quokka-Harbour-77"});
    let mut jwt = load_event("apigw-http-jwt.json");
    let claims = &mut jwt["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["jti"] = json!("another-session");
    claims["origin_jti"] = json!("another-origin");
    jwt["body"] = json!(body.to_string());
    jwt["isBase64Encoded"] = json!(false);
    let mut cognito = load_event("apigw-rest-cognito.json");
    cognito["requestContext"]["authorizer"]["claims"]["iat"] =
        json!("Fri Nov 28 00:00:00 UTC 2025");
    cognito["body"] = json!(body.to_string());
    let mut lambda = event(&body.to_string());
    lambda["requestContext"]["authorizer"]["lambda"]["iat"] = json!(valid_after - 1);
    let mut no_iat = load_event("apigw-http-jwt.json");
    let claims = &mut no_iat["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["jti"] = json!("another-session");
    claims["origin_jti"] = json!("another-origin");
    claims.as_object_mut().unwrap().remove("iat");
    no_iat["body"] = json!(body.to_string());
    no_iat["isBase64Encoded"] = json!(false);
    for (name, e) in [
        ("jwt", jwt),
        ("cognito date", cognito),
        ("lambda iat", lambda),
        ("no iat", no_iat),
    ] {
        let a = invoke(&app, e, name).await;
        assert_eq!(a.status, 401, "{name}: {}", a.body);
        assert_eq!(a.body["title"], "Unauthorized", "{name}");
        assert!(
            a.header("www-authenticate")
                .unwrap()
                .contains("invalid_token"),
            "{name}"
        );
    }
    // A Lambda authorizer context without iat is taken as its authorizer decided; a token
    // issued since the change passes.
    let mut fresh = load_event("apigw-http-jwt.json");
    let claims = &mut fresh["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["jti"] = json!("a-new-session");
    claims["iat"] = json!((valid_after + 1).to_string());
    fresh["body"] = json!(body.to_string());
    fresh["isBase64Encoded"] = json!(false);
    // A REST Cognito token issued since, its iat as the date string that authorizer passes.
    let mut fresh_cognito = load_event("apigw-rest-cognito.json");
    let since = time::OffsetDateTime::from_unix_timestamp(valid_after + 1).unwrap();
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]",
    )
    .unwrap();
    fresh_cognito["requestContext"]["authorizer"]["claims"]["iat"] =
        json!(since.format(&format).unwrap());
    fresh_cognito["requestContext"]["authorizer"]["claims"]["jti"] = json!("a-cognito-session");
    fresh_cognito["body"] = json!(body.to_string());
    for (name, e) in [
        ("lambda without iat", event(&body.to_string())),
        ("fresh", fresh),
        ("fresh cognito date", fresh_cognito),
    ] {
        let a = invoke(&app, e, name).await;
        assert_eq!(a.status, 200, "{name}: {}", a.body);
    }
    // The refused tokens changed nothing: version 2 is the change the Lambda authorizer's
    // caller made (the fresh tokens' identical requests are its retries).
    let stored = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&stored, "PasswordVersion"), Some(2));
    // That caller's context names no session: the first change's session is no longer kept.
    assert_eq!(stored.get("PasswordChangeSession"), None, "{stored:?}");
    assert!(n(&stored, "TokensValidAfter").unwrap() >= valid_after);
}

#[tokio::test]
async fn alb_answers_carry_the_status_line_in_status_description() {
    let (_sdk, _table, app) = setup().await;
    // alb.json's bearer token is refused (no verifier); an ALB has no authorizer, so the other
    // statuses come from the envelope checks and malformed requests (one of them answered by
    // the handler's own hand-shaped response, not lambda_http's).
    let alb = |mutate: &dyn Fn(&mut Value)| {
        let mut e = load_event("alb.json");
        mutate(&mut e);
        e
    };
    for (name, event, status, line) in [
        ("401", alb(&|_| {}), 401, "401 Unauthorized"),
        (
            "404",
            alb(&|e| e["path"] = json!("/nope")),
            404,
            "404 Not Found",
        ),
        (
            "405",
            alb(&|e| e["httpMethod"] = json!("GET")),
            405,
            "405 Method Not Allowed",
        ),
        (
            "415",
            alb(&|e| e["headers"]["content-type"] = json!("text/plain")),
            415,
            "415 Unsupported Media Type",
        ),
        (
            "413",
            alb(&|e| e["body"] = json!("x".repeat(17 * 1024))),
            413,
            "413 Payload Too Large",
        ),
        (
            "400 malformed header",
            alb(&|e| e["headers"]["x-bad"] = json!("a\u{7f}b")),
            400,
            "400 Bad Request",
        ),
        // A request URI lambda_http cannot build: the handler shapes this answer itself.
        (
            "400 unbuildable URI",
            alb(&|e| e["headers"]["host"] = json!("a b")),
            400,
            "400 Bad Request",
        ),
    ] {
        let response = app.handle_event(event, context(name)).await.unwrap();
        assert_eq!(response["statusCode"], status, "{name}: {response}");
        assert_eq!(response["statusDescription"], line, "{name}: {response}");
    }
}

#[tokio::test]
async fn behind_an_alb_the_source_ip_is_the_address_the_alb_appended() {
    let (sdk, table, app) = setup().await;
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["body"] = json!(body(DEMO_CURRENT, DEMO_NEW));
    // No sourceIp in the context: the address comes from X-Forwarded-For, whose leftmost
    // entries the client can write; the ALB appends the one it saw.
    e["requestContext"]["http"]
        .as_object_mut()
        .unwrap()
        .remove("sourceIp");
    e["headers"]["x-forwarded-for"] = json!("6.6.6.6, 198.51.100.7");
    let a = invoke(&app, e, "xff").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let stored = item(&sdk, &table, DEMO_SUB).await;
    let last = stored["LastPasswordChange"].as_m().unwrap();
    assert_eq!(last["SourceIp"].as_s().unwrap(), "198.51.100.7");
}

#[tokio::test]
async fn the_blocklist_refuses_whole_passwords_and_the_score_only_advises() {
    let (sdk, table, _) = setup().await;
    let config = config(
        &table,
        &[("PASSWORD_CONTEXT_WORDS", "Acme Workspace Portal")],
    );
    let app = change_password::app::build(&config, &sdk).unwrap();
    for (new, list) in [
        ("QwertyuiopASDFGH", "CommonPasswords"),
        ("sunflowersunflower", "Pattern"),
        ("Demo@Example.com", "Identifier"),
        ("acme workspace portal", "ContextWords"),
    ] {
        let a = invoke(&app, event(&body(DEMO_CURRENT, new)), "r").await;
        assert_eq!(a.status, 400, "{new}: {}", a.body);
        a.assert_envelope();
        assert_eq!(a.error_codes(), vec!["PasswordBlocklisted"], "{new}");
        let issue = &a.body["Errors"][0];
        assert_eq!(issue["Metadata"]["List"], list, "{new}");
        assert!(issue["Metadata"]["Score"].is_string(), "{new}");
        assert_eq!(
            (issue["Type"].as_u64(), issue["Field"].as_str()),
            (Some(0), Some("NewPassword"))
        );
    }
    let stored = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(
        n(&stored, "FailedPasswordAttempts"),
        None,
        "validation counts nothing"
    );
    // Containing an identifier is not being one: validation passes (the current password is
    // then checked, here wrong).
    let a = invoke(
        &app,
        event(&body("not it", "demo@example.com-violet-Harbor")),
        "r",
    )
    .await;
    assert_eq!(
        a.error_codes(),
        vec!["CurrentPasswordIncorrect"],
        "{}",
        a.body
    );
    // A password on no list with a low score is accepted, with the advice.
    let a = invoke(&app, event(&body(DEMO_CURRENT, "Harbor1234567890")), "r").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let warning = &a.body["Warnings"][0];
    assert_eq!(warning["Code"], "PasswordCouldBeStronger");
    assert_eq!(warning["Severity"], 1);
    assert_eq!(warning["Metadata"]["Score"], "1");
}

#[tokio::test]
async fn a_mistyped_field_is_reported_with_every_rule_on_the_other_one() {
    let (sdk, table, app) = setup().await;
    let cases = [
        (
            json!({"CurrentPassword": 5, "NewPassword": "k7#Vq"}),
            vec![
                ("InvalidRequestBody", "CurrentPassword"),
                ("PasswordTooShort", "NewPassword"),
            ],
        ),
        (
            json!({"CurrentPassword": 5}),
            vec![
                ("InvalidRequestBody", "CurrentPassword"),
                ("Required", "NewPassword"),
            ],
        ),
        (
            json!({"CurrentPassword": null, "NewPassword": ["x"]}),
            vec![
                ("Required", "CurrentPassword"),
                ("InvalidRequestBody", "NewPassword"),
            ],
        ),
    ];
    for (request, expected) in cases {
        let a = invoke(&app, event(&request.to_string()), "r").await;
        assert_eq!(a.status, 400, "{request}: {}", a.body);
        a.assert_envelope();
        let seen: Vec<(String, String)> = a.body["Errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["Code"].as_str().unwrap().to_string(),
                    e["Field"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let mut expected: Vec<(String, String)> = expected
            .iter()
            .map(|(c, f)| (c.to_string(), f.to_string()))
            .collect();
        let mut seen_sorted = seen.clone();
        seen_sorted.sort();
        expected.sort();
        assert_eq!(seen_sorted, expected, "{request}");
    }
    // Not an object at all: that alone, with no field.
    let a = invoke(&app, event("[1]"), "r").await;
    assert_eq!(a.error_codes(), vec!["InvalidRequestBody"]);
    assert_eq!(a.body["Errors"][0]["Field"], Value::Null);
    let stored = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&stored, "FailedPasswordAttempts"), None);
}
