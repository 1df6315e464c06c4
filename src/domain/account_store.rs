//! Where accounts live: the port the change use case talks to, and an in-memory adapter.

use crate::domain::account::AccountRecord;
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
    /// The write is refused if the account is locked at this instant (epoch seconds).
    pub now: i64,
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

/// The result of counting one wrong current password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedAttempt {
    /// Counted; this many consecutive failures now.
    Counted(u32),
    /// This failure reached the threshold: the account is locked until then (epoch seconds).
    Locked(i64),
}

/// The account store port (SPEC §5). Implementations must make each method atomic.
pub trait AccountStore: Send + Sync + 'static {
    /// One consistent read.
    fn load(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<AccountRecord>, StoreError>> + Send;

    /// Counts a wrong current password atomically; at `threshold` consecutive failures, locks
    /// the account until `now + lock_seconds` and starts the count again.
    fn record_failed_attempt(
        &self,
        user_id: &str,
        threshold: u32,
        lock_seconds: u64,
        now: i64,
    ) -> impl Future<Output = Result<FailedAttempt, StoreError>> + Send;

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

    async fn record_failed_attempt(
        &self,
        user_id: &str,
        threshold: u32,
        lock_seconds: u64,
        now: i64,
    ) -> Result<FailedAttempt, StoreError> {
        let mut records = self.lock();
        let record = records
            .get_mut(user_id)
            .ok_or(StoreError::ConditionFailed)?;
        record.failed_attempts += 1;
        if threshold > 0 && record.failed_attempts >= threshold {
            let until = now + lock_seconds as i64;
            record.failed_attempts = 0;
            record.locked_until = Some(until);
            Ok(FailedAttempt::Locked(until))
        } else {
            Ok(FailedAttempt::Counted(record.failed_attempts))
        }
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
        record.password_hash = Some(change.new_hash.clone());
        record.password_version = Some(change.new_version);
        record.password_history = change.history.clone();
        record.password_changed_at = Some(change.changed_at.clone());
        record.failed_attempts = 0;
        record.locked_until = None;
        Ok(())
    }
}
