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
    pub lock_seconds: u64,
    /// Epoch seconds.
    pub now: i64,
}

/// One attempt at the current password, taken before argon2 runs (SPEC §4 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Attempts of the window used, this one included.
    pub used: u32,
    /// This attempt took the last one and locked the account until then (epoch seconds); a
    /// right password lifts that lock again.
    pub lock: Option<i64>,
}

/// What asking for an attempt gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Taken(Attempt),
    /// None left: the account is locked until then (epoch seconds).
    Locked(i64),
}

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

    /// The current password was right: the count starts again, and the lock `attempt` set, if
    /// any, is lifted.
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
        if let Some(until) = record.locked_until.filter(|until| *until > limit.now) {
            return Ok(Reservation::Locked(until));
        }
        if record.failed_attempts.saturating_add(1) < limit.threshold {
            record.failed_attempts += 1;
            return Ok(Reservation::Taken(Attempt {
                used: record.failed_attempts,
                lock: None,
            }));
        }
        let until = limit.now + limit.lock_seconds as i64;
        record.failed_attempts = 0;
        record.locked_until = Some(until);
        Ok(Reservation::Taken(Attempt {
            used: limit.threshold,
            lock: Some(until),
        }))
    }

    async fn clear_attempts(&self, user_id: &str, attempt: Attempt) -> Result<(), StoreError> {
        if let Some(record) = self.lock().get_mut(user_id) {
            record.failed_attempts = 0;
            if attempt.lock.is_some() && record.locked_until == attempt.lock {
                record.locked_until = None;
            }
        }
        Ok(())
    }

    async fn release_attempt(&self, user_id: &str, attempt: Attempt) -> Result<(), StoreError> {
        if let Some(record) = self.lock().get_mut(user_id) {
            match attempt.lock {
                Some(until) if record.locked_until == Some(until) => {
                    record.locked_until = None;
                    record.failed_attempts = attempt.used.saturating_sub(1);
                }
                Some(_) => {}
                None => record.failed_attempts = record.failed_attempts.saturating_sub(1),
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
        record.revocation = Some(RevocationMarker {
            tokens_valid_after: change.now,
            session: change.session.clone(),
        });
        Ok(())
    }
}
