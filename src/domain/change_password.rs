//! The change-password use case (SPEC §4 order of checks), independent of Lambda and AWS.

use crate::domain::account::AccountRecord;
use crate::domain::account_store::{AccountStore, FailedAttempt, PasswordChange, StoreError};
use crate::domain::issue::{Field, Issue, codes};
use crate::domain::password_hashing::{HashingError, PasswordHashing, PepperKeys};
use crate::domain::password_policy::{Identifiers, PasswordPolicy, normalize};
use crate::domain::pepper::PepperSource;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The request as the HTTP adapter understood it.
#[derive(Clone, Default)]
pub struct ChangeRequest {
    pub current_password: Option<String>,
    pub new_password: Option<String>,
    /// Problems the adapter found with the body's shape (`InvalidRequestBody`); they are
    /// reported at the validation step, with every other validation error.
    pub input_issues: Vec<Issue>,
}

impl std::fmt::Debug for ChangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeRequest")
            .field(
                "current_password",
                &self.current_password.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "new_password",
                &self.new_password.as_ref().map(|_| "<redacted>"),
            )
            .field("input_issues", &self.input_issues)
            .finish()
    }
}

/// The password was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub warnings: Vec<Issue>,
    pub new_version: u64,
}

/// Why a change did not happen. Mapped to HTTP statuses in one place, `http_response`.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no account record for the caller")]
    AccountNotFound,
    #[error("service accounts cannot change a password here")]
    ServiceAccount,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("the account is locked for {retry_after} more seconds")]
    AccountLocked { retry_after: u64 },
    #[error("the request breaks {} rule(s)", .0.len())]
    Invalid(Vec<Issue>),
    #[error("the current password is wrong")]
    CurrentPasswordIncorrect { remaining_attempts: Option<u32> },
    #[error("the new password is one of the last {depth}")]
    PasswordReused { depth: usize },
    #[error("another change of this account won the race")]
    Conflict,
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed => ChangeError::Conflict,
            StoreError::Unavailable(why) => ChangeError::Unavailable(why),
            StoreError::Failed(why) => ChangeError::Internal(why),
        }
    }
}

impl From<HashingError> for ChangeError {
    fn from(e: HashingError) -> Self {
        ChangeError::Internal(e.to_string())
    }
}

/// Account protection settings (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionSettings {
    pub history_depth: usize,
    /// 0 turns the lockout off.
    pub lockout_threshold: u32,
    pub lockout_seconds: u64,
}

impl Default for ProtectionSettings {
    fn default() -> Self {
        ProtectionSettings {
            history_depth: 5,
            lockout_threshold: 5,
            lockout_seconds: 900,
        }
    }
}

/// The current time, injectable for tests.
pub type Clock = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(time::OffsetDateTime::now_utc)
}

/// The use case, wired once at cold start.
pub struct ChangePasswordService<S> {
    store: Arc<S>,
    hasher: Arc<dyn PasswordHashing>,
    pepper: Arc<dyn PepperSource>,
    policy: PasswordPolicy,
    protection: ProtectionSettings,
    clock: Clock,
    workers: usize,
}

impl<S: AccountStore> ChangePasswordService<S> {
    pub fn new(
        store: Arc<S>,
        hasher: Arc<dyn PasswordHashing>,
        pepper: Arc<dyn PepperSource>,
        policy: PasswordPolicy,
        protection: ProtectionSettings,
        clock: Clock,
    ) -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        ChangePasswordService {
            store,
            hasher,
            pepper,
            policy,
            protection,
            clock,
            workers,
        }
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Changes `user_id`'s password, checking in SPEC §4 order (steps 3 to 8).
    pub async fn change(
        &self,
        user_id: &str,
        request: ChangeRequest,
    ) -> Result<Changed, ChangeError> {
        // 3. The account.
        let account = self
            .store
            .load(user_id)
            .await?
            .ok_or(ChangeError::AccountNotFound)?;
        if account.is_service() {
            return Err(ChangeError::ServiceAccount);
        }
        if account.is_disabled() {
            return Err(ChangeError::AccountDisabled);
        }
        // 4. The lockout, before any argon2 work.
        let now = (self.clock)().unix_timestamp();
        if let Some(retry_after) = account.lock_remaining(now) {
            return Err(ChangeError::AccountLocked { retry_after });
        }
        // 5. Validation: every Type 0 error together; no argon2, no write.
        let (current, new, warnings) = self.validate(&account, request)?;
        // 6. The current password.
        let pepper = self
            .pepper
            .keys()
            .await
            .map_err(|e| ChangeError::Unavailable(e.to_string()))?;
        let matches = match account.password_hash.clone() {
            Some(stored) => self.verify(current, stored, pepper.clone()).await?,
            None => false,
        };
        if !matches {
            return Err(self.count_failure(user_id, now).await);
        }
        // 7. History.
        let depth = self.protection.history_depth;
        let history: Vec<String> = account
            .password_history
            .iter()
            .take(depth)
            .cloned()
            .collect();
        if depth > 0 && self.reused(&new, &history, &pepper).await? {
            return Err(ChangeError::PasswordReused { depth });
        }
        // 8. The conditional write.
        let new_hash = self.hash(new, pepper).await?;
        let expected_hash = account.password_hash.clone().unwrap_or_default();
        let mut new_history = Vec::with_capacity(depth);
        if depth > 0 {
            new_history.push(expected_hash.clone());
            new_history.extend(history.into_iter().take(depth - 1));
        }
        let new_version = account.password_version.unwrap_or(0) + 1;
        let change = PasswordChange {
            user_id: user_id.to_string(),
            expected_hash,
            expected_version: account.password_version,
            new_hash,
            new_version,
            changed_at: rfc3339(now),
            history: new_history,
            now,
        };
        match self.store.commit(&change).await {
            Ok(()) => Ok(Changed {
                warnings,
                new_version,
            }),
            Err(StoreError::ConditionFailed) => self.explain_lost_write(&change, warnings).await,
            Err(e) => Err(e.into()),
        }
    }

    fn validate(
        &self,
        account: &AccountRecord,
        request: ChangeRequest,
    ) -> Result<(String, String, Vec<Issue>), ChangeError> {
        if !request.input_issues.is_empty() {
            return Err(ChangeError::Invalid(request.input_issues));
        }
        let mut errors = Vec::new();
        let present = |value: Option<String>, field: Field, errors: &mut Vec<Issue>| match value {
            Some(v) if !v.is_empty() => Some(normalize(&v)),
            _ => {
                errors.push(Issue::validation(
                    codes::REQUIRED,
                    Some(field),
                    format!("{} is required.", field.as_str()),
                ));
                None
            }
        };
        let current = present(
            request.current_password,
            Field::CurrentPassword,
            &mut errors,
        );
        let new = present(request.new_password, Field::NewPassword, &mut errors);
        let mut warnings = Vec::new();
        if let Some(new) = &new {
            let ids = Identifiers {
                user_id: &account.user_id,
                email: account.email.as_deref(),
                username: account.username.as_deref(),
            };
            let report = self.policy.check(new, &ids);
            errors.extend(report.errors);
            warnings = report.warnings;
            if current.as_ref() == Some(new) {
                errors.push(Issue::validation(
                    codes::PASSWORD_UNCHANGED,
                    Some(Field::NewPassword),
                    "The new password must differ from the current one.",
                ));
            }
        }
        match (current, new) {
            (Some(current), Some(new)) if errors.is_empty() => Ok((current, new, warnings)),
            _ => Err(ChangeError::Invalid(errors)),
        }
    }

    async fn verify(
        &self,
        password: String,
        stored: String,
        pepper: Arc<PepperKeys>,
    ) -> Result<bool, ChangeError> {
        let hasher = self.hasher.clone();
        blocking(move || hasher.verify(&password, &stored, &pepper))
            .await?
            .map_err(Into::into)
    }

    async fn hash(&self, password: String, pepper: Arc<PepperKeys>) -> Result<String, ChangeError> {
        let hasher = self.hasher.clone();
        blocking(move || hasher.hash(&password, &pepper))
            .await?
            .map_err(Into::into)
    }

    /// Whether `new` verifies against any of `history`. The checks run on up to one worker per
    /// CPU, and every worker stops once one has found a match.
    async fn reused(
        &self,
        new: &str,
        history: &[String],
        pepper: &Arc<PepperKeys>,
    ) -> Result<bool, ChangeError> {
        if history.is_empty() {
            return Ok(false);
        }
        let found = Arc::new(AtomicBool::new(false));
        let history: Arc<[String]> = history.into();
        let workers = self.workers.min(history.len());
        let mut tasks = tokio::task::JoinSet::new();
        for first in 0..workers {
            let (hasher, pepper, found, history) = (
                self.hasher.clone(),
                pepper.clone(),
                found.clone(),
                history.clone(),
            );
            let new = new.to_string();
            tasks.spawn_blocking(move || -> Result<(), HashingError> {
                for old in history.iter().skip(first).step_by(workers) {
                    if found.load(Ordering::Relaxed) {
                        break;
                    }
                    // A history entry this service cannot verify is skipped, not fatal.
                    if let Ok(true) = hasher.verify(&new, old, &pepper) {
                        found.store(true, Ordering::Relaxed);
                    }
                }
                Ok(())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.map_err(|e| ChangeError::Internal(format!("history check failed: {e}")))??;
        }
        Ok(found.load(Ordering::Relaxed))
    }

    async fn count_failure(&self, user_id: &str, now: i64) -> ChangeError {
        let threshold = self.protection.lockout_threshold;
        match self
            .store
            .record_failed_attempt(user_id, threshold, self.protection.lockout_seconds, now)
            .await
        {
            Ok(FailedAttempt::Counted(n)) => ChangeError::CurrentPasswordIncorrect {
                remaining_attempts: (threshold > 0).then(|| threshold.saturating_sub(n)),
            },
            Ok(FailedAttempt::Locked(until)) => ChangeError::AccountLocked {
                retry_after: until.saturating_sub(now).max(1) as u64,
            },
            // The record vanished between the read and the count.
            Err(StoreError::ConditionFailed) => ChangeError::AccountNotFound,
            Err(e) => e.into(),
        }
    }

    /// The conditional write failed. Our own write, applied by an attempt whose answer was
    /// lost and then retried, explains it (the change is done); else a lock that arrived
    /// meanwhile; else another change won the race.
    async fn explain_lost_write(
        &self,
        change: &PasswordChange,
        warnings: Vec<Issue>,
    ) -> Result<Changed, ChangeError> {
        match self.store.load(&change.user_id).await {
            Ok(Some(account))
                if account.password_hash.as_deref() == Some(change.new_hash.as_str()) =>
            {
                Ok(Changed {
                    warnings,
                    new_version: change.new_version,
                })
            }
            Ok(Some(account)) => Err(match account.lock_remaining(change.now) {
                Some(retry_after) => ChangeError::AccountLocked { retry_after },
                None => ChangeError::Conflict,
            }),
            Ok(None) => Err(ChangeError::AccountNotFound),
            Err(_) => Err(ChangeError::Conflict),
        }
    }
}

/// CPU-bound work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ChangeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ChangeError::Internal(format!("hashing task failed: {e}")))
}

fn rfc3339(epoch_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
