//! What every implementation of the account store port must do, as scenarios run against each:
//! the DynamoDB adapter (`tests/dynamodb_store.rs`, on moto) and the in-memory store the use
//! case's tests run on (`tests/change_password_core.rs`), so that the second stays a faithful
//! double of the first. Times are the `now` each call is given; the account must exist, with
//! no attempt used.
#![allow(dead_code)]

use change_password::domain::account_store::{
    AccountStore, Attempt, AttemptLimit, LOCK_PENDING_SECONDS, Reservation,
};

fn limit(now: i64, lock_count: u32) -> AttemptLimit {
    AttemptLimit {
        threshold: 2,
        lock_seconds: 60,
        max_failures: 6,
        lock_count,
        now,
    }
}

fn taken(used: u32, lock: Option<i64>, hard_lock: Option<i64>) -> Reservation {
    Reservation::Taken(Attempt {
        used,
        lock,
        hard_lock,
    })
}

/// Threshold 2, locks of 60 s doubling, a hard lock at 6 failures in a row: each lock is
/// pending for 10 s (until the attempt that set it is confirmed), then plain.
pub async fn locks_pend_then_hold_double_and_end_in_a_hard_lock(
    store: &impl AccountStore,
    user: &str,
    t: i64,
) {
    let reserve = |now: i64, lock_count: u32| store.reserve_attempt(user, limit(now, lock_count));
    assert_eq!(reserve(t, 0).await.unwrap(), taken(1, None, None));
    assert_eq!(reserve(t, 0).await.unwrap(), taken(2, Some(t + 60), None));
    let record = store.load(user).await.unwrap().unwrap();
    assert_eq!(
        (
            record.locked_until,
            record.lock_pending_until,
            record.lock_count
        ),
        (Some(t + 60), Some(t + LOCK_PENDING_SECONDS), 1)
    );
    // Pending to its last second, then a plain lock until its end.
    let pending_end = t + LOCK_PENDING_SECONDS;
    assert_eq!(
        reserve(pending_end - 1, 1).await.unwrap(),
        Reservation::LockPending(pending_end)
    );
    assert_eq!(
        reserve(pending_end, 1).await.unwrap(),
        Reservation::Locked(t + 60)
    );
    store.confirm_lock(user, t + 60).await.unwrap();
    assert_eq!(
        store.load(user).await.unwrap().unwrap().lock_pending_until,
        None
    );
    assert_eq!(
        reserve(t + 59, 1).await.unwrap(),
        Reservation::Locked(t + 60)
    );
    // At its end, a new window; the second lock lasts twice as long.
    let t2 = t + 60;
    assert_eq!(reserve(t2, 1).await.unwrap(), taken(1, None, None));
    assert_eq!(
        reserve(t2, 1).await.unwrap(),
        taken(2, Some(t2 + 120), None)
    );
    store.confirm_lock(user, t2 + 120).await.unwrap();
    // Failures 5 and 6 in a row: the sixth hard-locks, pending for 10 s too.
    let t3 = t2 + 120;
    assert_eq!(reserve(t3, 2).await.unwrap(), taken(1, None, None));
    assert_eq!(reserve(t3, 2).await.unwrap(), taken(2, None, Some(t3)));
    let record = store.load(user).await.unwrap().unwrap();
    assert_eq!(
        (record.sign_in_required_after, record.lock_pending_until),
        (Some(t3), Some(t3 + LOCK_PENDING_SECONDS))
    );
    assert_eq!(
        reserve(t3 + LOCK_PENDING_SECONDS - 1, 2).await.unwrap(),
        Reservation::LockPending(t3 + LOCK_PENDING_SECONDS)
    );
    assert_eq!(
        reserve(t3 + LOCK_PENDING_SECONDS, 2).await.unwrap(),
        Reservation::SignInRequired(t3)
    );
    // Long after, still hard-locked: only a later sign-in lifts it.
    assert_eq!(
        reserve(t3 + 86_400, 2).await.unwrap(),
        Reservation::SignInRequired(t3)
    );
}

fn limit_with(now: i64, threshold: u32, max_failures: u32) -> AttemptLimit {
    AttemptLimit {
        threshold,
        lock_seconds: 60,
        max_failures,
        lock_count: 0,
        now,
    }
}

/// A released attempt is given back uncounted, and lifts the lock (or hard lock) it set, and
/// no other; a hard lock is lifted only as the one set at that time.
pub async fn a_released_attempt_lifts_only_the_lock_it_set(
    store: &impl AccountStore,
    user: &str,
    t: i64,
) {
    let counts = || async {
        let r = store.load(user).await.unwrap().unwrap();
        (
            r.failed_attempts,
            r.consecutive_failures,
            r.locked_until,
            r.sign_in_required_after,
        )
    };
    let Reservation::Taken(first) = store
        .reserve_attempt(user, limit_with(t, 2, 9))
        .await
        .unwrap()
    else {
        panic!("an attempt is free");
    };
    store.release_attempt(user, first).await.unwrap();
    assert_eq!(counts().await, (0, 0, None, None));
    store
        .reserve_attempt(user, limit_with(t, 2, 9))
        .await
        .unwrap();
    let Reservation::Taken(locking) = store
        .reserve_attempt(user, limit_with(t, 2, 9))
        .await
        .unwrap()
    else {
        panic!("the second attempt is free");
    };
    assert_eq!(locking.lock, Some(t + 60));
    // An attempt that set another lock (a stale one) lifts nothing.
    let stale = Attempt {
        lock: Some(t + 999),
        ..locking
    };
    store.release_attempt(user, stale).await.unwrap();
    assert_eq!(counts().await.2, Some(t + 60));
    store.release_attempt(user, locking).await.unwrap();
    assert_eq!(counts().await, (1, 1, None, None));
    // The next failure in a row is the last allowed: a hard lock at t.
    let Reservation::Taken(hard) = store
        .reserve_attempt(user, limit_with(t, 9, 2))
        .await
        .unwrap()
    else {
        panic!("an attempt is free");
    };
    assert_eq!(hard.hard_lock, Some(t));
    let other_hard = Attempt {
        hard_lock: Some(t + 1),
        ..hard
    };
    store.release_attempt(user, other_hard).await.unwrap();
    assert_eq!(counts().await.3, Some(t));
    store.release_attempt(user, hard).await.unwrap();
    assert_eq!(counts().await.3, None);
    // Hard-locked again at t + 1: only that hard lock can be lifted.
    let again = store
        .reserve_attempt(user, limit_with(t + 1, 9, 2))
        .await
        .unwrap();
    assert_eq!(
        again,
        taken(9, None, Some(t + 1)),
        "a hard lock uses the whole window"
    );
    assert!(store.lift_hard_lock(user, t).await.is_err());
    store.lift_hard_lock(user, t + 1).await.unwrap();
    let record = store.load(user).await.unwrap().unwrap();
    assert_eq!(
        (
            record.sign_in_required_after,
            record.sign_in_floor,
            record.consecutive_failures
        ),
        (None, Some(t + 1), 0)
    );
}

/// The write of a new password goes through only as read (hash and version) and while the
/// account is not locked.
pub async fn a_commit_needs_the_record_as_read_and_no_lock(
    store: &impl AccountStore,
    user: &str,
    current_hash: &str,
    t: i64,
) {
    use change_password::domain::account_store::{PasswordChange, StoreError};
    use change_password::domain::sessions::{RequestOrigin, SessionIds};
    let change = |expected_hash: &str, expected_version: Option<u64>, now: i64| PasswordChange {
        user_id: user.into(),
        expected_hash: expected_hash.into(),
        expected_version,
        new_hash: "$argon2id$contract-new".into(),
        new_version: 1,
        changed_at: "2027-01-15T08:00:00Z".into(),
        history: vec![],
        now,
        session: SessionIds::default(),
        origin: RequestOrigin::new("contract", "203.0.113.7", "Agent/1.0"),
        issuer: None,
    };
    let refused = |r: Result<(), StoreError>| matches!(r, Err(StoreError::ConditionFailed));
    assert!(refused(
        store.commit(&change("$argon2id$other", None, t)).await
    ));
    assert!(refused(
        store.commit(&change(current_hash, Some(1), t)).await
    ));
    let locked = store
        .reserve_attempt(user, limit_with(t, 1, 9))
        .await
        .unwrap();
    assert_eq!(locked, taken(1, Some(t + 60), None));
    assert!(refused(
        store.commit(&change(current_hash, None, t + 59)).await
    ));
    store
        .commit(&change(current_hash, None, t + 60))
        .await
        .unwrap();
    let record = store.load(user).await.unwrap().unwrap();
    assert_eq!(
        (record.password_hash.as_deref(), record.password_version),
        (Some("$argon2id$contract-new"), Some(1))
    );
}
