//! Breached passwords (SPEC §4 step 5, §6 `BREACHED_PASSWORD_CHECK`): the port that tells how
//! often a password appears in a breach corpus, and what happens when it cannot be asked.

use crate::domain::issue::{Field, Issue, Severity, codes};
use std::future::Future;
use std::pin::Pin;
use tracing::Instrument;

/// The corpus could not be asked now (down, slow, or an answer that is not one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the breached-password check is unavailable: {0}")]
pub struct LookupFailed(pub String);

pub type LookupFuture = Pin<Box<dyn Future<Output = Result<u64, LookupFailed>> + Send + 'static>>;

/// A breach corpus: how many times a password was seen in breaches (0: never).
pub trait BreachedPasswords: Send + Sync {
    /// `password` is the new password after NFKC, as it would be hashed. The future owns
    /// what it needs, so that it can run alongside argon2.
    fn occurrences(&self, password: &str) -> LookupFuture;
}

/// What a request does when the corpus cannot be asked (`BREACHED_PASSWORD_FAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenUnavailable {
    /// Accept the password, with the Warning `BreachedPasswordCheckUnavailable`.
    #[default]
    Accept,
    /// Answer 503: no password is accepted unchecked.
    Refuse,
}

/// What the corpus said of a new password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// No check is configured.
    NotChecked,
    Clean,
    /// Seen this many times.
    Found(u64),
    Unavailable(String),
}

/// A lookup running alongside the rest of the request; dropping it stops it.
pub struct PendingLookup(Option<tokio::task::JoinHandle<Result<u64, LookupFailed>>>);

impl PendingLookup {
    /// Starts looking `password` up, when a corpus is configured.
    pub fn start(corpus: Option<&dyn BreachedPasswords>, password: &str) -> Self {
        PendingLookup(corpus.map(|c| {
            let span = tracing::info_span!("breached_password.lookup");
            tokio::spawn(c.occurrences(password).instrument(span))
        }))
    }

    pub async fn finish(mut self) -> Breach {
        let Some(task) = self.0.take() else {
            return Breach::NotChecked;
        };
        match task.await {
            Ok(Ok(0)) => Breach::Clean,
            Ok(Ok(n)) => Breach::Found(n),
            Ok(Err(e)) => Breach::Unavailable(e.to_string()),
            Err(e) => Breach::Unavailable(format!("the lookup failed: {e}")),
        }
    }
}

impl Drop for PendingLookup {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// The validation error for a breached new password (Type 0: the input breaks a rule).
pub fn breached_issue(occurrences: u64) -> Issue {
    Issue::validation(
        codes::PASSWORD_BREACHED,
        Some(Field::NewPassword),
        "This password has appeared in a data breach and is known to attackers. Choose another one.",
    )
    .with("Occurrences", occurrences.to_string())
}

/// The warning on a password accepted while the corpus could not be asked.
pub fn unavailable_warning() -> Issue {
    Issue {
        severity: Severity::Warning,
        ..Issue::system(
            codes::BREACHED_PASSWORD_CHECK_UNAVAILABLE,
            "The new password could not be checked against known breaches just now.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A corpus whose lookups never end, each holding `held` while it runs.
    struct Endless {
        held: Arc<()>,
    }

    impl BreachedPasswords for Endless {
        fn occurrences(&self, _: &str) -> LookupFuture {
            let held = self.held.clone();
            Box::pin(async move {
                let _held = held;
                std::future::pending::<()>().await;
                Ok(0)
            })
        }
    }

    #[tokio::test]
    async fn a_lookup_dropped_unfinished_is_stopped() {
        let corpus = Endless { held: Arc::new(()) };
        let lookup = PendingLookup::start(Some(&corpus), "password");
        // Running: the lookup holds its clone.
        while Arc::strong_count(&corpus.held) < 2 {
            tokio::task::yield_now().await;
        }
        drop(lookup);
        for _ in 0..1_000 {
            if Arc::strong_count(&corpus.held) == 1 {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the lookup kept running after it was dropped");
    }

    #[test]
    fn an_unchecked_password_is_a_warning_of_the_system() {
        let warning = unavailable_warning();
        assert_eq!(warning.code, codes::BREACHED_PASSWORD_CHECK_UNAVAILABLE);
        assert_eq!(warning.severity, Severity::Warning);
        assert_eq!(warning.category, crate::domain::issue::Category::System);
        assert_eq!(warning.field, None);
    }
}
