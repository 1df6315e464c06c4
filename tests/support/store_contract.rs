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
