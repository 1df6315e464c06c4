//! N concurrent changes of one account through the real store: exactly one wins, and the
//! stored hash verifies the winner's password.

mod support;

use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_have_exactly_one_winner() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let app = app(&sdk, &table).await;
    const RACERS: usize = 8;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let (app, barrier) = (app.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let new = format!("racer-{i}-Violet-Harbor-Lantern");
            let mut event: Value = load_event("apigw-http-jwt.json");
            event["isBase64Encoded"] = json!(false);
            event["body"] =
                json!(json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": new}).to_string());
            barrier.wait().await;
            (new, invoke(&app, event, &format!("race-{i}")).await)
        }));
    }
    let mut winners = Vec::new();
    let mut statuses = Vec::new();
    for task in tasks {
        let (new, answer) = task.await.unwrap();
        statuses.push(answer.status);
        match answer.status {
            200 => winners.push(new),
            409 => assert_eq!(answer.error_codes(), vec!["PasswordChangeConflict"]),
            // A racer that read the record after the winner wrote it.
            400 => assert_eq!(answer.error_codes(), vec!["CurrentPasswordIncorrect"]),
            // Each racer reserves an attempt before argon2 (SPEC §4 step 6): with more racers
            // than attempts, some are told the account is locked meanwhile.
            429 => assert_eq!(answer.error_codes(), vec!["AccountLocked"]),
            other => panic!("unexpected status {other}: {}", answer.body),
        }
    }
    assert_eq!(winners.len(), 1, "statuses: {statuses:?}");
    let item = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&item, "PasswordVersion"), Some(1));
    let stored = s(&item, "PasswordHash").unwrap();
    assert!(rust_argon2::verify_encoded(&stored, winners[0].as_bytes()).unwrap());
    assert_eq!(
        item["PasswordHistory"].as_l().unwrap().len(),
        1,
        "nothing lost, nothing doubled"
    );
    eprintln!("race statuses: {statuses:?}");
}
