//! Account protection: `PASSWORD_HISTORY` (previous passwords not to reuse), `LOCKOUT_THRESHOLD`
//! and `LOCKOUT_SECONDS` (wrong current passwords per lock window, the first lock's length;
//! each next lock doubles, at most a day), `LOCKOUT_MAX_FAILURES` (wrong current passwords in a
//! row before a hard lock that only a fresh sign-in lifts).

use super::{ConfigError, Env, bad};
use crate::domain::change_password::ProtectionSettings;

/// NIST SP 800-63B-4 §3.2.2: no more than 100 consecutive failed attempts on one account.
pub const MAX_LOCKOUT_THRESHOLD: u32 = 100;
/// The same bound on the failures in a row across locks.
pub const MAX_MAX_FAILURES: u32 = 100;
/// A lock longer than a day is a denial of service the user cannot wait out.
pub const MAX_LOCKOUT_SECONDS: u64 = 86_400;
/// The most previous passwords kept: each one costs a full argon2 verification per change.
pub const MAX_HISTORY: usize = 24;

pub fn read(env: &Env) -> Result<ProtectionSettings, ConfigError> {
    let defaults = ProtectionSettings::default();
    let protection = ProtectionSettings {
        history_depth: env.number("PASSWORD_HISTORY", defaults.history_depth)?,
        lockout_threshold: env.number("LOCKOUT_THRESHOLD", defaults.lockout_threshold)?,
        lockout_seconds: env.number("LOCKOUT_SECONDS", defaults.lockout_seconds)?,
        max_failures: env.number("LOCKOUT_MAX_FAILURES", defaults.max_failures)?,
    };
    if protection.history_depth > MAX_HISTORY {
        return Err(bad(
            "PASSWORD_HISTORY",
            &format!("must be at most {MAX_HISTORY}"),
        ));
    }
    if protection.lockout_threshold > MAX_LOCKOUT_THRESHOLD {
        return Err(bad(
            "LOCKOUT_THRESHOLD",
            &format!(
                "must be at most {MAX_LOCKOUT_THRESHOLD} (NIST SP 800-63B-4 allows no more consecutive failed attempts)"
            ),
        ));
    }
    if protection.lockout_seconds > MAX_LOCKOUT_SECONDS {
        return Err(bad(
            "LOCKOUT_SECONDS",
            &format!("must be at most {MAX_LOCKOUT_SECONDS} (one day)"),
        ));
    }
    if protection.lockout_threshold > 0 && protection.lockout_seconds == 0 {
        return Err(bad(
            "LOCKOUT_SECONDS",
            "must be at least 1 when LOCKOUT_THRESHOLD is set",
        ));
    }
    if protection.max_failures == 0 || protection.max_failures > MAX_MAX_FAILURES {
        return Err(bad(
            "LOCKOUT_MAX_FAILURES",
            &format!(
                "must be between 1 and {MAX_MAX_FAILURES} (NIST SP 800-63B-4 §3.2.2: no more than 100 consecutive failed attempts)"
            ),
        ));
    }
    Ok(protection)
}
