//! Where accounts live: the port the change use case talks to, and an in-memory adapter.

use crate::domain::account::AccountRecord;
use crate::domain::sessions::{RequestOrigin, RevocationMarker, SessionIds};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conditional write lost: the record changed since it was read.
    #[error("the account changed since it was read")]
    ConditionFailed,
    /// Throttled, unreachable or timed out: worth retrying later.
    #[error("the account store is unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bad record, a misconfigured table).
    #[error("the account store failed: {0}")]
    Failed(String),
}

/// The password change, written as one conditional update.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordChange {
    pub user_id: String,
    /// What was read: the write succeeds only if both are still so.
    pub expected_hash: String,
    pub expected_version: Option<u64>,
    pub new_hash: String,
    pub new_version: u64,
    /// RFC 3339 UTC.
    pub changed_at: String,
    /// The whole new `PasswordHistory` (newest first); empty removes the attribute.
    pub history: Vec<String>,
    /// The write is refused if the account is locked at this instant (epoch seconds); it is
    /// also `TokensValidAfter`, and `LastPasswordChange`'s time.
    pub now: i64,
    /// The changing token's session (`PasswordChangeSession`): it stays signed in.
    pub session: SessionIds,
    /// Where the change came from (`LastPasswordChange`, the security event's content).
    pub origin: RequestOrigin,
    /// The changing token's issuer (`LastPasswordChange.Issuer`), when it named one.
    pub issuer: Option<String>,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange")
            .field("user_id", &self.user_id)
            .field("expected_version", &self.expected_version)
            .field("new_version", &self.new_version)
            .finish_non_exhaustive()
    }
}

/// The lockout settings a reservation is taken under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit {
    /// Attempts per lock window (at least 1).
    pub threshold: u32,
    /// The first lock's length; the n-th since the last right password lasts
    /// `lock_seconds` × 2^(n-1), at most [`MAX_LOCK_SECONDS`].
    pub lock_seconds: u64,
    /// Wrong current passwords in a row before the hard lock (at least 1).
    pub max_failures: u32,
    /// `LockCount` as last read: the store checks it is still so when it sets a lock.
    pub lock_count: u32,
    /// Epoch seconds.
    pub now: i64,
}

/// The longest lock: a day.
pub const MAX_LOCK_SECONDS: u64 = 86_400;

impl AttemptLimit {
    /// How long the next lock lasts, after `lock_count` locks since the last right password.
    pub fn lock_length(&self, lock_count: u32) -> u64 {
        let factor = 1u64.checked_shl(lock_count.min(32)).unwrap_or(u64::MAX);
        self.lock_seconds
            .saturating_mul(factor)
            .min(MAX_LOCK_SECONDS)
    }
}

/// One attempt at the current password, taken before argon2 runs (SPEC §4 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Attempts of the window used, this one included.
    pub used: u32,
    /// This attempt took the last one and locked the account until then (epoch seconds); a
    /// right password lifts that lock again.
    pub lock: Option<i64>,
    /// This attempt was the last of `max_failures` in a row and hard-locked the account at
    /// this time (epoch seconds); a right password lifts it again.
    pub hard_lock: Option<i64>,
}

/// What asking for an attempt gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Taken(Attempt),
    /// None left: the account is locked until then (epoch seconds).
    Locked(i64),
    /// The account is hard-locked since then (epoch seconds): a new sign-in is required.
    SignInRequired(i64),
    /// The lock was set by an attempt still being verified, pending until then at the latest
    /// (epoch seconds): it may yet be lifted.
    LockPending(i64),
}

/// How long a lock set by the last attempt of a window stays pending at most: the attempt's
/// verify ends within the request budget (8 s), and then confirms or lifts it.
pub const LOCK_PENDING_SECONDS: i64 = 10;

/// The account store port (SPEC §5). Implementations must make each method atomic.
pub trait AccountStore: Send + Sync + 'static {
    /// One consistent read.
    fn load(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<AccountRecord>, StoreError>> + Send;

    /// Takes one attempt atomically, if the account is not locked and fewer than
    /// `limit.threshold` are used; the attempt that takes the last one locks the account until
    /// `now + lock_seconds` and starts the count again. [`StoreError::ConditionFailed`] when
    /// the account does not exist.
    fn reserve_attempt(
        &self,
        user_id: &str,
        limit: AttemptLimit,
    ) -> impl Future<Output = Result<Reservation, StoreError>> + Send;

    /// The current password was right: every count starts again, and every lock (the hard lock
    /// too) is lifted, whichever request set it.
    fn clear_attempts(
        &self,
        user_id: &str,
        attempt: Attempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The attempt is given back uncounted (a retried change, SPEC §4): the count goes back
    /// down by one, and the lock `attempt` set, if any, is lifted.
    fn release_attempt(
        &self,
        user_id: &str,
        attempt: Attempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The attempt that set the lock until `until` (or the hard lock at `until`) had a wrong
    /// password: the lock is no longer pending.
    fn confirm_lock(
        &self,
        user_id: &str,
        until: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Lifts the hard lock set at `since` (a token from a later sign-in came): every count and
    /// lock starts again. [`StoreError::ConditionFailed`] when that hard lock is gone already.
    fn lift_hard_lock(
        &self,
        user_id: &str,
        since: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The conditional write of a new password; [`StoreError::ConditionFailed`] when the
    /// record is no longer as read (or is locked).
    fn commit(
        &self,
        change: &PasswordChange,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// An in-memory store with the same semantics, for unit tests and benchmarks.
#[derive(Default)]
pub struct InMemoryAccountStore {
    records: Mutex<HashMap<String, AccountRecord>>,
}

impl InMemoryAccountStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&self, record: AccountRecord) {
        self.lock().insert(record.user_id.clone(), record);
    }

    pub fn get(&self, user_id: &str) -> Option<AccountRecord> {
        self.lock().get(user_id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AccountRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl AccountStore for InMemoryAccountStore {
    async fn load(&self, user_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        Ok(self.get(user_id))
    }

    async fn reserve_attempt(
        &self,
        user_id: &str,
        limit: AttemptLimit,
    ) -> Result<Reservation, StoreError> {
        let mut records = self.lock();
        let record = records
            .get_mut(user_id)
            .ok_or(StoreError::ConditionFailed)?;
        if let Some(since) = record.sign_in_required_after {
            return Ok(match record.lock_pending_until.filter(|p| *p > limit.now) {
                Some(pending) => Reservation::LockPending(pending),
                None => Reservation::SignInRequired(since),
            });
        }
        if let Some(until) = record.locked_until.filter(|until| *until > limit.now) {
            return Ok(match record.lock_pending_until.filter(|p| *p > limit.now) {
                Some(pending) => Reservation::LockPending(pending),
                None => Reservation::Locked(until),
            });
        }
        record.consecutive_failures += 1;
        if record.consecutive_failures >= limit.max_failures {
            record.failed_attempts = 0;
            record.sign_in_required_after = Some(limit.now);
            record.lock_pending_until = Some(limit.now + LOCK_PENDING_SECONDS);
            return Ok(Reservation::Taken(Attempt {
                used: limit.threshold,
                lock: None,
                hard_lock: Some(limit.now),
            }));
        }
        if record.failed_attempts.saturating_add(1) < limit.threshold {
            record.failed_attempts += 1;
            return Ok(Reservation::Taken(Attempt {
                used: record.failed_attempts,
                lock: None,
                hard_lock: None,
            }));
        }
        let until = limit.now + limit.lock_length(record.lock_count) as i64;
        record.failed_attempts = 0;
        record.locked_until = Some(until);
        record.lock_pending_until = Some(limit.now + LOCK_PENDING_SECONDS);
        record.lock_count += 1;
        Ok(Reservation::Taken(Attempt {
            used: limit.threshold,
            lock: Some(until),
            hard_lock: None,
        }))
    }

    async fn clear_attempts(&self, user_id: &str, _attempt: Attempt) -> Result<(), StoreError> {
        if let Some(record) = self.lock().get_mut(user_id) {
            record.failed_attempts = 0;
            record.consecutive_failures = 0;
            record.lock_count = 0;
            record.locked_until = None;
            record.lock_pending_until = None;
            record.sign_in_required_after = None;
        }
        Ok(())
    }

    async fn confirm_lock(&self, user_id: &str, until: i64) -> Result<(), StoreError> {
        let mut records = self.lock();
        match records.get_mut(user_id) {
            Some(record)
                if record.locked_until == Some(until)
                    || record.sign_in_required_after == Some(until) =>
            {
                record.lock_pending_until = None;
                Ok(())
            }
            _ => Err(StoreError::ConditionFailed),
        }
    }

    async fn lift_hard_lock(&self, user_id: &str, since: i64) -> Result<(), StoreError> {
        let mut records = self.lock();
        match records.get_mut(user_id) {
            Some(record) if record.sign_in_required_after == Some(since) => {
                record.sign_in_required_after = None;
                record.sign_in_floor = Some(since);
                record.failed_attempts = 0;
                record.consecutive_failures = 0;
                record.lock_count = 0;
                record.locked_until = None;
                record.lock_pending_until = None;
                Ok(())
            }
            _ => Err(StoreError::ConditionFailed),
        }
    }

    async fn release_attempt(&self, user_id: &str, attempt: Attempt) -> Result<(), StoreError> {
        if let Some(record) = self.lock().get_mut(user_id) {
            match (attempt.lock, attempt.hard_lock) {
                (Some(until), _) if record.locked_until == Some(until) => {
                    record.locked_until = None;
                    record.lock_pending_until = None;
                    record.lock_count = record.lock_count.saturating_sub(1);
                    record.failed_attempts = attempt.used.saturating_sub(1);
                    record.consecutive_failures = record.consecutive_failures.saturating_sub(1);
                }
                (_, Some(since)) if record.sign_in_required_after == Some(since) => {
                    record.sign_in_required_after = None;
                    record.lock_pending_until = None;
                    record.consecutive_failures = record.consecutive_failures.saturating_sub(1);
                }
                (None, None) => {
                    record.failed_attempts = record.failed_attempts.saturating_sub(1);
                    record.consecutive_failures = record.consecutive_failures.saturating_sub(1);
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn commit(&self, change: &PasswordChange) -> Result<(), StoreError> {
        let mut records = self.lock();
        let record = records
            .get_mut(&change.user_id)
            .ok_or(StoreError::ConditionFailed)?;
        if record.password_hash.as_deref() != Some(change.expected_hash.as_str())
            || record.password_version != change.expected_version
            || record.lock_remaining(change.now).is_some()
        {
            return Err(StoreError::ConditionFailed);
        }
        record.previous_password_hash = Some(change.expected_hash.clone());
        record.password_hash = Some(change.new_hash.clone());
        record.password_version = Some(change.new_version);
        record.password_history = change.history.clone();
        record.password_changed_at = Some(change.changed_at.clone());
        record.failed_attempts = 0;
        record.locked_until = None;
        record.sign_in_floor = None;
        record.revocation = Some(RevocationMarker {
            tokens_valid_after: change.now,
            session: change.session.clone(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debug_print_of_a_change_names_it_and_never_a_hash() {
        let change = PasswordChange {
            user_id: "u-1".into(),
            expected_hash: "$argon2id$old-hash".into(),
            expected_version: Some(4),
            new_hash: "$argon2id$new-hash".into(),
            new_version: 5,
            changed_at: "2026-12-04T12:00:00Z".into(),
            history: vec!["$argon2id$older-hash".into()],
            now: 1_800_000_000,
            session: SessionIds::default(),
            origin: RequestOrigin::new("r-1", "203.0.113.7", "Agent/1.0"),
            issuer: None,
        };
        let printed = format!("{change:?}");
        assert!(printed.contains(r#"user_id: "u-1""#), "{printed}");
        assert!(printed.contains("new_version: 5"), "{printed}");
        assert!(!printed.contains("argon2id"), "{printed}");
    }
}
