//! The in-memory account store with scripted faults of its conditional write, for the rules
//! about a write whose answer is lost or slow (no DynamoDB needed).
#![allow(dead_code)]

use change_password::domain::account::AccountRecord;
use change_password::domain::account_store::{
    AccountStore, Attempt, AttemptLimit, InMemoryAccountStore, PasswordChange, Reservation,
    StoreError,
};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// What the store's conditional write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitScript {
    /// Applied; the first answer is lost (ConditionFailed), as when a retried write finds its
    /// own earlier attempt already applied.
    FirstAnswerLost,
    /// Refused, and every read after it fails: the outcome cannot be learnt.
    RefusedThenUnreadable,
    /// Applied at once, answered after `answer_delay_ms`.
    SlowAnswer,
}

pub struct ScriptedStore {
    pub inner: InMemoryAccountStore,
    pub script: CommitScript,
    pub commits: AtomicUsize,
    pub answer_delay_ms: AtomicU64,
    /// Every write asked for, as asked.
    pub written: Mutex<Vec<PasswordChange>>,
}

impl ScriptedStore {
    pub fn new(script: CommitScript, record: AccountRecord) -> Self {
        let inner = InMemoryAccountStore::new();
        inner.put(record);
        ScriptedStore {
            inner,
            script,
            commits: AtomicUsize::new(0),
            answer_delay_ms: AtomicU64::new(0),
            written: Mutex::new(Vec::new()),
        }
    }
}

impl AccountStore for ScriptedStore {
    async fn load(&self, user_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        if self.script == CommitScript::RefusedThenUnreadable
            && self.commits.load(Ordering::SeqCst) > 0
        {
            return Err(StoreError::Unavailable("timed out".into()));
        }
        self.inner.load(user_id).await
    }

    async fn reserve_attempt(
        &self,
        user_id: &str,
        limit: AttemptLimit,
    ) -> Result<Reservation, StoreError> {
        self.inner.reserve_attempt(user_id, limit).await
    }

    async fn clear_attempts(&self, user_id: &str, attempt: Attempt) -> Result<(), StoreError> {
        self.inner.clear_attempts(user_id, attempt).await
    }

    async fn release_attempt(&self, user_id: &str, attempt: Attempt) -> Result<(), StoreError> {
        self.inner.release_attempt(user_id, attempt).await
    }

    async fn lift_hard_lock(&self, user_id: &str, since: i64) -> Result<(), StoreError> {
        self.inner.lift_hard_lock(user_id, since).await
    }

    async fn confirm_lock(&self, user_id: &str, until: i64) -> Result<(), StoreError> {
        self.inner.confirm_lock(user_id, until).await
    }

    async fn commit(&self, change: &PasswordChange) -> Result<(), StoreError> {
        self.written.lock().unwrap().push(change.clone());
        let earlier = self.commits.fetch_add(1, Ordering::SeqCst);
        match self.script {
            CommitScript::RefusedThenUnreadable => Err(StoreError::ConditionFailed),
            CommitScript::FirstAnswerLost => {
                self.inner.commit(change).await?;
                match earlier {
                    0 => Err(StoreError::ConditionFailed),
                    _ => Ok(()),
                }
            }
            CommitScript::SlowAnswer => {
                let applied = self.inner.commit(change).await;
                let delay = self.answer_delay_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                applied
            }
        }
    }
}
