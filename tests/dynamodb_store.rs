//! The DynamoDB adapter against a DynamoDB-API server: conditional writes, atomic counters,
//! consistent reads, and nothing else in the item touched.

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use change_password::domain::account_store::{AccountStore, FailedAttempt, PasswordChange, StoreError};
use change_password::aws::dynamodb_store::DynamoDbAccountStore;
use std::sync::Arc;
use support::*;

fn change(
    expected_hash: &str,
    expected_version: Option<u64>,
    new_hash: &str,
    history: Vec<String>,
) -> PasswordChange {
    PasswordChange {
        user_id: DEMO_SUB.into(),
        expected_hash: expected_hash.into(),
        expected_version,
        new_hash: new_hash.into(),
        new_version: expected_version.unwrap_or(0) + 1,
        changed_at: "2026-11-27T12:00:00Z".into(),
        history,
        now: 1_800_000_000,
    }
}

#[tokio::test]
async fn load_reads_every_attribute_and_missing_is_none() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    assert!(store.load("nobody").await.unwrap().is_none());
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let loaded = store.load(DEMO_SUB).await.unwrap().unwrap();
    assert_eq!(loaded, seeded);
}

#[tokio::test]
async fn commit_is_conditional_on_hash_and_version_and_leaves_other_attributes() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let client = Client::new(&sdk);
    let store = DynamoDbAccountStore::new(client.clone(), &table);
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    client
        .update_item()
        .table_name(&table)
        .key("UserId", AttributeValue::S(DEMO_SUB.into()))
        .update_expression("SET Department = :d, FailedPasswordAttempts = :two")
        .expression_attribute_values(":d", AttributeValue::S("Finance".into()))
        .expression_attribute_values(":two", AttributeValue::N("2".into()))
        .send()
        .await
        .unwrap();
    let old = seeded.password_hash.unwrap();
    // Wrong expected hash, or a version where there is none: refused, nothing written.
    assert!(matches!(
        store
            .commit(&change("$argon2id$other", None, "$new", vec![]))
            .await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(matches!(
        store.commit(&change(&old, Some(0), "$new", vec![])).await,
        Err(StoreError::ConditionFailed)
    ));
    assert_eq!(
        s(&item(&sdk, &table, DEMO_SUB).await, "PasswordHash").unwrap(),
        old
    );
    // The right expectation (missing version) wins once.
    store
        .commit(&change(&old, None, "$new1", vec![old.clone()]))
        .await
        .unwrap();
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(s(&after, "PasswordHash").as_deref(), Some("$new1"));
    assert_eq!(n(&after, "PasswordVersion"), Some(1));
    assert_eq!(n(&after, "FailedPasswordAttempts"), Some(0));
    assert_eq!(
        s(&after, "PasswordChangedAt").as_deref(),
        Some("2026-11-27T12:00:00Z")
    );
    assert_eq!(s(&after, "Department").as_deref(), Some("Finance"));
    assert_eq!(s(&after, "Email").as_deref(), Some("demo@example.com"));
    assert_eq!(
        after["PasswordHistory"].as_l().unwrap(),
        &vec![AttributeValue::S(old.clone())]
    );
    // Replaying the same expectation now fails: the version moved on.
    assert!(matches!(
        store.commit(&change(&old, None, "$new2", vec![])).await,
        Err(StoreError::ConditionFailed)
    ));
    store
        .commit(&change("$new1", Some(1), "$new2", vec![]))
        .await
        .unwrap();
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&after, "PasswordVersion"), Some(2));
    assert!(
        !after.contains_key("PasswordHistory"),
        "an empty history removes the attribute"
    );
}

#[tokio::test]
async fn commit_is_refused_while_locked() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let old = seeded.password_hash.unwrap();
    assert!(matches!(
        store
            .record_failed_attempt(DEMO_SUB, 1, 60, 1_800_000_000)
            .await
            .unwrap(),
        FailedAttempt::Locked(1_800_000_060)
    ));
    assert!(matches!(
        store.commit(&change(&old, None, "$new", vec![])).await,
        Err(StoreError::ConditionFailed)
    ));
    // Once the lock has passed, the write goes through and clears it.
    let mut later = change(&old, None, "$new", vec![]);
    later.now = 1_800_000_061;
    store.commit(&later).await.unwrap();
    assert!(
        !item(&sdk, &table, DEMO_SUB)
            .await
            .contains_key("LockedUntil")
    );
}

#[tokio::test]
async fn concurrent_failed_attempts_count_exactly() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = Arc::new(DynamoDbAccountStore::new(Client::new(&sdk), &table));
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_failed_attempt(DEMO_SUB, 0, 900, 0)
                .await
                .unwrap()
        }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            FailedAttempt::Counted(n) => counts.push(n),
            other => panic!("{other:?}"),
        }
    }
    counts.sort();
    assert_eq!(counts, (1..=12).collect::<Vec<_>>());
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        Some(12)
    );
}

#[tokio::test]
async fn the_threshold_locks_once_and_restarts_the_count() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = Arc::new(DynamoDbAccountStore::new(Client::new(&sdk), &table));
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_failed_attempt(DEMO_SUB, 5, 900, 1_000)
                .await
                .unwrap()
        }));
    }
    let mut locked = 0;
    for t in tasks {
        if let FailedAttempt::Locked(until) = t.await.unwrap() {
            assert_eq!(until, 1_900);
            locked += 1;
        }
    }
    assert_eq!(locked, 1, "exactly the fifth concurrent failure locks");
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&after, "LockedUntil"), Some(1_900));
    assert_eq!(n(&after, "FailedPasswordAttempts"), Some(0));
}

#[tokio::test]
async fn failed_attempt_on_a_missing_account_creates_nothing() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    assert!(matches!(
        store.record_failed_attempt("ghost", 5, 900, 0).await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(item(&sdk, &table, "ghost").await.is_empty());
}

#[tokio::test]
async fn a_missing_table_is_a_failure_and_an_unreachable_endpoint_is_unavailable() {
    let sdk = sdk().await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), "no-such-table");
    assert!(matches!(
        store.load(DEMO_SUB).await,
        Err(StoreError::Failed(_))
    ));
    // Nothing listens on port 9 of loopback (discard): connection refused.
    let down = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let store = DynamoDbAccountStore::new(Client::from_conf(down), "t");
    let result = store.load(DEMO_SUB).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}
