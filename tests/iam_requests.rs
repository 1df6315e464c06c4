//! Least privilege to the attribute (issue 21): every DynamoDB request each function really
//! sends, recorded by a proxy in front of moto over the paths that write (a change, a retry,
//! wrong guesses up to a lock and a hard lock, the lock confirmed, a fresh sign-in lifting the
//! hard lock, a notice with a send that fails and its retry, the authorizer's read), is allowed
//! by that function's role in template.yaml: scripts/iam_check.py evaluates the role's
//! statements (actions, resources, `dynamodb:Attributes`, `dynamodb:ReturnValues`,
//! `dynamodb:Select`) against each recorded request.

mod support;

use change_password::aws::dynamodb_notices::DynamoDbNoticeStore;
use change_password::domain::change_notice::message::{NoticeMessage, NoticeSettings};
use change_password::domain::change_notice::{
    ChangeNotifier, MailError, Mailer, system_epoch_clock,
};
use change_password::domain::security_event::CommittedChange;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::recording_proxy::{RecordingProxy, Seen};
use support::*;

/// Runs scripts/iam_check.py on `requests` for `role`; its output when it refuses any.
fn check(role: &str, parameters: &[&str], requests: &[Seen]) {
    let dynamodb: Vec<&Seen> = requests
        .iter()
        .filter(|s| !s.operation.is_empty())
        .collect();
    assert!(!dynamodb.is_empty(), "{role}: nothing recorded");
    let file =
        std::env::temp_dir().join(format!("iam-requests-{role}-{}.jsonl", std::process::id()));
    let lines: Vec<String> = dynamodb
        .iter()
        .map(|s| json!({"operation": s.operation, "body": s.body}).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let venv = std::env::var("VENV").unwrap_or_else(|_| format!("{root}/.venv"));
    let output = std::process::Command::new(format!("{venv}/bin/python"))
        .arg(format!("{root}/scripts/iam_check.py"))
        .args([
            "--template",
            &format!("{root}/template.yaml"),
            "--role",
            role,
        ])
        .arg("--requests")
        .arg(&file)
        .args(parameters.iter().flat_map(|p| ["--parameter", p]))
        .output()
        .expect("the venv's python (make venv)");
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "{role} refuses requests the code sends:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let operations: std::collections::BTreeSet<&str> =
        dynamodb.iter().map(|s| s.operation.as_str()).collect();
    eprintln!(
        "{role}: {} requests allowed ({operations:?})",
        dynamodb.len()
    );
}

fn change(current: &str, new: &str, auth_time: Option<i64>) -> Value {
    let mut e = load_event("apigw-http-jwt.json");
    e["isBase64Encoded"] = json!(false);
    e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": new}).to_string());
    let claims = &mut e["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["iat"] = json!(now().to_string());
    if let Some(at) = auth_time {
        claims["auth_time"] = json!(at.to_string());
    }
    e
}

#[tokio::test]
async fn every_request_of_change_password_is_allowed_by_its_role() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let proxy = RecordingProxy::start().await;
    let app = change_password::app::build(
        &config(
            &table,
            &[("LOCKOUT_THRESHOLD", "2"), ("LOCKOUT_MAX_FAILURES", "3")],
        ),
        &proxy.sdk(&sdk),
    )
    .unwrap();
    let statuses = [
        // A change, and its retry (PasswordAlreadyChanged: the attempt given back).
        invoke(&app, change(DEMO_CURRENT, DEMO_NEW, None), "c1")
            .await
            .status,
        invoke(&app, change(DEMO_CURRENT, DEMO_NEW, None), "c1-retry")
            .await
            .status,
        // Wrong guesses: counted, the last of the window locks (confirmed), then refused.
        invoke(&app, change("wrong one", "x-Quokka-Harbour-77", None), "w1")
            .await
            .status,
        invoke(&app, change("wrong two", "x-Quokka-Harbour-77", None), "w2")
            .await
            .status,
        invoke(
            &app,
            change("wrong three", "x-Quokka-Harbour-77", None),
            "w3",
        )
        .await
        .status,
    ];
    assert_eq!(statuses, [200, 200, 400, 429, 429], "{statuses:?}");
    // The lock over (moved into the past), the third in a row hard-locks.
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    client
        .update_item()
        .table_name(&table)
        .key(
            "UserId",
            aws_sdk_dynamodb::types::AttributeValue::S(DEMO_SUB.into()),
        )
        .update_expression("SET LockedUntil = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        invoke(
            &app,
            change("wrong four", "x-Quokka-Harbour-77", None),
            "w4"
        )
        .await
        .status,
        401
    );
    // A sign-in after the hard lock lifts it; the change goes through.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = change(DEMO_NEW, "amber-Quokka-Harbour-77", Some(now()));
    assert_eq!(invoke(&app, fresh, "lifted").await.status, 200);
    check("ChangePasswordRole", &[], &proxy.take());
}

#[tokio::test]
async fn every_request_of_token_authorizer_is_allowed_by_its_role() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let key = "a-test-only-hs256-key-of-thirty-two-bytes-or-more";
    let secret_id = create_secret(&sdk, &format!("iam-{table}"), key).await;
    let proxy = RecordingProxy::start().await;
    let cfg = config(
        &table,
        &[
            ("JWT_ISSUER", "https://issuer.example"),
            ("JWT_HS256_SECRET_ID", secret_id.as_str()),
        ],
    );
    let authorizer = change_password::app::build_authorizer_with(
        &cfg,
        &proxy.sdk(&sdk),
        &support::manual_clock::marker_read_every_time(),
    )
    .unwrap();
    let token = sign_hs256(
        key,
        &json!({"sub": DEMO_SUB, "username": "demo", "token_use": "access",
                "iss": "https://issuer.example", "iat": now(), "exp": now() + 600}),
    );
    let mut event = load_event("authorizer-http-simple.json");
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    event["identitySource"] = json!([format!("Bearer {token}")]);
    let answer = authorizer.handle_event(&event).await.unwrap();
    assert_eq!(answer["isAuthorized"], true, "{answer}");
    let requests: Vec<Seen> = proxy
        .take()
        .into_iter()
        .filter(|s| s.operation != "GetSecretValue")
        .collect();
    check("TokenAuthorizerRole", &[], &requests);
}

/// SES, as a port: refuses the first send to `refuse`, then accepts everything.
struct FlakyMail {
    refuse: String,
    refused_once: AtomicBool,
}

impl Mailer for FlakyMail {
    async fn send(&self, to: &str, _: &NoticeMessage) -> Result<(), MailError> {
        if to == self.refuse && !self.refused_once.swap(true, Ordering::SeqCst) {
            return Err(MailError("MessageRejected".into()));
        }
        Ok(())
    }
}

#[tokio::test]
async fn every_request_of_change_notice_is_allowed_by_its_role() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let mut record = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    record.email = Some("owner@example.com".into());
    change_password::aws::dynamodb_store::put_record(
        &aws_sdk_dynamodb::Client::new(&sdk),
        &table,
        &record,
    )
    .await
    .unwrap();
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
                aws_sdk_dynamodb::types::AttributeValue::S("other@example.net".into()),
            ]),
        )
        .send()
        .await
        .unwrap();
    committed_version_1(&sdk, &table, "req-iam").await;
    let proxy = RecordingProxy::start().await;
    let notifier = ChangeNotifier::new(
        DynamoDbNoticeStore::new(aws_sdk_dynamodb::Client::new(&proxy.sdk(&sdk)), &table),
        FlakyMail {
            refuse: "other@example.net".into(),
            refused_once: AtomicBool::new(false),
        },
        NoticeSettings {
            help_url: "https://example.com/help".into(),
            contact: "support@example.com".into(),
        },
        system_epoch_clock(),
    );
    let change = CommittedChange {
        user_id: DEMO_SUB.into(),
        password_version: 1,
        at: now(),
        request_id: "req-iam".into(),
        source_ip: "203.0.113.9".into(),
        user_agent: "agent".into(),
        issuer: None,
    };
    // The first delivery fails half-way (its claim given back), the retry finishes, a
    // redelivery only reads.
    assert!(notifier.deliver(&change).await.is_err());
    notifier.deliver(&change).await.unwrap();
    notifier.deliver(&change).await.unwrap();
    check(
        "ChangeNoticeRole",
        &[
            "NoticeFrom=security@example.com",
            "NoticeHelpUrl=https://example.com/help",
            "NoticeContact=support@example.com",
        ],
        &proxy.take(),
    );
}
