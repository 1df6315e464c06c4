//! The security event of SPEC §7, locally: real changes against moto with the table's stream
//! on, the stream read back, and the pipe's filter and input template from template.yaml
//! applied to its records (scripts/pipe_event.py). One event per committed change, none for
//! anything else, and no secret in it.

mod support;

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use serde_json::{Value, json};
use support::*;

/// The events the pipe of template.yaml publishes for the table's stream so far.
fn published(table: &str) -> Vec<Value> {
    let venv =
        std::env::var("VENV").unwrap_or_else(|_| format!("{}/.venv", env!("CARGO_MANIFEST_DIR")));
    let output = std::process::Command::new(format!("{venv}/bin/python"))
        .arg(format!(
            "{}/scripts/pipe_event.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(["--table", table])
        .output()
        .expect("the venv's python (make venv)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn change(current: &str, new: &str) -> Value {
    let mut e = load_event("apigw-http-jwt.json");
    e["isBase64Encoded"] = json!(false);
    e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": new}).to_string());
    e
}

#[tokio::test]
async fn every_committed_change_and_only_those_publish_a_password_changed_event() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let app = app(&sdk, &table).await;
    // Refused requests and attempts write to the item (the counter) but publish nothing.
    assert_eq!(
        invoke(&app, change("not it", DEMO_NEW), "wrong")
            .await
            .status,
        400
    );
    assert_eq!(
        invoke(&app, change(DEMO_CURRENT, "short"), "invalid")
            .await
            .status,
        400
    );
    assert!(published(&table).is_empty());
    // A change publishes one event; its retry, and the next wrong attempt, none.
    assert_eq!(
        invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "req-change-1")
            .await
            .status,
        200
    );
    assert_eq!(
        invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "req-retry")
            .await
            .status,
        200
    );
    assert_eq!(
        invoke(&app, change("not it", "x-Quokka-Harbour-77"), "w2")
            .await
            .status,
        400
    );
    let events = published(&table);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["source"], "change-password");
    assert_eq!(event["detail-type"], "Password Changed");
    let detail = &event["detail"];
    assert_eq!(detail["credential_type"], "password");
    assert_eq!(detail["change_type"], "update");
    assert_eq!(detail["initiating_entity"], "user");
    assert_eq!(detail["subject"]["format"], "opaque");
    assert_eq!(detail["subject"]["id"], DEMO_SUB);
    assert_eq!(detail["sub"], DEMO_SUB);
    assert_eq!(detail["request_id"], "req-change-1");
    assert_eq!(detail["source_ip"], "203.0.113.42");
    assert!(
        detail["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("Mozilla/5.0")
    );
    assert_eq!(detail["password_version"], "1");
    let stored = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(
        detail["event_timestamp"].as_str().unwrap(),
        n(&stored, "TokensValidAfter").unwrap().to_string()
    );
    // No password, hash or history in the event.
    let text = event.to_string();
    for secret in [
        DEMO_CURRENT,
        DEMO_NEW,
        "$argon2",
        seeded.password_hash.as_deref().unwrap(),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    // A second change publishes a second event, with the next version.
    assert_eq!(
        invoke(
            &app,
            change(DEMO_NEW, "amber-Quokka-Harbour-77"),
            "req-change-2"
        )
        .await
        .status,
        200
    );
    let events = published(&table);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["detail"]["password_version"], "2");
    assert_eq!(events[1]["detail"]["request_id"], "req-change-2");
}
