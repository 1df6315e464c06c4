//! The account record as the change use case sees it (SPEC §5).

use crate::domain::sessions::RevocationMarker;

/// `AccountType` of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountType {
    User,
    Service,
    /// Any other value: treated as a user, kept verbatim.
    Other(String),
}

/// `Status` of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Disabled,
    Other(String),
}

/// What one consistent read of the account gives.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub user_id: String,
    /// The stored argon2 PHC string; `None` when the record has none (never provisioned).
    pub password_hash: Option<String>,
    /// `PasswordVersion`; `None` when the attribute is missing (it then counts as 0).
    pub password_version: Option<u64>,
    /// `PasswordHistory`, newest first.
    pub password_history: Vec<String>,
    /// `PreviousPasswordHash`: the hash the last change replaced, kept whatever
    /// `PASSWORD_HISTORY` is, so that a retried change can be recognised (SPEC §4).
    pub previous_password_hash: Option<String>,
    /// `PasswordChangedAt`, RFC 3339 UTC.
    pub password_changed_at: Option<String>,
    pub failed_attempts: u32,
    /// `LockedUntil`, epoch seconds.
    pub locked_until: Option<i64>,
    /// `LockPendingUntil`: the lock was set by an attempt whose password is still being
    /// verified, until then at the latest (epoch seconds); it may yet be lifted.
    pub lock_pending_until: Option<i64>,
    /// `LockCount`: locks since the last right current password.
    pub lock_count: u32,
    /// `ConsecutiveFailedAttempts`: wrong current passwords in a row, across locks.
    pub consecutive_failures: u32,
    /// `SignInRequiredAfter`: the hard lock's time (epoch seconds), when there is one.
    pub sign_in_required_after: Option<i64>,
    /// `SignInFloor`: a hard lock was lifted by a newer sign-in; until the next change, only
    /// tokens signed in after this time (epoch seconds) are taken.
    pub sign_in_floor: Option<i64>,
    pub account_type: AccountType,
    pub status: AccountStatus,
    pub email: Option<String>,
    pub username: Option<String>,
    /// `TokensValidAfter` and `PasswordChangeSession`, once a change has set them.
    pub revocation: Option<RevocationMarker>,
}

impl std::fmt::Debug for AccountRecord {
    // Hashes are left out on purpose: a Debug print must never carry one into a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("user_id", &self.user_id)
            .field("password_version", &self.password_version)
            .field("history_len", &self.password_history.len())
            .field("password_changed_at", &self.password_changed_at)
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_until", &self.locked_until)
            .field("lock_count", &self.lock_count)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("sign_in_required_after", &self.sign_in_required_after)
            .field("account_type", &self.account_type)
            .field("status", &self.status)
            .field(
                "tokens_valid_after",
                &self.revocation.as_ref().map(|r| r.tokens_valid_after),
            )
            .finish_non_exhaustive()
    }
}

impl AccountRecord {
    /// A fresh user record with a hash (for provisioning and tests).
    pub fn new_user(user_id: impl Into<String>, password_hash: impl Into<String>) -> Self {
        AccountRecord {
            user_id: user_id.into(),
            password_hash: Some(password_hash.into()),
            password_version: None,
            password_history: Vec::new(),
            previous_password_hash: None,
            password_changed_at: None,
            failed_attempts: 0,
            locked_until: None,
            lock_pending_until: None,
            lock_count: 0,
            consecutive_failures: 0,
            sign_in_required_after: None,
            sign_in_floor: None,
            account_type: AccountType::User,
            status: AccountStatus::Active,
            email: None,
            username: None,
            revocation: None,
        }
    }

    pub fn is_service(&self) -> bool {
        self.account_type == AccountType::Service
    }

    pub fn is_disabled(&self) -> bool {
        self.status == AccountStatus::Disabled
    }

    /// When the password was last changed (epoch seconds), if the record says so.
    pub fn changed_at_epoch(&self) -> Option<i64> {
        let at = self.password_changed_at.as_deref()?;
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp())
    }

    /// Seconds until a pending lock (or hard lock) is settled, when the account is locked only by
    /// an attempt still being verified (which lifts it if its password is right).
    pub fn lock_pending(&self, now: i64) -> Option<u64> {
        if self.sign_in_required_after.is_none() {
            self.lock_remaining(now)?;
        }
        self.lock_pending_until
            .filter(|until| *until > now)
            .map(|until| (until - now) as u64)
    }

    /// Seconds left on a lock at `now` (epoch seconds), if locked.
    pub fn lock_remaining(&self, now: i64) -> Option<u64> {
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| (until - now) as u64)
    }
}

impl AccountType {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            None | Some("User") => AccountType::User,
            Some("Service") => AccountType::Service,
            Some(other) => AccountType::Other(other.to_string()),
        }
    }
}

impl AccountStatus {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            None | Some("Active") => AccountStatus::Active,
            Some("Disabled") => AccountStatus::Disabled,
            Some(other) => AccountStatus::Other(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debug_print_names_the_account_and_never_a_hash() {
        let mut record = AccountRecord::new_user("u-1", "$argon2id$current-hash");
        record.password_history = vec!["$argon2id$older-hash".into()];
        record.previous_password_hash = Some("$argon2id$previous-hash".into());
        record.failed_attempts = 3;
        let printed = format!("{record:?}");
        assert!(printed.contains(r#"user_id: "u-1""#), "{printed}");
        assert!(printed.contains("failed_attempts: 3"), "{printed}");
        assert!(printed.contains("history_len: 1"), "{printed}");
        assert!(!printed.contains("argon2id"), "{printed}");
    }

    #[test]
    fn a_pending_lock_counts_only_while_the_account_is_locked_and_until_it_settles() {
        let now = 1_000;
        let mut r = AccountRecord::new_user("u-1", "h");
        r.lock_pending_until = Some(now + 5);
        assert_eq!(r.lock_pending(now), None, "not locked: nothing pending");
        r.locked_until = Some(now + 60);
        assert_eq!(r.lock_pending(now), Some(5));
        assert_eq!(r.lock_remaining(now), Some(60));
        r.lock_pending_until = Some(now);
        assert_eq!(r.lock_pending(now), None, "settled at its instant");
        // A hard lock has no `LockedUntil`; its pending settlement still counts.
        r.locked_until = None;
        r.sign_in_required_after = Some(now - 100);
        r.lock_pending_until = Some(now + 7);
        assert_eq!(r.lock_pending(now), Some(7));
        r.locked_until = Some(now);
        assert_eq!(r.lock_remaining(now), None, "a lock ends at its instant");
    }
}
