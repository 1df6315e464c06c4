//! The rules on a new password: `PASSWORD_MIN_LENGTH`, `PASSWORD_MAX_LENGTH` (code points after
//! NFC), `PASSWORD_MIN_SCORE` (an operator's floor on the estimator's score; 0 = advice only),
//! `PASSWORD_CONTEXT_WORDS` (whole passwords refused), `PASSWORD_IDENTIFIER_SUBSTRINGS`.

use super::{ConfigError, Env, bad};
use crate::domain::password_policy::PasswordPolicy;

/// NIST SP 800-63B-4 §3.1.1.2: at least 15 where the password is the only factor, at least 8
/// where it is part of multi-factor authentication; under 8 is never allowed.
pub const LOWEST_MIN_LENGTH: usize = 8;
/// The longest maximum: argon2 takes any length, but a request is at most 16 KiB anyway.
pub const HIGHEST_MAX_LENGTH: usize = 1024;

pub fn read(env: &Env) -> Result<PasswordPolicy, ConfigError> {
    let defaults = PasswordPolicy::default();
    let policy = PasswordPolicy {
        min_length: env.number("PASSWORD_MIN_LENGTH", defaults.min_length)?,
        max_length: env.number("PASSWORD_MAX_LENGTH", defaults.max_length)?,
        min_score: env.number("PASSWORD_MIN_SCORE", defaults.min_score)?,
        context_words: env
            .get("PASSWORD_CONTEXT_WORDS")
            .map(|words| {
                words
                    .split(',')
                    .map(|w| w.trim().to_string())
                    .filter(|w| !w.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        identifier_substrings: env.choice("PASSWORD_IDENTIFIER_SUBSTRINGS", &["off", "on"])?
            == "on",
    };
    if policy.min_length < LOWEST_MIN_LENGTH {
        return Err(bad(
            "PASSWORD_MIN_LENGTH",
            "must be at least 8 (NIST SP 800-63B-4 §3.1.1.2; 15 where the password is the only factor)",
        ));
    }
    if policy.max_length < policy.min_length {
        return Err(bad(
            "PASSWORD_MAX_LENGTH",
            "must not be below PASSWORD_MIN_LENGTH",
        ));
    }
    if policy.max_length > HIGHEST_MAX_LENGTH {
        return Err(bad("PASSWORD_MAX_LENGTH", "must be at most 1024"));
    }
    if policy.min_score > 4 {
        return Err(bad("PASSWORD_MIN_SCORE", "must be between 0 and 4"));
    }
    Ok(policy)
}
