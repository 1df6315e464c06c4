//! SPEC §7 with the real binaries under a Runtime API emulator, several processes at once:
//! the revocation marker decides between racing sessions, token-authorizer refuses the tokens
//! a change ended, and a failed refresh-token revocation is counted without failing the change.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::runtime_api::{Invocation, RuntimeApi, aws_vars, drain};
use support::*;

const LIMIT: Duration = Duration::from_secs(20);
const KEY: &str = "a-test-only-hs256-key-for-the-binary-tests!";
const ISSUER: &str = "https://issuer.example";

/// A change of the demo user's password by a token of session `jti`, issued at `iat`.
fn change_event(jti: &str, iat: i64, current: &str, new: &str) -> Value {
    let mut e = load_event("apigw-http-jwt.json");
    let claims = &mut e["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["jti"] = json!(jti);
    claims["origin_jti"] = json!(format!("{jti}-origin"));
    claims["iat"] = json!(iat.to_string());
    e["isBase64Encoded"] = json!(false);
    e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": new}).to_string());
    e
}

async fn status(api: &RuntimeApi, event: Value) -> u64 {
    answer(api, event).await.status as u64
}

async fn answer(api: &RuntimeApi, event: Value) -> Answer {
    match api.invoke(event, LIMIT).await {
        Some(Invocation::Response(r)) => Answer::from_lambda(&r),
        other => panic!("{other:?}"),
    }
}

fn hs256(sub: &str, iat: i64, jti: &str) -> String {
    let claims = json!({"sub": sub, "username": "demo", "token_use": "access", "iss": ISSUER,
                        "iat": iat, "exp": iat + 3600, "jti": jti, "origin_jti": format!("{jti}-origin")});
    sign_hs256(KEY, &claims)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_sessions_one_change_wins_and_every_other_session_is_refused_everywhere() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let secret_id = create_secret(&sdk, &format!("binary-hs256-{table}"), KEY).await;
    let api = std::sync::Arc::new(RuntimeApi::start().await);
    let mut functions: Vec<_> = (0..3)
        .map(|_| api.spawn_function(&aws_vars(&table, &[])))
        .collect();
    let function_stdout: Vec<_> = functions
        .iter_mut()
        .map(|c| tokio::spawn(drain(c.stdout.take().unwrap())))
        .collect();
    // Six sessions, all signed in before the change, race to change the password.
    let signed_in = now() - 120;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let api = api.clone();
        let session = format!("session-{i}");
        let new = format!("racer-{i}-Violet-Harbor-Lantern");
        tasks.push(tokio::spawn(async move {
            let answer = answer(&api, change_event(&session, signed_in, DEMO_CURRENT, &new)).await;
            (session, new, answer)
        }));
    }
    let mut winners = Vec::new();
    let mut statuses = Vec::new();
    for t in tasks {
        let (session, new, answer) = t.await.unwrap();
        statuses.push(answer.status);
        match answer.status {
            200 => winners.push((session, new)),
            // Lost the write, or read after the winner (a wrong current password, or a token
            // from before the change), or found the attempts reserved by the others.
            409 => answer.assert_code(409, "PasswordChangeConflict"),
            400 => answer.assert_code(400, "CurrentPasswordIncorrect"),
            401 => assert_eq!(
                answer.header("www-authenticate"),
                Some("Bearer error=\"invalid_token\""),
                "{}",
                answer.body
            ),
            429 => answer.assert_code(429, "AccountLocked"),
            other => panic!("{other}"),
        }
    }
    assert_eq!(winners.len(), 1, "{statuses:?}");
    let (winner, password) = winners.pop().unwrap();
    eprintln!("racing sessions: statuses {statuses:?}");
    // Afterwards, every other session is refused by the function, and the winner's goes on.
    for i in 0..6 {
        let session = format!("session-{i}");
        let answer = status(
            &api,
            change_event(&session, signed_in, &password, "amber-Quokka-Harbour-77"),
        )
        .await;
        if session == winner {
            assert_ne!(answer, 401, "the changing session stays signed in");
        } else {
            assert_eq!(answer, 401, "{session}");
        }
    }
    // token-authorizer instances started now refuse the other sessions' tokens too.
    let authorizer_vars = aws_vars(
        &table,
        &[("JWT_ISSUER", ISSUER), ("JWT_HS256_SECRET_ID", &secret_id)],
    );
    let authorizers = std::sync::Arc::new(RuntimeApi::start().await);
    let mut children: Vec<_> = (0..2)
        .map(|_| authorizers.spawn_authorizer(&authorizer_vars))
        .collect();
    let stdout: Vec<_> = children
        .iter_mut()
        .map(|c| tokio::spawn(drain(c.stdout.take().unwrap())))
        .collect();
    let event = |jti: &str, iat: i64| {
        let mut e = load_event("authorizer-rest-token.json");
        e["authorizationToken"] = json!(format!("Bearer {}", hs256(DEMO_SUB, iat, jti)));
        e
    };
    for i in 0..6 {
        let session = format!("session-{i}");
        let answer = authorizers.invoke(event(&session, signed_in), LIMIT).await;
        match (&answer, session == winner) {
            (Some(Invocation::Response(r)), true) => {
                assert_eq!(
                    r["policyDocument"]["Statement"][0]["Effect"], "Allow",
                    "{r}"
                );
                assert_eq!(r["context"]["sub"], DEMO_SUB);
            }
            (Some(Invocation::Error(e)), false) => {
                assert_eq!(e["errorMessage"], "Unauthorized", "{e}");
            }
            other => panic!("{session}: {other:?}"),
        }
    }
    // A token issued after the change is allowed.
    match authorizers
        .invoke(event("new-session", now() + 1), LIMIT)
        .await
    {
        Some(Invocation::Response(r)) => {
            assert_eq!(r["policyDocument"]["Statement"][0]["Effect"], "Allow")
        }
        other => panic!("{other:?}"),
    }
    for child in functions.iter_mut().chain(children.iter_mut()) {
        assert!(child.try_wait().unwrap().is_none(), "a process died");
        child.kill().await.unwrap();
    }
    let logs: String = futures_join(stdout).await;
    for metric in [
        "\"AuthorizerAllowed\":1",
        "\"AuthorizerDenied\":1",
        "\"TokenRevoked\":1",
    ] {
        assert!(
            logs.contains(metric),
            "no {metric} in the authorizers' output"
        );
    }
    assert!(!logs.contains(KEY), "the HS256 key reached a log");
    // The function counted each token it refused as revoked: the five other sessions after
    // the race, and any racer that read the account after the winner's change.
    let function_logs = futures_join(function_stdout).await;
    let refused_in_race = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(
        function_logs.matches("\"TokenRevoked\":1").count(),
        5 + refused_in_race,
        "{statuses:?}"
    );
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<String>>) -> String {
    let mut all = String::new();
    for h in handles {
        all.push_str(&h.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_token_revocation_is_counted_and_the_change_stands() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let api = RuntimeApi::start().await;
    let mut child = api.spawn_function(&aws_vars(
        &table,
        &[("COGNITO_USER_POOL_ID", "eu-west-1_NoSuchPool")],
    ));
    let stdout = tokio::spawn(drain(child.stdout.take().unwrap()));
    assert_eq!(status(&api, load_event("apigw-http-jwt.json")).await, 200);
    child.kill().await.unwrap();
    let logs = stdout.await.unwrap();
    assert!(logs.contains("\"GlobalSignOutFailed\":1"), "{logs}");
    assert!(
        logs.contains("its refresh tokens could not be revoked"),
        "{logs}"
    );
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        Some(1)
    );
}
