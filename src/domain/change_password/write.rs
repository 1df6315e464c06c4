//! Steps 7 and 8 of the change: the history, the new hash and the conditional write; a write
//! whose answer was lost; and, once a change is committed, the refresh tokens.

use super::{
    ChangeError, ChangePasswordService, Changed, Passwords, REVOKE_TIMEOUT, RefreshTokens,
};
use crate::domain::account::AccountRecord;
use crate::domain::account_store::{AccountStore, PasswordChange};
use crate::domain::issue::Issue;
use crate::domain::password_hashing::PepperKeys;
use crate::domain::sessions::TokenFacts;
use std::sync::Arc;

impl<S: AccountStore> ChangePasswordService<S> {
    /// Step 7 (the history) and the write that step 8 makes (its session and origin are the
    /// request's; its time is set by [`PasswordChange::stamped`] when it is sent).
    pub(super) async fn prepare(
        &self,
        account: &AccountRecord,
        passwords: &Passwords,
        pepper: &Arc<PepperKeys>,
    ) -> Result<PasswordChange, ChangeError> {
        let depth = self.protection.history_depth;
        let history: Vec<String> = account
            .password_history
            .iter()
            .take(depth)
            .cloned()
            .collect();
        // With a depth of 0 the history taken is empty: nothing is searched.
        if self
            .tasks
            .any_matches(&passwords.new, &history, pepper)
            .await?
        {
            return Err(ChangeError::PasswordReused { depth });
        }
        let new_hash = self.tasks.hash(&passwords.new, pepper).await?;
        let expected_hash = account.password_hash.clone().unwrap_or_default();
        let mut new_history = Vec::with_capacity(depth);
        if depth > 0 {
            new_history.push(expected_hash.clone());
            new_history.extend(history.into_iter().take(depth - 1));
        }
        Ok(PasswordChange {
            user_id: account.user_id.clone(),
            expected_hash,
            expected_version: account.password_version,
            new_hash,
            new_version: account.password_version.unwrap_or(0) + 1,
            changed_at: String::new(),
            history: new_history,
            now: 0,
            session: Default::default(),
            origin: Default::default(),
            issuer: None,
        })
    }

    /// The conditional write failed. Our own write, applied by an attempt whose answer was
    /// lost and then retried, explains it (the change is done); else a lock that arrived
    /// meanwhile; else another change won the race. When the record cannot be read again, the
    /// outcome is unknown: 503, never 409.
    pub(super) async fn explain_lost_write(
        &self,
        change: &PasswordChange,
        warnings: Vec<Issue>,
    ) -> Result<Changed, ChangeError> {
        let account = self.store.load(&change.user_id).await.map_err(|e| {
            ChangeError::Unavailable(format!("the write's outcome is unknown: {e}"))
        })?;
        match account {
            Some(account) if account.password_hash.as_deref() == Some(change.new_hash.as_str()) => {
                Ok(Changed {
                    warnings,
                    new_version: change.new_version,
                    retried: false,
                    refresh_tokens: RefreshTokens::Kept,
                })
            }
            Some(account) => Err(
                match (
                    account.lock_pending(change.now),
                    account.lock_remaining(change.now),
                ) {
                    (Some(retry_after), _) => ChangeError::AttemptsInFlight { retry_after },
                    (None, Some(retry_after)) => ChangeError::AccountLocked { retry_after },
                    (None, None) => ChangeError::Conflict,
                },
            ),
            None => Err(ChangeError::AccountNotFound),
        }
    }

    /// After a committed change: the user's refresh tokens, when a revoker is configured. A
    /// failure or a time-out never undoes or fails the change.
    pub(super) async fn revoke_refresh_tokens(
        &self,
        user_id: &str,
        token: &TokenFacts,
    ) -> RefreshTokens {
        let Some(revoker) = &self.revoker else {
            return RefreshTokens::Kept;
        };
        let revoke = revoker.revoke(user_id, token.username.as_deref());
        match tokio::time::timeout(REVOKE_TIMEOUT, revoke).await {
            Ok(Ok(())) => RefreshTokens::Revoked,
            Ok(Err(e)) => RefreshTokens::RevocationFailed(e.to_string()),
            Err(_) => RefreshTokens::RevocationFailed("timed out".into()),
        }
    }
}

impl PasswordChange {
    /// The change as sent at `now` (epoch seconds): `PasswordChangedAt` and `TokensValidAfter`.
    pub(super) fn stamped(self, now: i64) -> Self {
        PasswordChange {
            changed_at: rfc3339(now),
            now,
            ..self
        }
    }
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
