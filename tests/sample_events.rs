//! Every file in events/ through the whole handler against a DynamoDB-API server: status, body
//! and what is in the table afterwards.

mod support;

use serde_json::json;
use std::time::Duration;
use support::runtime_api::{Invocation, RuntimeApi, aws_vars};
use support::*;

/// What the pipe hands its enrichment, and the event `change-notice` receives.
const SECURITY_EVENT_SAMPLES: [&str; 2] = [
    "pipe-enrichment-batch.json",
    "eventbridge-password-changed.json",
];

/// The pipe's sample batch through the real `security-event` gives exactly the detail of the
/// EventBridge sample, and that sample through the real `change-notice` mails the demo user's
/// every address once.
#[tokio::test]
async fn the_security_event_samples_go_through_their_functions() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let notice = load_event("eventbridge-password-changed.json");
    let api = RuntimeApi::start().await;
    let issuer = notice["detail"]["iss"].as_str().unwrap();
    let _enrichment =
        api.spawn_security_event(&aws_vars(&table, &[("SECURITY_EVENT_ISSUER", issuer)]));
    let Some(Invocation::Response(details)) = api
        .invoke(
            load_event("pipe-enrichment-batch.json"),
            Duration::from_secs(30),
        )
        .await
    else {
        panic!("the enrichment answers");
    };
    assert_eq!(details, json!([notice["detail"]]));

    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let extra = format!("demo-{}@example.net", std::process::id());
    aws_sdk_dynamodb::Client::new(&sdk)
        .update_item()
        .table_name(&table)
        .key(
            "UserId",
            aws_sdk_dynamodb::types::AttributeValue::S(DEMO_SUB.into()),
        )
        .update_expression("SET NotificationEmails = :a")
        .expression_attribute_values(
            ":a",
            aws_sdk_dynamodb::types::AttributeValue::L(vec![
                aws_sdk_dynamodb::types::AttributeValue::S(extra.clone()),
            ]),
        )
        .send()
        .await
        .unwrap();
    committed_version_1(&sdk, &table, notice["detail"]["jti"].as_str().unwrap()).await;
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity("security@example.com")
        .send()
        .await
        .unwrap();
    // A runtime of its own: the enrichment process still polls the first one.
    let api = RuntimeApi::start().await;
    let _notifier = api.spawn_change_notice(&aws_vars(
        &table,
        &[
            ("NOTICE_FROM", "security@example.com"),
            ("NOTICE_HELP_URL", "https://example.com/account-help"),
            ("NOTICE_CONTACT", "security@example.com"),
        ],
    ));
    let Some(Invocation::Response(answer)) =
        api.invoke(notice.clone(), Duration::from_secs(30)).await
    else {
        panic!("change-notice answers");
    };
    assert_eq!(
        answer,
        json!({"outcome": "Sent", "sent": 2, "jti": notice["detail"]["jti"]})
    );
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "NoticeSentVersion"),
        Some(1)
    );
}

/// What each sample must produce. A file in events/ without an entry here fails the test.
fn expected(name: &str) -> Option<(u16, Option<&'static str>)> {
    Some(match name {
        "apigw-rest-cognito.json"
        | "apigw-rest-lambda-authorizer.json"
        | "apigw-http-jwt.json"
        | "apigw-http-lambda-authorizer.json" => (200, None),
        "apigw-rest-api-key.json" => (403, None),
        // Token verification inside the function is not configured: bearer tokens are refused.
        "alb.json" | "function-url.json" => (401, None),
        "failure-wrong-current-password.json" => (400, Some("CurrentPasswordIncorrect")),
        "failure-missing-fields.json" => (400, Some("Required")),
        "failure-malformed-json.json" => (400, Some("InvalidRequestBody")),
        _ => return None,
    })
}

#[tokio::test]
async fn every_sample_event_gives_its_documented_answer() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let app = app(&sdk, &table).await;
    let mut names: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    // The token-authorizer's events are tested by tests/token_authorizer.rs, the security
    // event's two below.
    for name in names
        .into_iter()
        .filter(|n| !n.starts_with("authorizer-") && !SECURITY_EVENT_SAMPLES.contains(&n.as_str()))
    {
        let (status, code) = expected(&name)
            .unwrap_or_else(|| panic!("events/{name} has no expectation in this test"));
        let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
        let request_id = format!("req-{name}");
        let answer = invoke(&app, load_event(&name), &request_id).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.body);
        let item = item(&sdk, &table, DEMO_SUB).await;
        let stored = s(&item, "PasswordHash").unwrap();
        match status {
            200 => {
                answer.assert_envelope();
                assert_eq!(answer.body["Success"], true, "{name}");
                assert_eq!(answer.body["Data"]["PasswordChanged"], true);
                assert_eq!(answer.body["Errors"], serde_json::json!([]));
                assert_eq!(n(&item, "PasswordVersion"), Some(1), "{name}");
                assert!(
                    stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
                    "{name}"
                );
                // Checked by an independent argon2 implementation.
                assert!(
                    rust_argon2::verify_encoded(&stored, DEMO_NEW.as_bytes()).unwrap(),
                    "{name}"
                );
                assert!(s(&item, "PasswordChangedAt").is_some());
            }
            400 => {
                answer.assert_envelope();
                assert_eq!(answer.body["Success"], false);
                let codes = answer.error_codes();
                // Not vacuous: an empty `Errors` is a failure, not a pass.
                assert!(
                    !codes.is_empty() && codes.iter().all(|c| Some(c.as_str()) == code),
                    "{name}: {codes:?}"
                );
                assert_eq!(
                    stored,
                    seeded.password_hash.clone().unwrap(),
                    "{name} must not change the hash"
                );
                assert_eq!(n(&item, "PasswordVersion"), None);
            }
            _ => {
                answer.assert_problem(status, &request_id);
                assert_eq!(stored, seeded.password_hash.clone().unwrap());
            }
        }
        match name.as_str() {
            "failure-wrong-current-password.json" => {
                let error = &answer.body["Errors"][0];
                assert_eq!(error["Field"], "CurrentPassword");
                assert_eq!(error["Metadata"]["RemainingAttempts"], "4");
                assert_eq!(n(&item, "FailedPasswordAttempts"), Some(1));
            }
            "failure-missing-fields.json" => {
                let fields: Vec<&str> = answer.body["Errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["Field"].as_str().unwrap())
                    .collect();
                assert_eq!(fields, vec!["CurrentPassword", "NewPassword"]);
                assert_eq!(n(&item, "FailedPasswordAttempts"), None);
            }
            "alb.json" | "function-url.json" => {
                assert_eq!(
                    answer.header("www-authenticate"),
                    Some("Bearer error=\"invalid_token\"")
                );
            }
            _ => {}
        }
    }
}
