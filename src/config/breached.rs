//! `BREACHED_PASSWORD_CHECK`, `HIBP_API_URL`, `BREACHED_PASSWORD_FAIL`: the breach corpus that new
//! passwords are looked up in, and what a request does when it cannot be asked.

use super::{ConfigError, Env, bad};
use crate::domain::breached::WhenUnavailable;

/// The range API of Have I Been Pwned's Pwned Passwords.
pub const DEFAULT_HIBP_API_URL: &str = "https://api.pwnedpasswords.com";

/// The range API's base URL when the check is on, and what an unavailable API means.
pub fn read(env: &Env) -> Result<(Option<String>, WhenUnavailable), ConfigError> {
    let check = match env.choice("BREACHED_PASSWORD_CHECK", &["off", "hibp"])? {
        "hibp" => {
            let url = env
                .get("HIBP_API_URL")
                .unwrap_or_else(|| DEFAULT_HIBP_API_URL.into());
            crate::web::https::check_url(&url).map_err(|p| bad("HIBP_API_URL", &p))?;
            Some(url)
        }
        _ => None,
    };
    let fail = match env.choice("BREACHED_PASSWORD_FAIL", &["open", "closed"])? {
        "closed" => WhenUnavailable::Refuse,
        _ => WhenUnavailable::Accept,
    };
    Ok((check, fail))
}
