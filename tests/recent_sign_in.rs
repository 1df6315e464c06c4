//! MAX_AUTH_AGE_SECONDS (SPEC §3, RFC 9470): a token whose `auth_time` is older, or absent, is
//! a 401 problem with an `insufficient_user_authentication` challenge naming `max_age`, for
//! authorizer claims, Lambda authorizer contexts and tokens the function verifies.

mod support;

use serde_json::{Value, json};
use support::*;

const KEY: &str = "a-test-only-hs256-key-for-the-sign-in-tests";
const ISSUER: &str = "https://issuer.example";

fn body() -> Value {
    json!(json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW}).to_string())
}

fn jwt_claims(auth_time: Option<i64>) -> Value {
    let mut e = load_event("apigw-http-jwt.json");
    let claims = e["requestContext"]["authorizer"]["jwt"]["claims"]
        .as_object_mut()
        .unwrap();
    claims.remove("auth_time");
    claims.insert("iat".into(), json!(now().to_string()));
    if let Some(at) = auth_time {
        claims.insert("auth_time".into(), json!(at.to_string()));
    }
    e["isBase64Encoded"] = json!(false);
    e["body"] = body();
    e
}

/// A REST Cognito authorizer's claims (strings, as API Gateway passes them).
fn cognito_claims(auth_time: Option<i64>) -> Value {
    let mut e = load_event("apigw-rest-cognito.json");
    let claims = e["requestContext"]["authorizer"]["claims"]
        .as_object_mut()
        .unwrap();
    claims.remove("auth_time");
    claims.insert("iat".into(), json!(now().to_string()));
    if let Some(at) = auth_time {
        claims.insert("auth_time".into(), json!(at.to_string()));
    }
    e["body"] = body();
    e
}

fn lambda_context(auth_time: Option<i64>) -> Value {
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    if let Some(at) = auth_time {
        e["requestContext"]["authorizer"]["lambda"]["auth_time"] = json!(at);
    }
    e["body"] = body();
    e
}

fn bearer(auth_time: Option<i64>) -> Value {
    let mut claims = json!({"sub": DEMO_SUB, "username": "demo", "token_use": "access",
                            "iss": ISSUER, "iat": now(), "exp": now() + 600});
    if let Some(at) = auth_time {
        claims["auth_time"] = json!(at);
    }
    let token = sign_hs256(KEY, &claims);
    let mut e = load_event("function-url.json");
    e["headers"]["authorization"] = json!(format!("Bearer {token}"));
    e["isBase64Encoded"] = json!(false);
    e["body"] = body();
    e
}

async fn app_with(max_age: Option<&str>) -> (aws_config::SdkConfig, String, Arc<App>) {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let secret_id = create_secret(&sdk, &format!("sign-in-hs256-{table}"), KEY).await;
    let mut vars = vec![
        ("JWT_ISSUER", ISSUER),
        ("JWT_HS256_SECRET_ID", secret_id.as_str()),
    ];
    if let Some(max_age) = max_age {
        vars.push(("MAX_AUTH_AGE_SECONDS", max_age));
    }
    let app = change_password::app::build(&config(&table, &vars), &sdk).unwrap();
    (sdk, table, app)
}

use change_password::app::App;
use std::sync::Arc;

/// An event of one source, with the given `auth_time`.
type EventOf = fn(Option<i64>) -> Value;

#[tokio::test]
async fn an_old_or_missing_sign_in_gets_the_rfc_9470_challenge_from_every_source() {
    let (sdk, table, app) = app_with(Some("300")).await;
    let old = Some(now() - 301);
    for (name, event) in [
        ("jwt old", jwt_claims(old)),
        ("jwt none", jwt_claims(None)),
        ("cognito old", cognito_claims(old)),
        ("cognito none", cognito_claims(None)),
        ("lambda old", lambda_context(old)),
        ("lambda none", lambda_context(None)),
        ("bearer old", bearer(old)),
        ("bearer none", bearer(None)),
    ] {
        let a = invoke(&app, event, name).await;
        assert_eq!(a.status, 401, "{name}: {}", a.body);
        assert_eq!(a.body["status"], 401, "{name}");
        assert_eq!(
            a.header("www-authenticate"),
            Some(
                "Bearer error=\"insufficient_user_authentication\", error_description=\"A more recent authentication is required\", max_age=\"300\""
            ),
            "{name}"
        );
    }
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        None
    );
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        None
    );
    // A recent sign-in passes, from each source (each on an account of its own: a change
    // ends the tokens issued before it).
    let recent = Some(now() - 30);
    let events: [(&str, EventOf); 4] = [
        ("jwt", jwt_claims),
        ("cognito", cognito_claims),
        ("lambda", lambda_context),
        ("bearer", bearer),
    ];
    for (name, event) in events {
        let (sdk, table, app) = app_with(Some("300")).await;
        let a = invoke(&app, event(recent), name).await;
        assert_eq!(a.status, 200, "{name}: {}", a.body);
        assert_eq!(
            n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
            Some(1)
        );
    }
}

#[tokio::test]
async fn without_max_auth_age_the_sign_in_time_does_not_matter() {
    let (_sdk, _table, app) = app_with(None).await;
    let a = invoke(&app, jwt_claims(Some(now() - 86_400 * 30)), "old").await;
    assert_eq!(a.status, 200, "{}", a.body);
}
