//! The security event of SPEC §7, locally: real changes against moto with the table's stream
//! on, the stream read back, and the pipe's filter and input template from template.yaml
//! applied to its records (scripts/pipe_event.py). One event per committed change, none for
//! anything else, and no secret in it.

mod support;

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use serde_json::{Value, json};
use std::time::Duration;
use support::runtime_api::{Invocation, RuntimeApi, aws_vars, drain};
use support::*;

/// The events the pipe of template.yaml publishes for the table's stream so far: the records
/// its filter passes (scripts/pipe_event.py), handed as one batch to the real `security-event`
/// binary, the enrichment, whose answer is the events' detail.
async fn published(table: &str) -> Vec<Value> {
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
    let batch: Value = serde_json::from_slice(&output.stdout).unwrap();
    if batch.as_array().unwrap().is_empty() {
        return Vec::new();
    }
    let api = RuntimeApi::start().await;
    let mut enrichment =
        api.spawn_security_event(&aws_vars(table, &[("SECURITY_EVENT_ISSUER", ISSUER)]));
    let Some(Invocation::Response(details)) =
        api.invoke(batch.clone(), Duration::from_secs(30)).await
    else {
        panic!("the enrichment answers");
    };
    enrichment.start_kill().unwrap();
    let log = drain(enrichment.stdout.take().unwrap()).await;
    assert!(!log.contains("$argon2"), "{log}");
    let details = details.as_array().unwrap().clone();
    assert_eq!(
        details.len(),
        batch.as_array().unwrap().len(),
        "one event per record"
    );
    details
        .into_iter()
        .map(|detail| json!({"source": "change-password", "detail-type": "Password Changed", "detail": detail}))
        .collect()
}

const ISSUER: &str = "urn:change-password:test";

/// Validates `documents` against docs/schemas/credential-change-set.schema.json (the venv's
/// jsonschema, Draft 2020-12); the errors, one line each.
fn schema_errors(documents: &[Value]) -> String {
    let venv =
        std::env::var("VENV").unwrap_or_else(|_| format!("{}/.venv", env!("CARGO_MANIFEST_DIR")));
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        v = jsonschema.Draft202012Validator(schema)\n\
        for doc in json.load(sys.stdin):\n\
        \x20   for e in v.iter_errors(doc): print(e.message)\n";
    let mut child = std::process::Command::new(format!("{venv}/bin/python"))
        .args(["-c", script])
        .arg(format!(
            "{}/docs/schemas/credential-change-set.schema.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::from(documents.to_vec()).to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_schema_refuses_what_the_specs_forbid() {
    let good = json!({"iss": ISSUER, "jti": "r", "iat": 1, "sub_id": {"format": "opaque", "id": "u"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/credential-change":
            {"credential_type": "password", "change_type": "update", "event_timestamp": 1}}});
    assert_eq!(schema_errors(std::slice::from_ref(&good)), "");
    let mut bad = Vec::new();
    for (path, value) in [
        ("/iat", json!("1")),
        ("/sub", json!("u")),
        ("/sub_id", json!({"format": "iss_sub", "sub": "u"})),
        (
            "/events/https:~1~1schemas.openid.net~1secevent~1caep~1event-type~1credential-change/event_timestamp",
            json!("1"),
        ),
    ] {
        let mut doc = good.clone();
        let (parent, key) = path.rsplit_once('/').unwrap();
        let key = key.replace("~1", "/");
        doc.pointer_mut(if parent.is_empty() { "" } else { parent })
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key, value);
        bad.push(doc);
    }
    let errors = schema_errors(&bad);
    assert!(errors.lines().count() >= bad.len(), "{errors}");
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
    assert!(published(&table).await.is_empty());
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
    let events = published(&table).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["source"], "change-password");
    assert_eq!(event["detail-type"], "Password Changed");
    let detail = &event["detail"];
    let stored = item(&sdk, &table, DEMO_SUB).await;
    let at = n(&stored, "TokensValidAfter").unwrap();
    let issuer = load_event("apigw-http-jwt.json")["requestContext"]["authorizer"]["jwt"]["claims"]
        ["iss"]
        .clone();
    let user_agent = detail["change"]["user_agent"].clone();
    assert!(user_agent.as_str().unwrap().starts_with("Mozilla/5.0"));
    assert_eq!(
        detail,
        &json!({"iss": ISSUER, "jti": "req-change-1", "iat": at, "txn": "req-change-1",
            "sub_id": {"format": "iss_sub", "iss": issuer, "sub": DEMO_SUB},
            "events": {"https://schemas.openid.net/secevent/caep/event-type/credential-change": {
                "credential_type": "password", "change_type": "update",
                "initiating_entity": "user", "event_timestamp": at}},
            "change": {"request_id": "req-change-1", "source_ip": "203.0.113.42",
                "user_agent": user_agent, "password_version": 1}})
    );
    assert_eq!(schema_errors(std::slice::from_ref(detail)), "");
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
    let events = published(&table).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["detail"]["change"]["password_version"], 2);
    assert_eq!(events[1]["detail"]["jti"], "req-change-2");
    assert_eq!(schema_errors(&[events[1]["detail"].clone()]), "");
}
