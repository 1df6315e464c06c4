//! Step 6 of the change: an attempt reserved before any argon2 work, the current password
//! (and, for a hash imported unnormalised, its raw form), and what a wrong one answers: a retry
//! of the last change, or a counted attempt.

use super::{
    ChangeError, ChangePasswordService, Changed, Passwords, RETRY_WINDOW_SECONDS, RefreshTokens,
};
use crate::domain::account::AccountRecord;
use crate::domain::account_store::{AccountStore, Attempt, AttemptLimit, Reservation, StoreError};
use crate::domain::issue::{Issue, codes};
use crate::domain::password_hashing::PepperKeys;
use crate::domain::sessions::TokenFacts;
use std::sync::Arc;

impl<S: AccountStore> ChangePasswordService<S> {
    /// Takes one attempt before any argon2 work; `None` when the lockout is off.
    pub(super) async fn reserve(
        &self,
        user_id: &str,
        lock_count: u32,
        now: i64,
    ) -> Result<Option<Attempt>, ChangeError> {
        let threshold = self.protection.lockout_threshold;
        if threshold == 0 {
            return Ok(None);
        }
        let limit = AttemptLimit {
            threshold,
            lock_seconds: self.protection.lockout_seconds,
            max_failures: self.protection.max_failures,
            lock_count,
            now,
        };
        match self.store.reserve_attempt(user_id, limit).await {
            Ok(Reservation::Taken(attempt)) => Ok(Some(attempt)),
            Ok(Reservation::Locked(until)) => Err(ChangeError::AccountLocked {
                retry_after: until.saturating_sub(now).max(1) as u64,
            }),
            Ok(Reservation::LockPending(pending)) => Err(ChangeError::AttemptsInFlight {
                retry_after: pending.saturating_sub(now).max(1) as u64,
            }),
            Ok(Reservation::SignInRequired(since)) => Err(ChangeError::SignInRequired {
                since: now.saturating_sub(since).max(0) as u64,
            }),
            // The record vanished between the read and the reservation.
            Err(StoreError::ConditionFailed) => Err(ChangeError::AccountNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The account is hard-locked since `since` (`LOCKOUT_MAX_FAILURES` wrong current
    /// passwords in a row): a token from a sign-in after it lifts the lock, and the counts start
    /// again; any other token is asked to sign in again (SPEC §4 step 6).
    pub(super) async fn hard_lock(
        &self,
        user_id: &str,
        since: i64,
        token: &TokenFacts,
        now: i64,
    ) -> Result<(), ChangeError> {
        if token.auth_time.is_some_and(|signed_in| signed_in > since) {
            return match self.store.lift_hard_lock(user_id, since).await {
                // Lifted, by this request or by another one of the new sign-in.
                Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        Err(ChangeError::SignInRequired {
            since: now.saturating_sub(since).max(0) as u64,
        })
    }

    /// Whether the current password verifies: its NFC form, then (for hashes stored under NFKC
    /// or imported unnormalised) its other forms, each at most once.
    pub(super) async fn current_matches(
        &self,
        account: &AccountRecord,
        passwords: &Passwords,
        pepper: &Arc<PepperKeys>,
    ) -> Result<bool, ChangeError> {
        let Some(stored) = &account.password_hash else {
            return Ok(false);
        };
        for candidate in std::iter::once(&passwords.current).chain(&passwords.current_alternatives)
        {
            let matched = self.tasks.verify(candidate, stored, pepper).await?;
            tracing::debug!(matched, "current password verified");
            if matched {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The current password was wrong: a retry of the last change is answered as done and
    /// gives its attempt back; anything else counts.
    pub(super) async fn wrong_current(
        &self,
        account: &AccountRecord,
        passwords: &Passwords,
        pepper: &Arc<PepperKeys>,
        attempt: Option<Attempt>,
        now: i64,
        mut warnings: Vec<Issue>,
    ) -> Result<Changed, ChangeError> {
        if self.is_retry(account, passwords, pepper, now).await? {
            if let Some(attempt) = attempt {
                self.store
                    .release_attempt(&account.user_id, attempt)
                    .await?;
            }
            warnings.push(Issue::warning(
                codes::PASSWORD_ALREADY_CHANGED,
                None,
                "This change had already been made; nothing was changed again.",
            ));
            return Ok(Changed {
                warnings,
                new_version: account.password_version.unwrap_or(0),
                retried: true,
                refresh_tokens: RefreshTokens::Kept,
            });
        }
        Err(match attempt {
            Some(Attempt {
                hard_lock: Some(since),
                ..
            }) => {
                if let Err(e) = self.store.confirm_lock(&account.user_id, since).await {
                    tracing::warn!(error = %e, "the hard lock could not be confirmed; it stays pending for seconds");
                }
                ChangeError::SignInRequired { since: 0 }
            }
            Some(Attempt {
                lock: Some(until), ..
            }) => {
                // The lock this attempt set is a real one now: no longer pending.
                if let Err(e) = self.store.confirm_lock(&account.user_id, until).await {
                    tracing::warn!(error = %e, "the lock could not be confirmed; it stays pending for seconds");
                }
                ChangeError::AccountLocked {
                    retry_after: until.saturating_sub(now).max(1) as u64,
                }
            }
            Some(attempt) => self.counted_wrong(&account.user_id, attempt).await,
            None => ChangeError::CurrentPasswordIncorrect {
                remaining_attempts: None,
            },
        })
    }

    /// A wrong password whose attempt did not take the last one. Concurrent guesses may have
    /// used the rest, and locked the account, while argon2 ran: the account is read again so
    /// that no answer says `CurrentPasswordIncorrect` of a locked account, and
    /// `RemainingAttempts` counts every attempt taken so far. When it cannot be read, the
    /// reservation's own count answers.
    async fn counted_wrong(&self, user_id: &str, attempt: Attempt) -> ChangeError {
        let threshold = self.protection.lockout_threshold;
        let now = (self.clock)().unix_timestamp();
        let used = match self.store.load(user_id).await {
            Ok(Some(account)) => {
                if let Some(retry_after) = account.lock_pending(now) {
                    return ChangeError::AttemptsInFlight { retry_after };
                }
                if let Some(since) = account.sign_in_required_after {
                    return ChangeError::SignInRequired {
                        since: now.saturating_sub(since).max(0) as u64,
                    };
                }
                match account.lock_remaining(now) {
                    Some(retry_after) => return ChangeError::AccountLocked { retry_after },
                    None => account.failed_attempts,
                }
            }
            Ok(None) | Err(_) => attempt.used,
        };
        ChangeError::CurrentPasswordIncorrect {
            remaining_attempts: Some(threshold.saturating_sub(used)),
        }
    }

    /// Whether the request is the change that succeeded last, under 10 minutes ago: its new
    /// password is the current one and its current password the previous one. Each attempt
    /// thus checks one candidate for the current password: the `CurrentPassword` of a guess, or
    /// the `NewPassword` of a request whose `CurrentPassword` is the previous one.
    pub(super) async fn is_retry(
        &self,
        account: &AccountRecord,
        passwords: &Passwords,
        pepper: &Arc<PepperKeys>,
        now: i64,
    ) -> Result<bool, ChangeError> {
        let recent = account
            .changed_at_epoch()
            .is_some_and(|at| (0..RETRY_WINDOW_SECONDS).contains(&(now - at)));
        let (Some(stored), Some(previous)) =
            (&account.password_hash, &account.previous_password_hash)
        else {
            return Ok(false);
        };
        if !recent {
            return Ok(false);
        }
        // Both verifies always run, whatever the first says: how long the answer takes must
        // not tell whether `NewPassword` is the current password.
        let new_is_current = self.tasks.verify(&passwords.new, stored, pepper).await?;
        let current_was_previous = self
            .tasks
            .verify(&passwords.current, previous, pepper)
            .await?;
        Ok(new_is_current && current_was_previous)
    }
}
