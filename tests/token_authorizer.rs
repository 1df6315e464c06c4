//! token-authorizer (SPEC §7) in process, against a DynamoDB-API server: REST TOKEN and REQUEST
//! events get an IAM policy or `Unauthorized`, HTTP API events a simple response; tokens issued
//! before the user's last password change are refused, the changing session's are not; the
//! marker is cached for at most the TTL; an unreadable marker fails closed.

mod support;

use change_password::app::{TokenAuthorizer, TokenTiming};
use change_password::auth::revocation::MARKER_TTL;
use change_password::domain::sessions::{RevocationMarker, SessionIds};
use change_password::edge::authorizer::AuthorizerError;
use serde_json::{Value, json};
use std::time::Duration;
use support::manual_clock::{ManualClock, marker_read_every_time};
use support::*;

const KEY: &str = "a-test-only-hs256-key-for-the-authorizer-tests";
const ISSUER: &str = "https://issuer.example";

async fn secret(sdk: &aws_config::SdkConfig, table: &str) -> String {
    create_secret(sdk, &format!("authorizer-hs256-{table}"), KEY).await
}

/// A JWKS endpoint on loopback that publishes no key: RS256 tokens name an unknown key.
async fn empty_jwks() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let body = r#"{"keys":[]}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    url
}

/// token-authorizer on `table`, with an HS256 key in Secrets Manager and `timing`.
async fn authorizer_for(
    sdk: &aws_config::SdkConfig,
    table: &str,
    timing: &TokenTiming,
) -> TokenAuthorizer {
    let secret_id = secret(sdk, table).await;
    let jwks = empty_jwks().await;
    let cfg = config(
        table,
        &[
            ("JWT_ISSUER", ISSUER),
            ("JWT_JWKS_URL", jwks.as_str()),
            ("JWT_HS256_SECRET_ID", secret_id.as_str()),
        ],
    );
    change_password::app::build_authorizer_with(&cfg, sdk, timing).unwrap()
}

fn token(sub: &str, iat: i64, jti: &str) -> String {
    let claims = json!({"sub": sub, "username": "demo", "token_use": "access", "iss": ISSUER,
                        "iat": iat, "exp": iat + 3600, "jti": jti});
    sign_hs256(KEY, &claims)
}

/// A sample event of events/ with `token` in place of its placeholder.
fn with_token(name: &str, token: &str) -> Value {
    let mut e = load_event(name);
    let bearer = json!(format!("Bearer {token}"));
    match name {
        "authorizer-rest-token.json" => e["authorizationToken"] = bearer,
        "authorizer-rest-request.json" => {
            e["headers"]["Authorization"] = bearer.clone();
            e["multiValueHeaders"]["Authorization"] = json!([bearer]);
        }
        _ => {
            e["headers"]["authorization"] = bearer.clone();
            e["identitySource"] = json!([bearer]);
        }
    }
    e
}

async fn changed_at(sdk: &aws_config::SdkConfig, table: &str, at: i64, jti: &str) {
    let mut record = seed_demo(sdk, table, DEMO_CURRENT).await;
    record.revocation = Some(RevocationMarker {
        tokens_valid_after: at,
        session: SessionIds {
            jti: Some(jti.into()),
            ..SessionIds::default()
        },
    });
    change_password::aws::dynamodb_store::put_record(
        &aws_sdk_dynamodb::Client::new(sdk),
        table,
        &record,
    )
    .await
    .unwrap();
}

fn allowed(answer: &Result<Value, AuthorizerError>) -> bool {
    match answer {
        Ok(v) if v.get("isAuthorized").is_some() => v["isAuthorized"] == true,
        Ok(v) => v["policyDocument"]["Statement"][0]["Effect"] == "Allow",
        Err(_) => false,
    }
}

#[tokio::test]
async fn the_sample_events_are_allowed_with_a_valid_token_and_refused_as_they_stand() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let authorizer = authorizer_for(&sdk, &table, &marker_read_every_time()).await;
    let valid = token(DEMO_SUB, now() - 10, "session-1");
    let mut names: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("authorizer-"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "authorizer-http-simple.json",
            "authorizer-rest-request.json",
            "authorizer-rest-token.json"
        ]
    );
    for name in &names {
        let answer = authorizer
            .handle_event(&with_token(name, &valid))
            .await
            .unwrap();
        if name == "authorizer-http-simple.json" {
            assert_eq!(answer["isAuthorized"], true, "{name}: {answer}");
        } else {
            assert_eq!(answer["principalId"], DEMO_SUB, "{name}");
            let statement = &answer["policyDocument"]["Statement"][0];
            assert_eq!(statement["Effect"], "Allow");
            assert_eq!(statement["Action"], "execute-api:Invoke");
            assert_eq!(
                statement["Resource"],
                "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*/*"
            );
        }
        assert_eq!(answer["context"]["sub"], DEMO_SUB, "{name}");
        assert_eq!(answer["context"]["jti"], "session-1", "{name}");
        assert!(answer["context"]["iat"].is_i64(), "{name}");
        // As committed, the samples carry a token no issuer signed.
        let answer = authorizer.handle_event(&load_event(name)).await;
        match name.as_str() {
            "authorizer-http-simple.json" => {
                assert_eq!(answer.unwrap(), json!({"isAuthorized": false}))
            }
            _ => assert_eq!(answer.unwrap_err(), AuthorizerError::Unauthorized, "{name}"),
        }
    }
    // "Unauthorized" is the message API Gateway turns into a 401.
    assert_eq!(AuthorizerError::Unauthorized.to_string(), "Unauthorized");
}

#[tokio::test]
async fn tokens_issued_before_a_change_are_refused_but_the_changing_session() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let at = now() - 100;
    changed_at(&sdk, &table, at, "changing-session").await;
    let authorizer = authorizer_for(&sdk, &table, &marker_read_every_time()).await;
    for (iat, jti, expected) in [
        (at - 1, "another-session", false),
        (at - 1, "changing-session", true),
        (at, "another-session", true),
        (at + 50, "a-new-session", true),
    ] {
        for name in [
            "authorizer-rest-token.json",
            "authorizer-rest-request.json",
            "authorizer-http-simple.json",
        ] {
            let answer = authorizer
                .handle_event(&with_token(name, &token(DEMO_SUB, iat, jti)))
                .await;
            assert_eq!(
                allowed(&answer),
                expected,
                "{name} iat {iat} {jti}: {answer:?}"
            );
            if !expected && name != "authorizer-http-simple.json" {
                assert_eq!(answer.unwrap_err(), AuthorizerError::Unauthorized);
            }
        }
    }
    // A user without a record (or a marker) is not refused by the marker.
    let answer = authorizer
        .handle_event(&with_token(
            "authorizer-rest-token.json",
            &token("someone-else", at - 1000, "x"),
        ))
        .await;
    assert!(allowed(&answer), "{answer:?}");
}

#[tokio::test]
async fn the_marker_is_cached_for_at_most_the_ttl() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let time = ManualClock::default();
    let authorizer = authorizer_for(&sdk, &table, &time.timing()).await;
    let old = token(DEMO_SUB, now() - 30, "old-session");
    let event = with_token("authorizer-rest-token.json", &old);
    assert!(allowed(&authorizer.handle_event(&event).await));
    // A change happens now: within the TTL the cached (empty) marker still answers...
    changed_at(&sdk, &table, now(), "changing-session").await;
    assert!(allowed(&authorizer.handle_event(&event).await));
    time.advance(MARKER_TTL - Duration::from_millis(1));
    assert!(allowed(&authorizer.handle_event(&event).await));
    // ...and once it has passed (30 s), the token is refused.
    time.advance(Duration::from_millis(1));
    assert_eq!(
        authorizer.handle_event(&event).await.unwrap_err(),
        AuthorizerError::Unauthorized
    );
}

#[tokio::test]
async fn an_unreadable_marker_fails_closed_unless_a_fresh_one_is_cached() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let event = with_token(
        "authorizer-rest-token.json",
        &token(DEMO_SUB, now(), "session"),
    );
    let time = ManualClock::default();
    let authorizer = authorizer_for(&sdk, &table, &time.timing()).await;
    assert!(allowed(&authorizer.handle_event(&event).await));
    // The table goes away: DynamoDB answers an error, as when it cannot be read. The marker
    // read within the TTL still answers...
    aws_sdk_dynamodb::Client::new(&sdk)
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert!(allowed(&authorizer.handle_event(&event).await));
    time.advance(MARKER_TTL - Duration::from_millis(1));
    assert!(allowed(&authorizer.handle_event(&event).await));
    // ...and past it, the authorizer fails closed: an error, not an allow and not a 401.
    time.advance(Duration::from_millis(1));
    match authorizer.handle_event(&event).await {
        Err(AuthorizerError::Unavailable(_)) => {}
        other => panic!("an unreadable marker must fail closed, not {other:?}"),
    }
    let simple = with_token("authorizer-http-simple.json", &token(DEMO_SUB, now(), "s"));
    assert!(matches!(
        authorizer.handle_event(&simple).await,
        Err(AuthorizerError::Unavailable(_))
    ));
    // Not an authorizer event at all.
    assert_eq!(
        authorizer
            .handle_event(&json!({"hello": 1}))
            .await
            .unwrap_err(),
        AuthorizerError::NotAnAuthorizerEvent
    );
}

#[tokio::test]
async fn machine_tokens_are_let_through_and_missing_tokens_are_unauthorized() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let authorizer = authorizer_for(&sdk, &table, &marker_read_every_time()).await;
    let machine = sign_hs256(
        KEY,
        &json!({"sub": "app-1", "client_id": "app-1", "token_use": "access", "iss": ISSUER,
                "iat": now(), "exp": now() + 600}),
    );
    let answer = authorizer
        .handle_event(&with_token("authorizer-rest-token.json", &machine))
        .await
        .unwrap();
    // Refusing machines is change-password's rule, not the workspace's: the other APIs get them.
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(answer["principalId"], "app-1");
    let mut e = load_event("authorizer-rest-request.json");
    e["headers"]
        .as_object_mut()
        .unwrap()
        .remove("Authorization");
    assert_eq!(
        authorizer.handle_event(&e).await.unwrap_err(),
        AuthorizerError::Unauthorized
    );
}

#[tokio::test]
async fn a_token_of_unknown_age_is_passed_on_as_such_not_as_vouched_for() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let authorizer = authorizer_for(&sdk, &table, &marker_read_every_time()).await;
    // No `iat`, and no change yet: allowed, and the context says the age is unknown.
    let claims = json!({"sub": DEMO_SUB, "username": "demo", "token_use": "access",
                        "iss": ISSUER, "exp": now() + 600, "jti": "session-9"});
    let event = with_token("authorizer-http-simple.json", &sign_hs256(KEY, &claims));
    let answer = authorizer.handle_event(&event).await.unwrap();
    assert_eq!(answer["isAuthorized"], true, "{answer}");
    assert_eq!(answer["context"]["iat"], "unknown", "{answer}");
    // change-password behind it reads that context as a token of unknown age, which a change
    // revokes, not as a caller the authorizer vouched for.
    let request_context = json!({"authorizer": {"lambda": answer["context"]}});
    let principal = change_password::auth::principal::from_authorizer(&request_context, &[])
        .unwrap()
        .unwrap();
    assert_eq!(
        principal.token.issued_at,
        change_password::domain::sessions::IssuedAt::Unknown
    );
}
