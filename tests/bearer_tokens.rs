//! Bearer tokens verified inside the function (SPEC §3 source 4): every check, each failing if
//! removed. The JWKS is served by a small HTTP server inside the test.

mod support;

use base64::Engine;
use change_password::auth::jwks::{RETRY_AFTER_FAILURE, UNKNOWN_KID_PENALTY};
use jsonwebtoken::jwk::PublicKeyUse;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::issuer::{JwksServer, ec, fixture, jwk, rsa, sign};
use support::manual_clock::ManualClock;
use support::*;

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test";
const CLIENT: &str = "client-abc";
const HS_SECRET: &str = "a-test-only-hs256-secret-of-enough-length";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn access_claims() -> Value {
    json!({
        "sub": DEMO_SUB, "username": "demo", "client_id": CLIENT, "token_use": "access",
        "iss": ISSUER, "iat": now(), "exp": now() + 3600, "scope": "aws.cognito.signin.user.admin"
    })
}

fn rs(claims: &Value) -> String {
    sign(claims, Algorithm::RS256, &rsa(1), Some("rsa-1"))
}

struct World {
    sdk: aws_config::SdkConfig,
    table: String,
    app: Arc<change_password::app::App>,
    jwks: JwksServer,
    /// The JWKS cache's clock: the penalty and the failure back-off pass when the test moves it.
    clock: ManualClock,
}

async fn world_with(extra: &[(&str, &str)]) -> World {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let jwks = JwksServer::start(vec![
        jwk(&rsa(1), Algorithm::RS256, "rsa-1"),
        jwk(&ec(), Algorithm::ES256, "ec-1"),
    ])
    .await;
    let mut vars = vec![
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", CLIENT),
        ("JWT_JWKS_URL", jwks.url.as_str()),
    ];
    vars.extend_from_slice(extra);
    let clock = ManualClock::default();
    let app =
        change_password::app::build_with(&config(&table, &vars), &sdk, &clock.timing()).unwrap();
    World {
        sdk,
        table,
        app,
        jwks,
        clock,
    }
}

async fn world() -> World {
    world_with(&[]).await
}

/// A function URL event (no authorizer) carrying `token` in the Authorization header.
fn with_header(token: &str) -> Value {
    let mut e = load_event("function-url.json");
    e["headers"]["authorization"] = json!(format!("Bearer {token}"));
    e
}

fn with_query(token: &str) -> Value {
    let mut e = load_event("function-url.json");
    e["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    e["rawQueryString"] = json!(format!("access_token={token}"));
    e["queryStringParameters"] = json!({"access_token": token});
    e
}

async fn expect_invalid(w: &World, token: &str, why: &str) {
    let a = invoke(&w.app, with_header(token), "r").await;
    assert_eq!(a.status, 401, "{why}: {}", a.body);
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\""),
        "{why}"
    );
    assert_eq!(
        n(&item(&w.sdk, &w.table, DEMO_SUB).await, "PasswordVersion"),
        None,
        "{why}: nothing written"
    );
}

async fn expect_changed(w: &World, event: Value, why: &str) -> Answer {
    let a = invoke(&w.app, event, "r").await;
    assert_eq!(a.status, 200, "{why}: {}", a.body);
    let stored = s(&item(&w.sdk, &w.table, DEMO_SUB).await, "PasswordHash").unwrap();
    assert!(
        rust_argon2::verify_encoded(&stored, DEMO_NEW.as_bytes()).unwrap(),
        "{why}"
    );
    a
}

#[tokio::test]
async fn valid_rs256_in_the_header_of_a_function_url_event() {
    let w = world().await;
    let a = expect_changed(&w, with_header(&rs(&access_claims())), "header").await;
    assert_eq!(a.body["Warnings"], json!([]));
}

#[tokio::test]
async fn valid_rs256_in_the_query_string_carries_a_warning() {
    let w = world().await;
    let a = expect_changed(&w, with_query(&rs(&access_claims())), "query").await;
    let warning = &a.body["Warnings"][0];
    assert_eq!(warning["Code"], "TokenInQueryString");
    assert_eq!(
        (warning["Type"].as_u64(), warning["Severity"].as_u64()),
        (Some(0), Some(1))
    );
}

#[tokio::test]
async fn valid_rs256_through_an_alb_event_and_es256() {
    let w = world().await;
    let mut e = load_event("alb.json");
    e["headers"]["authorization"] = json!(format!("Bearer {}", rs(&access_claims())));
    expect_changed(&w, e, "alb").await;
    let w = world().await;
    let token = sign(&access_claims(), Algorithm::ES256, &ec(), Some("ec-1"));
    expect_changed(&w, with_header(&token), "es256").await;
}

#[tokio::test]
async fn time_claims_are_checked_with_60_seconds_of_leeway() {
    let w = world().await;
    let mut c = access_claims();
    c["exp"] = json!(now() - 120);
    expect_invalid(&w, &rs(&c), "expired").await;
    c["exp"] = json!(now() + 3600);
    c["nbf"] = json!(now() + 300);
    expect_invalid(&w, &rs(&c), "not yet valid").await;
    // Within the leeway: accepted.
    c["nbf"] = json!(now() + 30);
    c["exp"] = json!(now() - 30);
    expect_changed(&w, with_header(&rs(&c)), "within leeway").await;
}

#[tokio::test]
async fn issuer_audience_and_token_use() {
    let w = world().await;
    let mut c = access_claims();
    c["iss"] = json!("https://evil.example");
    expect_invalid(&w, &rs(&c), "wrong issuer").await;
    c.as_object_mut().unwrap().remove("iss");
    expect_invalid(&w, &rs(&c), "no issuer").await;
    let mut c = access_claims();
    c["client_id"] = json!("another-client");
    expect_invalid(&w, &rs(&c), "wrong client_id").await;
    let mut c = access_claims();
    c.as_object_mut().unwrap().remove("client_id");
    c["aud"] = json!("another-client");
    expect_invalid(&w, &rs(&c), "wrong aud").await;
    let mut c = access_claims();
    c["token_use"] = json!("id");
    c["aud"] = json!(CLIENT);
    expect_invalid(&w, &rs(&c), "ID token").await;
    let mut c = access_claims();
    c.as_object_mut().unwrap().remove("sub");
    expect_invalid(&w, &rs(&c), "no sub").await;
    // An `aud` list with the client, and no token_use: accepted.
    let mut c = access_claims();
    c.as_object_mut().unwrap().remove("client_id");
    c.as_object_mut().unwrap().remove("token_use");
    c["aud"] = json!(["x", CLIENT]);
    expect_changed(&w, with_header(&rs(&c)), "aud list").await;
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let w = world().await;
    let token = rs(&access_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // Tampered payload: another subject, original signature.
    let mut claims = access_claims();
    claims["sub"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    expect_invalid(&w, &tampered, "tampered").await;
    // alg none.
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    expect_invalid(&w, &none, "alg none").await;
    // HS256 signed with the RSA public key as the HMAC secret (algorithm confusion).
    let confused = sign(
        &access_claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(&fixture("rsa-1.pub.pem")),
        Some("rsa-1"),
    );
    expect_invalid(&w, &confused, "HS256 with the public key").await;
    // RS384 (not allowed) and a token signed by an unpublished key under a published kid.
    expect_invalid(
        &w,
        &sign(&access_claims(), Algorithm::RS384, &rsa(1), Some("rsa-1")),
        "RS384",
    )
    .await;
    expect_invalid(
        &w,
        &sign(&access_claims(), Algorithm::RS256, &rsa(2), Some("rsa-1")),
        "wrong key",
    )
    .await;
    // ES256 header pointing at an RSA key.
    expect_invalid(
        &w,
        &sign(&access_claims(), Algorithm::ES256, &ec(), Some("rsa-1")),
        "kty mismatch",
    )
    .await;
    // A key published for encryption, not signatures, never verifies.
    let mut enc = jwk(&rsa(1), Algorithm::RS256, "rsa-enc");
    enc.common.public_key_use = Some(PublicKeyUse::Encryption);
    w.jwks
        .publish(vec![jwk(&rsa(1), Algorithm::RS256, "rsa-1"), enc]);
    let w = World {
        app: change_password::app::build(
            &config(
                &w.table,
                &[
                    ("JWT_ISSUER", ISSUER),
                    ("JWT_AUDIENCE", CLIENT),
                    ("JWT_JWKS_URL", w.jwks.url.as_str()),
                ],
            ),
            &w.sdk,
        )
        .unwrap(),
        ..w
    };
    expect_invalid(
        &w,
        &sign(&access_claims(), Algorithm::RS256, &rsa(1), Some("rsa-enc")),
        "use=enc",
    )
    .await;
    for garbage in ["garbage", "a.b.c", "....", "eyJ.eyJ.sig"] {
        expect_invalid(&w, garbage, garbage).await;
    }
}

#[tokio::test]
async fn a_refetch_that_lacked_the_kid_holds_further_refetches_back() {
    let w = world().await;
    expect_changed(&w, with_header(&rs(&access_claims())), "warm-up").await;
    assert_eq!(w.jwks.hits.load(Ordering::SeqCst), 1);
    for i in 0..5 {
        let token = sign(
            &access_claims(),
            Algorithm::RS256,
            &rsa(2),
            Some(&format!("random-{i}")),
        );
        let a = invoke(&w.app, with_header(&token), "r").await;
        assert_eq!(a.status, 401);
    }
    assert_eq!(
        w.jwks.hits.load(Ordering::SeqCst),
        2,
        "one refetch for the first unknown kid, none for the flood behind it"
    );
}

#[tokio::test]
async fn a_key_published_after_the_cache_was_filled_is_accepted_on_first_use() {
    // The default penalty (10 s) is in force: the cache was filled by a fetch that found the
    // kid it was asked for, so nothing holds the refetch back.
    let w = world().await;
    let mut c = access_claims();
    c["sub"] = json!("nobody-here");
    invoke(&w.app, with_header(&rs(&c)), "r")
        .await
        .assert_code(404, "AccountNotFound");
    assert_eq!(w.jwks.hits.load(Ordering::SeqCst), 1);
    w.jwks.publish(vec![
        jwk(&rsa(1), Algorithm::RS256, "rsa-1"),
        jwk(&rsa(2), Algorithm::RS256, "rsa-2"),
    ]);
    let token = sign(&access_claims(), Algorithm::RS256, &rsa(2), Some("rsa-2"));
    expect_changed(&w, with_header(&token), "rotated key").await;
    assert_eq!(w.jwks.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_key_published_during_the_penalty_is_accepted_once_it_ends() {
    let w = world().await;
    let early = sign(&access_claims(), Algorithm::RS256, &rsa(2), Some("rsa-2"));
    // rsa-2 is not published yet: the refetch lacks it, and the penalty starts.
    assert_eq!(invoke(&w.app, with_header(&early), "r").await.status, 401);
    assert_eq!(w.jwks.hits.load(Ordering::SeqCst), 1);
    w.jwks.publish(vec![
        jwk(&rsa(1), Algorithm::RS256, "rsa-1"),
        jwk(&rsa(2), Algorithm::RS256, "rsa-2"),
    ]);
    assert_eq!(invoke(&w.app, with_header(&early), "r").await.status, 401);
    assert_eq!(
        w.jwks.hits.load(Ordering::SeqCst),
        1,
        "held back by the penalty"
    );
    // The penalty (10 s) holds to its last moment, and not a moment longer.
    w.clock
        .advance(UNKNOWN_KID_PENALTY - Duration::from_millis(1));
    assert_eq!(invoke(&w.app, with_header(&early), "r").await.status, 401);
    assert_eq!(w.jwks.hits.load(Ordering::SeqCst), 1);
    w.clock.advance(Duration::from_millis(1));
    expect_changed(&w, with_header(&early), "after the penalty").await;
    assert_eq!(w.jwks.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn hs256_through_a_secret_in_secrets_manager() {
    let sdk = sdk().await;
    let secret_id = format!("jwt-hs256-{}", std::process::id());
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&secret_id)
        .secret_string(HS_SECRET)
        .send()
        .await
        .unwrap();
    let w = world_with(&[("JWT_HS256_SECRET_ID", secret_id.as_str())]).await;
    let forged = sign(
        &access_claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another secret"),
        None,
    );
    expect_invalid(&w, &forged, "HS256 with another secret").await;
    let token = sign(
        &access_claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()),
        None,
    );
    expect_changed(&w, with_header(&token), "hs256").await;
    // HS256 is never accepted without the secret configured.
    let w = world().await;
    expect_invalid(&w, &token, "HS256 unconfigured").await;
}

#[tokio::test]
async fn jwks_down_is_503_not_401() {
    let w = world().await;
    w.jwks.down.store(true, Ordering::SeqCst);
    let a = invoke(&w.app, with_header(&rs(&access_claims())), "r").await;
    assert_eq!(a.status, 503, "{}", a.body);
    a.assert_envelope();
    assert_eq!(a.error_codes(), vec!["ServiceUnavailable"]);
    assert_eq!(a.body["Errors"][0]["Type"], 2);
    // The figure, not only the header's presence (SPEC §4: 503 + Retry-After).
    assert_eq!(a.header("retry-after"), Some("1"), "{:?}", a.headers);
    // It recovers by itself once the endpoint is back, after the failure back-off (5 s): until
    // then the endpoint is not asked again.
    w.jwks.down.store(false, Ordering::SeqCst);
    let asked = w.jwks.hits.load(Ordering::SeqCst);
    w.clock
        .advance(RETRY_AFTER_FAILURE - Duration::from_millis(1));
    invoke(&w.app, with_header(&rs(&access_claims())), "r")
        .await
        .assert_code(503, "ServiceUnavailable");
    assert_eq!(w.jwks.hits.load(Ordering::SeqCst), asked);
    w.clock.advance(Duration::from_millis(1));
    expect_changed(&w, with_header(&rs(&access_claims())), "recovered").await;
}

#[tokio::test]
async fn machine_tokens_are_forbidden() {
    let w = world().await;
    let mut c = access_claims();
    c.as_object_mut().unwrap().remove("username");
    c["sub"] = json!(CLIENT);
    let a = invoke(&w.app, with_header(&rs(&c)), "r").await;
    a.assert_problem(403, "r");
}

#[tokio::test]
async fn precedence_authorizer_then_header_then_query() {
    let w = world().await;
    // The authorizer names the demo user; a valid token for another subject cannot redirect it.
    let mut other = access_claims();
    other["sub"] = json!("attacker");
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["headers"]["authorization"] = json!(format!("Bearer {}", rs(&other)));
    e["queryStringParameters"] = json!({"access_token": rs(&other)});
    expect_changed(&w, e, "authorizer wins").await;
    // A valid header beats an invalid query token, and there is then no query warning.
    let w = world().await;
    let mut e = with_header(&rs(&access_claims()));
    e["queryStringParameters"] = json!({"access_token": "garbage"});
    let a = expect_changed(&w, e, "header wins").await;
    assert_eq!(a.body["Warnings"], json!([]));
    // An invalid header is not rescued by a valid query token.
    let w = world().await;
    let mut e = with_header("garbage");
    e["queryStringParameters"] = json!({"access_token": rs(&access_claims())});
    assert_eq!(invoke(&w.app, e, "r").await.status, 401);
}

#[tokio::test]
async fn jwks_down_later_keeps_cached_keys_and_is_503_for_new_ones() {
    let w = world().await;
    // The keys are cached by a first request.
    let mut c = access_claims();
    c["sub"] = json!("nobody-here");
    invoke(&w.app, with_header(&rs(&c)), "r")
        .await
        .assert_code(404, "AccountNotFound");
    // The endpoint goes down: tokens signed with a cached key still verify...
    w.jwks.down.store(true, Ordering::SeqCst);
    invoke(&w.app, with_header(&rs(&c)), "r")
        .await
        .assert_code(404, "AccountNotFound");
    // ...and a token naming a key that would need a refetch is a 503, not a 401.
    let token = sign(&access_claims(), Algorithm::RS256, &rsa(2), Some("rsa-2"));
    let a = invoke(&w.app, with_header(&token), "r").await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.error_codes(), vec!["ServiceUnavailable"]);
    assert_eq!(a.header("retry-after"), Some("1"), "{:?}", a.headers);
    assert_eq!(
        n(&item(&w.sdk, &w.table, DEMO_SUB).await, "PasswordVersion"),
        None
    );
}

#[tokio::test]
async fn after_a_change_a_verified_token_issued_before_it_is_401_but_the_changing_session() {
    let w = world().await;
    let signed_in = now() - 120;
    let session = |jti: &str| {
        let mut claims = access_claims();
        claims["iat"] = json!(signed_in);
        claims["jti"] = json!(jti);
        claims["origin_jti"] = json!(format!("{jti}-origin"));
        rs(&claims)
    };
    // Session A changes the password with a token from before the change.
    expect_changed(&w, with_header(&session("session-a")), "session a").await;
    let next = json!({"CurrentPassword": DEMO_NEW, "NewPassword": "amber-Quokka-Harbour-77"});
    let with_body = |mut e: Value| {
        e["body"] = json!(next.to_string());
        e["isBase64Encoded"] = json!(false);
        e
    };
    // Session B's token, issued as long ago, is refused in the header and in the query string.
    for (door, event) in [
        ("header", with_header(&session("session-b"))),
        ("query", with_query(&session("session-b"))),
    ] {
        let a = invoke(&w.app, with_body(event), door).await;
        assert_eq!(a.status, 401, "{door}: {}", a.body);
        assert_eq!(
            a.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\""),
            "{door}"
        );
    }
    // Session A goes on: a refreshed token of it (another jti, the same origin_jti) is let in.
    let mut refreshed = access_claims();
    refreshed["iat"] = json!(signed_in);
    refreshed["jti"] = json!("session-a-refreshed");
    refreshed["origin_jti"] = json!("session-a-origin");
    let a = invoke(&w.app, with_body(with_header(&rs(&refreshed))), "refreshed").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let stored = item(&w.sdk, &w.table, DEMO_SUB).await;
    assert_eq!(n(&stored, "PasswordVersion"), Some(2));
}
