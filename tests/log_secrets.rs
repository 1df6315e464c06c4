//! At TRACE, across every kind of outcome, no password, hash or token reaches the logs.

mod support;

use change_password::logging;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViIn0.c2lnbmF0dXJlLXNlY3JldA";

#[tokio::test]
async fn nothing_secret_is_logged_at_trace() {
    let capture = Capture::default();
    logging::init_with(
        logging::env_filter(Some("TRACE"), None),
        false,
        capture.clone(),
    );
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

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
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
