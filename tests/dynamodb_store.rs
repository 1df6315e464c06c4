//! The DynamoDB adapter against a DynamoDB-API server: conditional writes, atomic counters,
//! consistent reads, and nothing else in the item touched.

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use change_password::aws::dynamodb_store::DynamoDbAccountStore;
use change_password::domain::account_store::{
    AccountStore, Attempt, AttemptLimit, PasswordChange, Reservation, StoreError,
};
use change_password::domain::sessions::{RequestOrigin, SessionIds};
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
        session: SessionIds {
            jti: Some("jti-1".into()),
            origin_jti: None,
            sid: Some("sid-1".into()),
        },
        origin: RequestOrigin::new("req-1", "203.0.113.7", "Agent/1.0"),
        issuer: Some("https://issuer.example".into()),
    }
}

#[tokio::test]
async fn a_change_leaves_the_marker_the_session_and_the_event_and_attempts_remove_the_event() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    let old = seed_demo(&sdk, &table, DEMO_CURRENT)
        .await
        .password_hash
        .unwrap();
    store
        .commit(&change(&old, None, "$new", vec![]))
        .await
        .unwrap();
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&after, "TokensValidAfter"), Some(1_800_000_000));
    assert_eq!(n(&after, "PasswordChangeEvent"), Some(1));
    let session = after["PasswordChangeSession"].as_m().unwrap();
    assert_eq!(session["jti"].as_s().unwrap(), "jti-1");
    assert_eq!(session["sid"].as_s().unwrap(), "sid-1");
    assert!(!session.contains_key("origin_jti"));
    let last = after["LastPasswordChange"].as_m().unwrap();
    assert_eq!(last["RequestId"].as_s().unwrap(), "req-1");
    assert_eq!(last["SourceIp"].as_s().unwrap(), "203.0.113.7");
    assert_eq!(last["UserAgent"].as_s().unwrap(), "Agent/1.0");
    assert_eq!(last["At"].as_n().unwrap(), "1800000000");
    // The record reads back with its marker.
    let record = store.load(DEMO_SUB).await.unwrap().unwrap();
    let marker = record.revocation.unwrap();
    assert_eq!(marker.tokens_valid_after, 1_800_000_000);
    assert_eq!(marker.session.jti.as_deref(), Some("jti-1"));
    // Any attempt write removes the event marker; the revocation marker stays.
    store
        .reserve_attempt(DEMO_SUB, limit(5, 60, 1_800_000_100))
        .await
        .unwrap();
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert!(!after.contains_key("PasswordChangeEvent"));
    assert_eq!(n(&after, "TokensValidAfter"), Some(1_800_000_000));
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
    assert_eq!(
        store
            .reserve_attempt(DEMO_SUB, limit(1, 60, 1_800_000_000))
            .await
            .unwrap(),
        Reservation::Taken(Attempt {
            used: 1,
            lock: Some(1_800_000_060),
            hard_lock: None
        })
    );
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

fn limit(threshold: u32, lock_seconds: u64, now: i64) -> AttemptLimit {
    AttemptLimit {
        threshold,
        lock_seconds,
        max_failures: 100,
        lock_count: 0,
        now,
    }
}

/// Reserves from `tasks` concurrent tasks; returns what each got.
async fn reserve_concurrently(
    store: &Arc<DynamoDbAccountStore>,
    tasks: usize,
    limit: AttemptLimit,
) -> Vec<Reservation> {
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store.reserve_attempt(DEMO_SUB, limit).await.unwrap()
        }));
    }
    let mut got = Vec::new();
    for h in handles {
        got.push(h.await.unwrap());
    }
    got
}

#[tokio::test]
async fn concurrent_reservations_take_exactly_the_threshold_and_the_last_one_locks() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = Arc::new(DynamoDbAccountStore::new(Client::new(&sdk), &table));
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let got = reserve_concurrently(&store, 12, limit(5, 900, 1_000)).await;
    let mut used: Vec<u32> = got
        .iter()
        .filter_map(|r| match r {
            Reservation::Taken(a) => Some(a.used),
            Reservation::Locked(_)
            | Reservation::SignInRequired(_)
            | Reservation::LockPending(_) => None,
        })
        .collect();
    used.sort();
    assert_eq!(used, vec![1, 2, 3, 4, 5], "{got:?}");
    let locks: Vec<_> = got
        .iter()
        .filter_map(|r| match r {
            Reservation::Taken(Attempt { lock: Some(u), .. }) => Some(*u),
            _ => None,
        })
        .collect();
    assert_eq!(
        locks,
        vec![1_900],
        "only the attempt that took the last one locks"
    );
    // Refused while the attempt that took the last one is still being verified: the lock is
    // pending (10 s at most), not announced as a 15-minute one.
    assert_eq!(
        got.iter()
            .filter(|r| **r == Reservation::LockPending(1_010))
            .count(),
        7
    );
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&after, "LockedUntil"), Some(1_900));
    assert_eq!(n(&after, "FailedPasswordAttempts"), Some(0));
    assert_eq!(n(&after, "LockPendingUntil"), Some(1_010));
    // While locked, the count does not move; the pending time over, the lock stands.
    let again = reserve_concurrently(&store, 3, limit(5, 900, 1_100)).await;
    assert!(again.iter().all(|r| *r == Reservation::Locked(1_900)));
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        Some(0)
    );
    // Once the lock has passed, a new window starts from zero.
    assert_eq!(
        store
            .reserve_attempt(DEMO_SUB, limit(5, 900, 1_900))
            .await
            .unwrap(),
        Reservation::Taken(Attempt {
            used: 1,
            lock: None,
            hard_lock: None
        })
    );
}

async fn attempts(sdk: &aws_config::SdkConfig, table: &str) -> Option<i64> {
    n(&item(sdk, table, DEMO_SUB).await, "FailedPasswordAttempts")
}

#[tokio::test]
async fn clearing_and_releasing_settle_the_reserved_attempt() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = Arc::new(DynamoDbAccountStore::new(Client::new(&sdk), &table));
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let take = |threshold| {
        let store = store.clone();
        async move {
            match store
                .reserve_attempt(DEMO_SUB, limit(threshold, 900, 1_000))
                .await
                .unwrap()
            {
                Reservation::Taken(a) => a,
                other => panic!("{other:?}"),
            }
        }
    };
    let a = take(3).await;
    let b = take(3).await;
    assert_eq!((a.used, b.used), (1, 2));
    // A retried change gives its attempt back.
    store.release_attempt(DEMO_SUB, b).await.unwrap();
    assert_eq!(attempts(&sdk, &table).await, Some(1));
    // A right password clears the count.
    store.clear_attempts(DEMO_SUB, a).await.unwrap();
    assert_eq!(attempts(&sdk, &table).await, Some(0));
    // The last attempt locks; a right password lifts that lock...
    take(3).await;
    take(3).await;
    let last = take(3).await;
    assert_eq!(last.lock, Some(1_900));
    store.clear_attempts(DEMO_SUB, last).await.unwrap();
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert!(!after.contains_key("LockedUntil"));
    assert_eq!(n(&after, "FailedPasswordAttempts"), Some(0));
    // ...and a retried change lifts it and leaves the count it found.
    take(3).await;
    take(3).await;
    let last = take(3).await;
    store.release_attempt(DEMO_SUB, last).await.unwrap();
    let after = item(&sdk, &table, DEMO_SUB).await;
    assert!(!after.contains_key("LockedUntil"));
    assert_eq!(n(&after, "FailedPasswordAttempts"), Some(2));
    // Releasing never takes the count below zero (a lock restarted it meanwhile).
    store
        .clear_attempts(
            DEMO_SUB,
            Attempt {
                used: 1,
                lock: None,
                hard_lock: None,
            },
        )
        .await
        .unwrap();
    store
        .release_attempt(
            DEMO_SUB,
            Attempt {
                used: 1,
                lock: None,
                hard_lock: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(attempts(&sdk, &table).await, Some(0));
}

#[tokio::test]
async fn a_count_left_at_or_above_the_threshold_locks_instead_of_sticking() {
    // A lowered LOCKOUT_THRESHOLD (or data written elsewhere) can leave more attempts used
    // than the threshold, with no lock: the next reservation takes the last one and locks.
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    let mut record = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    record.failed_attempts = 9;
    change_password::aws::dynamodb_store::put_record(&Client::new(&sdk), &table, &record)
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve_attempt(DEMO_SUB, limit(5, 60, 1_000))
            .await
            .unwrap(),
        Reservation::Taken(Attempt {
            used: 5,
            lock: Some(1_060),
            hard_lock: None
        })
    );
}

#[tokio::test]
async fn failed_attempt_on_a_missing_account_creates_nothing() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    for threshold in [1, 5] {
        assert!(matches!(
            store
                .reserve_attempt("ghost", limit(threshold, 900, 0))
                .await,
            Err(StoreError::ConditionFailed)
        ));
    }
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

#[tokio::test]
async fn locks_double_even_from_a_stale_read_and_the_hard_lock_takes_the_last_in_a_row() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let at = |now: i64, lock_count: u32| AttemptLimit {
        threshold: 2,
        lock_seconds: 100,
        max_failures: 5,
        lock_count,
        now,
    };
    let mut now = 10_000;
    for expected in [100, 200] {
        let first = store.reserve_attempt(DEMO_SUB, at(now, 0)).await.unwrap();
        assert!(
            matches!(first, Reservation::Taken(Attempt { lock: None, .. })),
            "{first:?}"
        );
        // `lock_count` 0 is stale after the first lock: the store reads the account again.
        let second = store.reserve_attempt(DEMO_SUB, at(now, 0)).await.unwrap();
        assert_eq!(
            second,
            Reservation::Taken(Attempt {
                used: 2,
                lock: Some(now + expected),
                hard_lock: None
            })
        );
        now += expected;
    }
    let stored = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&stored, "LockCount"), Some(2));
    assert_eq!(n(&stored, "ConsecutiveFailedAttempts"), Some(4));
    // The fifth in a row: the hard lock, and nothing more after it.
    let fifth = store.reserve_attempt(DEMO_SUB, at(now, 2)).await.unwrap();
    assert_eq!(
        fifth,
        Reservation::Taken(Attempt {
            used: 2,
            lock: None,
            hard_lock: Some(now)
        })
    );
    assert_eq!(
        store
            .reserve_attempt(DEMO_SUB, at(now + 1000, 2))
            .await
            .unwrap(),
        Reservation::SignInRequired(now)
    );
    // Lifted (a newer sign-in): every count starts again; lifting twice is a lost condition.
    store.lift_hard_lock(DEMO_SUB, now).await.unwrap();
    assert!(matches!(
        store.lift_hard_lock(DEMO_SUB, now).await,
        Err(StoreError::ConditionFailed)
    ));
    let stored = item(&sdk, &table, DEMO_SUB).await;
    for name in [
        "ConsecutiveFailedAttempts",
        "LockCount",
        "FailedPasswordAttempts",
    ] {
        assert_eq!(n(&stored, name), Some(0), "{name}");
    }
    assert_eq!(n(&stored, "SignInRequiredAfter"), None);
}

#[tokio::test]
async fn the_dynamodb_store_keeps_the_store_contract() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    support::store_contract::locks_pend_then_hold_double_and_end_in_a_hard_lock(
        &store,
        DEMO_SUB,
        1_800_000_000,
    )
    .await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    support::store_contract::a_released_attempt_lifts_only_the_lock_it_set(
        &store,
        DEMO_SUB,
        1_800_000_000,
    )
    .await;
    let table = new_table(&sdk).await;
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let store = DynamoDbAccountStore::new(Client::new(&sdk), &table);
    support::store_contract::a_commit_needs_the_record_as_read_and_no_lock(
        &store,
        DEMO_SUB,
        seeded.password_hash.as_deref().unwrap(),
        1_800_000_000,
    )
    .await;
}

#[tokio::test]
async fn the_dynamodb_notice_store_keeps_the_store_contract() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    committed_version_1(&sdk, &table, "req-contract").await;
    let store =
        change_password::aws::dynamodb_notices::DynamoDbNoticeStore::new(Client::new(&sdk), &table);
    support::notice_store_contract::notices_start_once_claims_hold_and_finish_closes(
        &store, DEMO_SUB, 1,
    )
    .await;
}
