//! The change-password use case (SPEC §4 order of checks), independent of Lambda and AWS.
//!
//! [`ChangePasswordService::change`] reads as the order of checks; the steps live beside it:
//! [`attempts`] (step 6: the reserved attempt, the current password, a retried change) and
//! [`write`] (steps 7-8: the history, the conditional write, and what follows a change).

mod attempts;
mod write;

use crate::domain::account::AccountRecord;
use crate::domain::account_store::{AccountStore, PasswordChange, StoreError};
use crate::domain::breached::{
    Breach, BreachedPasswords, PendingLookup, WhenUnavailable, breached_issue, unavailable_warning,
};
use crate::domain::hashing_tasks::{HashingTasks, TaskError};
use crate::domain::issue::{Field, Issue, codes};
use crate::domain::password_hashing::PasswordHashing;
use crate::domain::password_policy::{Identifiers, PasswordPolicy, normalize, normalize_legacy};
use crate::domain::pepper::PepperSource;
use crate::domain::sessions::{RefreshTokenRevoker, RequestOrigin, TokenFacts};
use std::sync::Arc;
use std::time::Duration;

/// The request as the HTTP adapter understood it.
#[derive(Clone, Default)]
pub struct ChangeRequest {
    pub current_password: Option<String>,
    pub new_password: Option<String>,
    /// Problems the adapter found with the body's shape (`InvalidRequestBody`); they are
    /// reported at the validation step, with every other validation error.
    pub input_issues: Vec<Issue>,
    /// What the caller's token says of itself (its age and session).
    pub token: TokenFacts,
    /// Where the request came from.
    pub origin: RequestOrigin,
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
            .field("token", &self.token)
            .field("origin", &self.origin)
            .finish()
    }
}

/// The password was changed (by this request, or by the one it retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub warnings: Vec<Issue>,
    pub new_version: u64,
    /// The same change had already succeeded: nothing was written (SPEC §4, a retried change).
    pub retried: bool,
    /// What became of the user's refresh tokens (SPEC §7).
    pub refresh_tokens: RefreshTokens,
}

/// The refresh tokens after a committed change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RefreshTokens {
    /// No identity provider is configured to revoke them (or nothing was changed).
    #[default]
    Kept,
    Revoked,
    /// The change stands; the revocation failed (logged and counted, never an error answer).
    RevocationFailed(String),
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
    #[error("the token was issued before the account's last password change")]
    TokenRevoked,
    #[error("the account is locked for {retry_after} more seconds")]
    AccountLocked { retry_after: u64 },
    /// Locked only by an attempt still being verified, which lifts the lock if its password is
    /// right: worth trying again in `retry_after` seconds.
    #[error("attempts are being verified; try again in {retry_after} seconds")]
    AttemptsInFlight { retry_after: u64 },
    /// `LOCKOUT_MAX_FAILURES` wrong current passwords in a row: only a token from a sign-in
    /// after the hard lock may try again (`since`: seconds since the hard lock).
    #[error("the account is hard-locked since {since} seconds: a new sign-in is required")]
    SignInRequired { since: u64 },
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

impl From<TaskError> for ChangeError {
    fn from(e: TaskError) -> Self {
        ChangeError::Internal(e.to_string())
    }
}

/// How long after a change a retry of it is recognised (SPEC §4).
pub const RETRY_WINDOW_SECONDS: i64 = 600;

/// The longest the revocation of refresh tokens may add to a committed change.
pub const REVOKE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Account protection settings (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionSettings {
    pub history_depth: usize,
    /// 0 turns the lockout off (and with it the count of failures in a row).
    pub lockout_threshold: u32,
    /// The first lock's length; each next one since the last right password doubles, at most
    /// a day.
    pub lockout_seconds: u64,
    /// Wrong current passwords in a row, across locks, before a hard lock that only a fresh
    /// sign-in lifts (NIST SP 800-63B-4 §3.2.2: at most 100).
    pub max_failures: u32,
}

impl Default for ProtectionSettings {
    fn default() -> Self {
        ProtectionSettings {
            history_depth: 5,
            lockout_threshold: 5,
            lockout_seconds: 900,
            max_failures: 100,
        }
    }
}

/// The current time, injectable for tests.
pub type Clock = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(time::OffsetDateTime::now_utc)
}

/// The passwords of a request that passed validation.
struct Passwords {
    /// `CurrentPassword` after NFC (SPEC §2).
    current: String,
    /// The other forms the current password is tried in, where they differ from NFC and from
    /// each other: NFKC (hashes stored before NFC was the rule), then as received (hashes
    /// imported from a system that did not normalise). Still one attempt.
    current_alternatives: Vec<String>,
    /// `NewPassword` after NFC.
    new: String,
}

/// NFKC and the raw form of a current password, where they differ from its NFC form.
fn alternatives(raw: String, nfc: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(2);
    for form in [normalize_legacy(&raw), raw] {
        if form != nfc && !out.contains(&form) {
            out.push(form);
        }
    }
    out
}

/// The use case, wired once at cold start.
pub struct ChangePasswordService<S> {
    store: Arc<S>,
    tasks: HashingTasks,
    pepper: Arc<dyn PepperSource>,
    policy: PasswordPolicy,
    protection: ProtectionSettings,
    clock: Clock,
    revoker: Option<Arc<dyn RefreshTokenRevoker>>,
    breached: Option<(Arc<dyn BreachedPasswords>, WhenUnavailable)>,
}

/// A request that failed validation: its errors, and the new password (after NFKC) when one
/// was given, for the breached-password check to report with them.
struct Invalid {
    errors: Vec<Issue>,
    new: Option<String>,
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
        ChangePasswordService {
            store,
            tasks: HashingTasks::new(hasher),
            pepper,
            policy,
            protection,
            clock,
            revoker: None,
            breached: None,
        }
    }

    /// New passwords are also looked up in `corpus`; `when_unavailable` says what a request
    /// does when it cannot be asked.
    pub fn with_breached_passwords(
        mut self,
        corpus: Arc<dyn BreachedPasswords>,
        when_unavailable: WhenUnavailable,
    ) -> Self {
        self.breached = Some((corpus, when_unavailable));
        self
    }

    fn corpus(&self) -> Option<&dyn BreachedPasswords> {
        self.breached.as_ref().map(|(corpus, _)| corpus.as_ref())
    }

    /// After each committed change, the user's refresh tokens are revoked with `revoker`.
    pub fn with_refresh_token_revoker(mut self, revoker: Arc<dyn RefreshTokenRevoker>) -> Self {
        self.revoker = Some(revoker);
        self
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
        if account
            .revocation
            .as_ref()
            .is_some_and(|marker| marker.refuses(&request.token))
        {
            return Err(ChangeError::TokenRevoked);
        }
        // 4. The lockout, before any argon2 work: the hard lock (a fresh sign-in lifts it),
        // then the lock of the window.
        let now = (self.clock)().unix_timestamp();
        // After a lifted hard lock, until the next change: only a sign-in after it counts (a
        // session from before it gets no new guesses).
        if let Some(floor) = account.sign_in_floor
            && request.token.auth_time.is_none_or(|at| at <= floor)
        {
            return Err(ChangeError::SignInRequired {
                since: now.saturating_sub(floor).max(0) as u64,
            });
        }
        if let Some(since) = account.sign_in_required_after {
            if let Some(retry_after) = account.lock_pending(now) {
                return Err(ChangeError::AttemptsInFlight { retry_after });
            }
            self.hard_lock(user_id, since, &request.token, now).await?;
        }
        if let Some(retry_after) = account.lock_pending(now) {
            return Err(ChangeError::AttemptsInFlight { retry_after });
        }
        if let Some(retry_after) = account.lock_remaining(now) {
            return Err(ChangeError::AccountLocked { retry_after });
        }
        // 5. Validation: every Type 0 error together; no argon2, no write.
        let (token, origin) = (request.token.clone(), request.origin.clone());
        let (passwords, mut warnings) = match self.validate(&account, request) {
            Ok(valid) => valid,
            Err(invalid) => return Err(self.with_breach_finding(invalid).await),
        };
        // The breached-password lookup runs alongside step 6's argon2 and step 7's.
        let lookup = PendingLookup::start(self.corpus(), &passwords.new);
        let pepper = self
            .pepper
            .keys()
            .await
            .map_err(|e| ChangeError::Unavailable(e.to_string()))?;
        // 6. The current password, within one reserved attempt.
        let attempt = self.reserve(user_id, account.lock_count, now).await?;
        let matches = match self.current_matches(&account, &passwords, &pepper).await {
            Ok(matches) => matches,
            // Not a wrong password (a stored hash this service cannot verify): the attempt is
            // given back, so that such an account is not locked by its own 500s.
            Err(e) => {
                if let Some(attempt) = attempt {
                    let _ = self.store.release_attempt(user_id, attempt).await;
                }
                return Err(e);
            }
        };
        if !matches {
            return self
                .wrong_current(&account, &passwords, &pepper, attempt, now, warnings)
                .await;
        }
        // A right current password clears the count whatever happens next; the clear runs
        // while argon2 checks the history and hashes the new password.
        let clear = async {
            match attempt {
                Some(attempt) => self.store.clear_attempts(user_id, attempt).await,
                None => Ok(()),
            }
        };
        let (cleared, prepared, breach) = tokio::join!(
            clear,
            self.prepare(&account, &passwords, &pepper),
            lookup.finish()
        );
        cleared?;
        // The breach finding is a validation error (step 5), so it comes before step 7's.
        match breach {
            Breach::Found(n) => return Err(ChangeError::Invalid(vec![breached_issue(n)])),
            Breach::Unavailable(why) => match self.breached.as_ref().map(|(_, w)| *w) {
                Some(WhenUnavailable::Refuse) => return Err(ChangeError::Unavailable(why)),
                _ => warnings.push(unavailable_warning()),
            },
            Breach::Clean | Breach::NotChecked => {}
        }
        // 7. History (inside `prepare`), then 8. the conditional write, stamped with the time
        // it is sent: every token issued before that is refused from then on.
        let change = PasswordChange {
            session: token.session.clone(),
            origin,
            issuer: token.issuer.clone(),
            ..prepared?
        }
        .stamped((self.clock)().unix_timestamp());
        let mut changed = match self.store.commit(&change).await {
            Ok(()) => Changed {
                warnings,
                new_version: change.new_version,
                retried: false,
                refresh_tokens: RefreshTokens::Kept,
            },
            Err(StoreError::ConditionFailed) => self.explain_lost_write(&change, warnings).await?,
            Err(e) => return Err(e.into()),
        };
        changed.refresh_tokens = self.revoke_refresh_tokens(user_id, &token).await;
        Ok(changed)
    }

    /// A request that breaks local rules is also checked against the corpus, so that every
    /// Type 0 error comes at once; no attempt is reserved for it.
    async fn with_breach_finding(&self, mut invalid: Invalid) -> ChangeError {
        if let Some(new) = &invalid.new
            && let Breach::Found(n) = PendingLookup::start(self.corpus(), new).finish().await
        {
            invalid.errors.push(breached_issue(n));
        }
        ChangeError::Invalid(invalid.errors)
    }

    fn validate(
        &self,
        account: &AccountRecord,
        request: ChangeRequest,
    ) -> Result<(Passwords, Vec<Issue>), Invalid> {
        // A body that is no JSON object says nothing of its fields: it is answered alone.
        // A field of the wrong type is reported with every rule on the other one.
        if request.input_issues.iter().any(|i| i.field.is_none()) {
            return Err(Invalid {
                errors: request.input_issues,
                new: None,
            });
        }
        let mistyped: Vec<Option<Field>> = request.input_issues.iter().map(|i| i.field).collect();
        let mut errors = request.input_issues;
        let present = |value: Option<String>, field: Field, errors: &mut Vec<Issue>| match value {
            Some(v) if !v.is_empty() => Some(v),
            _ if mistyped.contains(&Some(field)) => None,
            _ => {
                errors.push(Issue::validation(
                    codes::REQUIRED,
                    Some(field),
                    format!("{} is required.", field.as_str()),
                ));
                None
            }
        };
        let current_raw = present(
            request.current_password,
            Field::CurrentPassword,
            &mut errors,
        );
        let current = current_raw.as_deref().map(normalize);
        let new =
            present(request.new_password, Field::NewPassword, &mut errors).map(|v| normalize(&v));
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
        match (current, current_raw, new) {
            (Some(current), Some(raw), Some(new)) if errors.is_empty() => {
                let current_alternatives = alternatives(raw, &current);
                Ok((
                    Passwords {
                        current,
                        current_alternatives,
                        new,
                    },
                    warnings,
                ))
            }
            (_, _, new) => Err(Invalid { errors, new }),
        }
    }
}
