//! Configuration from the environment (SPEC §6), read and checked once at start-up.

use crate::domain::breached::WhenUnavailable;
use crate::domain::change_notice::message::NoticeSettings;
use crate::domain::change_notice::plain_address;
use crate::domain::change_password::ProtectionSettings;
use crate::domain::password_hashing::Argon2Settings;
use crate::domain::password_policy::PasswordPolicy;
use std::str::FromStr;

/// A bad configuration value: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// Settings for tokens the function verifies itself (SPEC §3 source 4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenSettings {
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub jwks_url: Option<String>,
    pub hs256_secret_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub users_table: String,
    pub argon2: Argon2Settings,
    pub policy: PasswordPolicy,
    pub protection: ProtectionSettings,
    pub pepper_secret_id: Option<String>,
    pub tokens: TokenSettings,
    /// `COGNITO_USER_POOL_ID`: a committed change also revokes the user's refresh tokens.
    pub cognito_user_pool_id: Option<String>,
    /// `BREACHED_PASSWORD_CHECK=hibp`: the range API's base URL (`HIBP_API_URL`).
    pub breached_check: Option<String>,
    /// `BREACHED_PASSWORD_FAIL`.
    pub breached_fail: WhenUnavailable,
    /// `MAX_AUTH_AGE_SECONDS`: the user must have signed in at most this long ago.
    pub max_auth_age: Option<u64>,
}

/// Every variable the function reads (besides the SDK's and the Lambda runtime's own).
pub const VARIABLES: &[&str] = &[
    "USERS_TABLE",
    "ARGON2_MEMORY_KIB",
    "ARGON2_ITERATIONS",
    "ARGON2_PARALLELISM",
    "PEPPER_SECRET_ID",
    "PASSWORD_MIN_LENGTH",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_SCORE",
    "PASSWORD_HISTORY",
    "LOCKOUT_THRESHOLD",
    "LOCKOUT_SECONDS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_JWKS_URL",
    "JWT_HS256_SECRET_ID",
    "COGNITO_USER_POOL_ID",
    "BREACHED_PASSWORD_CHECK",
    "HIBP_API_URL",
    "BREACHED_PASSWORD_FAIL",
    "MAX_AUTH_AGE_SECONDS",
];

/// The range API of Have I Been Pwned's Pwned Passwords.
pub const DEFAULT_HIBP_API_URL: &str = "https://api.pwnedpasswords.com";

/// NIST SP 800-63B-4 §3.2.2: no more than 100 consecutive failed attempts on one account.
pub const MAX_LOCKOUT_THRESHOLD: u32 = 100;
/// A lock longer than a day is a denial of service the user cannot wait out.
pub const MAX_LOCKOUT_SECONDS: u64 = 86_400;

/// The most previous passwords kept: each one costs a full argon2 verification per change.
pub const MAX_HISTORY: usize = 24;

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let users_table = get("USERS_TABLE").ok_or_else(|| ConfigError {
            variable: "USERS_TABLE",
            problem: "is required (the DynamoDB table of accounts)".into(),
        })?;
        let argon2 = Argon2Settings {
            memory_kib: number(&get, "ARGON2_MEMORY_KIB", 19_456)?,
            iterations: number(&get, "ARGON2_ITERATIONS", 2)?,
            parallelism: number(&get, "ARGON2_PARALLELISM", 1)?,
        };
        argon2.validate().map_err(|problem| ConfigError {
            variable: "ARGON2_MEMORY_KIB",
            problem: format!(
                "argon2 parameters m={} t={} p={} are invalid: {problem} (m must be at least 8*p)",
                argon2.memory_kib, argon2.iterations, argon2.parallelism
            ),
        })?;
        if argon2.iterations == 0 {
            return Err(bad("ARGON2_ITERATIONS", "must be at least 1"));
        }
        if argon2.parallelism == 0 {
            return Err(bad("ARGON2_PARALLELISM", "must be at least 1"));
        }
        let policy = PasswordPolicy {
            min_length: number(&get, "PASSWORD_MIN_LENGTH", 12)?,
            max_length: number(&get, "PASSWORD_MAX_LENGTH", 128)?,
            min_score: number(&get, "PASSWORD_MIN_SCORE", 3)?,
        };
        if policy.min_length == 0 {
            return Err(bad("PASSWORD_MIN_LENGTH", "must be at least 1"));
        }
        if policy.max_length < policy.min_length {
            return Err(bad(
                "PASSWORD_MAX_LENGTH",
                "must not be below PASSWORD_MIN_LENGTH",
            ));
        }
        if policy.max_length > 1024 {
            return Err(bad("PASSWORD_MAX_LENGTH", "must be at most 1024"));
        }
        if policy.min_score > 4 {
            return Err(bad("PASSWORD_MIN_SCORE", "must be between 0 and 4"));
        }
        let protection = ProtectionSettings {
            history_depth: number(&get, "PASSWORD_HISTORY", 5)?,
            lockout_threshold: number(&get, "LOCKOUT_THRESHOLD", 5)?,
            lockout_seconds: number(&get, "LOCKOUT_SECONDS", 900)?,
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
        let issuer = get("JWT_ISSUER").map(|i| i.trim_end_matches('/').to_string());
        let jwks_url = match (&issuer, get("JWT_JWKS_URL")) {
            (_, Some(url)) => Some(
                crate::web::https::check_url(&url)
                    .map(|_| url)
                    .map_err(|p| bad("JWT_JWKS_URL", &p))?,
            ),
            (Some(issuer), None) => {
                let url = format!("{issuer}/.well-known/jwks.json");
                Some(
                    crate::web::https::check_url(&url)
                        .map(|_| url)
                        .map_err(|p| bad("JWT_ISSUER", &format!("the default JWKS URL {p}")))?,
                )
            }
            (None, None) => None,
        };
        let cognito_user_pool_id = get("COGNITO_USER_POOL_ID");
        if let Some(pool) = &cognito_user_pool_id {
            let valid = pool.split_once('_').is_some_and(|(region, id)| {
                !region.is_empty()
                    && region
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !id.is_empty()
                    && id.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if !valid {
                return Err(bad(
                    "COGNITO_USER_POOL_ID",
                    "is not a user pool id (region_Id, as eu-west-1_AbCdEf123)",
                ));
            }
        }
        let breached_check = match get("BREACHED_PASSWORD_CHECK").as_deref() {
            None | Some("off") => None,
            Some("hibp") => {
                let url = get("HIBP_API_URL").unwrap_or_else(|| DEFAULT_HIBP_API_URL.into());
                crate::web::https::check_url(&url).map_err(|p| bad("HIBP_API_URL", &p))?;
                Some(url)
            }
            Some(other) => {
                return Err(bad(
                    "BREACHED_PASSWORD_CHECK",
                    &format!("{other:?} is neither off nor hibp"),
                ));
            }
        };
        let breached_fail = match get("BREACHED_PASSWORD_FAIL").as_deref() {
            None | Some("open") => WhenUnavailable::Accept,
            Some("closed") => WhenUnavailable::Refuse,
            Some(other) => {
                return Err(bad(
                    "BREACHED_PASSWORD_FAIL",
                    &format!("{other:?} is neither open nor closed"),
                ));
            }
        };
        let max_auth_age: Option<u64> = match get("MAX_AUTH_AGE_SECONDS") {
            None => None,
            Some(_) => Some(number(&get, "MAX_AUTH_AGE_SECONDS", 0)?),
        };
        if max_auth_age == Some(0) {
            return Err(bad(
                "MAX_AUTH_AGE_SECONDS",
                "must be at least 1 (unset it to require no recent sign-in)",
            ));
        }
        let tokens = TokenSettings {
            issuer,
            audience: get("JWT_AUDIENCE")
                .map(|a| {
                    a.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            jwks_url,
            hs256_secret_id: get("JWT_HS256_SECRET_ID"),
        };
        Ok(Config {
            users_table,
            argon2,
            policy,
            protection,
            pepper_secret_id: get("PEPPER_SECRET_ID"),
            tokens,
            cognito_user_pool_id,
            breached_check,
            breached_fail,
            max_auth_age,
        })
    }
}

/// The configuration of `change-notice` (SPEC §6): the table, and `NOTICE_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeConfig {
    pub users_table: String,
    /// `NOTICE_FROM`: the SES sender identity's address.
    pub from: String,
    pub settings: NoticeSettings,
}

impl NoticeConfig {
    pub fn from_env() -> Result<NoticeConfig, ConfigError> {
        NoticeConfig::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<NoticeConfig, ConfigError> {
        let get = |name: &'static str, what: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| bad(name, &format!("is required ({what})")))
        };
        let users_table = get("USERS_TABLE", "the DynamoDB table of accounts")?;
        let from = get("NOTICE_FROM", "the SES sender address of the change notice")?;
        if !plain_address(&from.to_lowercase()) {
            return Err(bad("NOTICE_FROM", "must be a plain address (local@domain)"));
        }
        let help_url = get(
            "NOTICE_HELP_URL",
            "where a user who did not make the change goes",
        )?;
        if url::Url::parse(&help_url).map_or(true, |u| u.scheme() != "https") {
            return Err(bad("NOTICE_HELP_URL", "must be an https URL"));
        }
        let contact = get(
            "NOTICE_CONTACT",
            "whom a user who did not make the change contacts",
        )?;
        if contact.chars().any(char::is_control) {
            return Err(bad("NOTICE_CONTACT", "must be one line of text"));
        }
        Ok(NoticeConfig {
            users_table,
            from,
            settings: NoticeSettings { help_url, contact },
        })
    }
}

/// `SECURITY_EVENT_ISSUER`, the `iss` of the security event (SPEC §7), for `security-event`.
pub fn security_event_issuer(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let issuer = lookup("SECURITY_EVENT_ISSUER")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            bad(
                "SECURITY_EVENT_ISSUER",
                "is required (the iss of the security event)",
            )
        })?;
    // RFC 8417 §2.2: `iss` is a StringOrURI; one with a colon must be a URI.
    if issuer.contains(':') && url::Url::parse(&issuer).is_err() {
        return Err(bad("SECURITY_EVENT_ISSUER", "must be a URI"));
    }
    Ok(issuer)
}

fn bad(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.to_string(),
    }
}

fn number<T: FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(variable) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|_| ConfigError {
            variable,
            problem: format!("{raw:?} is not a valid non-negative whole number"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_spec_defaults() {
        let c = config(&[("USERS_TABLE", "users")]).unwrap();
        assert_eq!(c.argon2, Argon2Settings::default());
        assert_eq!(c.policy, PasswordPolicy::default());
        assert_eq!(c.protection, ProtectionSettings::default());
        assert_eq!(c.pepper_secret_id, None);
        assert_eq!(c.tokens, TokenSettings::default());
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(config(&[]).unwrap_err().variable, "USERS_TABLE");
        let cases = [
            ("ARGON2_MEMORY_KIB", "lots", "ARGON2_MEMORY_KIB"),
            ("ARGON2_MEMORY_KIB", "4", "ARGON2_MEMORY_KIB"),
            ("ARGON2_ITERATIONS", "0", "ARGON2_MEMORY_KIB"),
            ("PASSWORD_MIN_LENGTH", "-1", "PASSWORD_MIN_LENGTH"),
            ("PASSWORD_MAX_LENGTH", "8", "PASSWORD_MAX_LENGTH"),
            ("PASSWORD_MIN_SCORE", "5", "PASSWORD_MIN_SCORE"),
            ("PASSWORD_HISTORY", "1000", "PASSWORD_HISTORY"),
            ("LOCKOUT_SECONDS", "0", "LOCKOUT_SECONDS"),
        ];
        for (var, value, named) in cases {
            let err = config(&[("USERS_TABLE", "t"), (var, value)]).unwrap_err();
            assert_eq!(err.variable, named, "{var}={value}: {err}");
            assert!(err.to_string().contains(named));
        }
    }

    #[test]
    fn breached_check_and_recent_sign_in() {
        let base = [("USERS_TABLE", "t")];
        let c = config(&base).unwrap();
        assert_eq!((c.breached_check, c.max_auth_age), (None, None));
        assert_eq!(c.breached_fail, WhenUnavailable::Accept);
        let c = config(&[("USERS_TABLE", "t"), ("BREACHED_PASSWORD_CHECK", "hibp")]).unwrap();
        assert_eq!(c.breached_check.as_deref(), Some(DEFAULT_HIBP_API_URL));
        let c = config(&[
            ("USERS_TABLE", "t"),
            ("BREACHED_PASSWORD_CHECK", "hibp"),
            ("HIBP_API_URL", "http://127.0.0.1:8000"),
            ("BREACHED_PASSWORD_FAIL", "closed"),
            ("MAX_AUTH_AGE_SECONDS", "300"),
        ])
        .unwrap();
        assert_eq!(c.breached_check.as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(c.breached_fail, WhenUnavailable::Refuse);
        assert_eq!(c.max_auth_age, Some(300));
        let var = |pairs: &[(&str, &str)]| config(pairs).unwrap_err().variable;
        assert_eq!(
            var(&[("USERS_TABLE", "t"), ("BREACHED_PASSWORD_CHECK", "yes")]),
            "BREACHED_PASSWORD_CHECK"
        );
        assert_eq!(
            var(&[
                ("USERS_TABLE", "t"),
                ("BREACHED_PASSWORD_CHECK", "hibp"),
                ("HIBP_API_URL", "http://hibp.example")
            ]),
            "HIBP_API_URL"
        );
        assert_eq!(
            var(&[("USERS_TABLE", "t"), ("BREACHED_PASSWORD_FAIL", "maybe")]),
            "BREACHED_PASSWORD_FAIL"
        );
        assert_eq!(
            var(&[("USERS_TABLE", "t"), ("MAX_AUTH_AGE_SECONDS", "0")]),
            "MAX_AUTH_AGE_SECONDS"
        );
        assert_eq!(
            var(&[("USERS_TABLE", "t"), ("MAX_AUTH_AGE_SECONDS", "soon")]),
            "MAX_AUTH_AGE_SECONDS"
        );
    }

    #[test]
    fn lockout_bounds() {
        let var = |r: Result<Config, ConfigError>| r.unwrap_err().variable;
        assert_eq!(
            var(config(&[
                ("USERS_TABLE", "t"),
                ("LOCKOUT_THRESHOLD", "101")
            ])),
            "LOCKOUT_THRESHOLD"
        );
        assert_eq!(
            var(config(&[
                ("USERS_TABLE", "t"),
                ("LOCKOUT_SECONDS", "86401")
            ])),
            "LOCKOUT_SECONDS"
        );
        let at = config(&[
            ("USERS_TABLE", "t"),
            ("LOCKOUT_THRESHOLD", "100"),
            ("LOCKOUT_SECONDS", "86400"),
        ])
        .unwrap();
        assert_eq!(at.protection.lockout_threshold, 100);
        assert_eq!(at.protection.lockout_seconds, 86_400);
    }

    #[test]
    fn audience_is_a_comma_list() {
        let c = config(&[
            ("USERS_TABLE", "t"),
            ("JWT_AUDIENCE", "a, b,,c"),
            ("JWT_ISSUER", "https://x/"),
        ])
        .unwrap();
        assert_eq!(c.tokens.audience, vec!["a", "b", "c"]);
        assert_eq!(c.tokens.issuer.as_deref(), Some("https://x"));
        assert_eq!(
            c.tokens.jwks_url.as_deref(),
            Some("https://x/.well-known/jwks.json")
        );
    }

    #[test]
    fn jwks_url_must_be_https_or_loopback() {
        let err = config(&[
            ("USERS_TABLE", "t"),
            ("JWT_ISSUER", "http://issuer.example"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "JWT_ISSUER");
        let err = config(&[
            ("USERS_TABLE", "t"),
            ("JWT_ISSUER", "https://i"),
            ("JWT_JWKS_URL", "http://evil.example/k"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "JWT_JWKS_URL");
        let c = config(&[
            ("USERS_TABLE", "t"),
            ("JWT_ISSUER", "http://127.0.0.1:8000"),
        ])
        .unwrap();
        assert_eq!(
            c.tokens.jwks_url.as_deref(),
            Some("http://127.0.0.1:8000/.well-known/jwks.json")
        );
    }

    #[test]
    fn change_notice_needs_its_sender_help_page_and_contact() {
        let vars = |extra: &[(&str, &str)]| {
            let mut m: std::collections::HashMap<String, String> = [
                ("USERS_TABLE", "users"),
                ("NOTICE_FROM", "security@example.com"),
                ("NOTICE_HELP_URL", "https://example.com/help"),
                ("NOTICE_CONTACT", "support@example.com"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            for (k, v) in extra {
                m.insert(k.to_string(), v.to_string());
            }
            NoticeConfig::from_lookup(move |k| m.get(k).cloned())
        };
        assert_eq!(vars(&[]).unwrap().from, "security@example.com");
        for (variable, value) in [
            ("NOTICE_FROM", ""),
            ("NOTICE_FROM", "Security <security@example.com>"),
            ("NOTICE_HELP_URL", "http://example.com/help"),
            ("NOTICE_HELP_URL", ""),
            ("NOTICE_CONTACT", "a\nBcc: b"),
            ("NOTICE_CONTACT", " "),
            ("USERS_TABLE", ""),
        ] {
            assert_eq!(vars(&[(variable, value)]).unwrap_err().variable, variable);
        }
    }

    #[test]
    fn the_security_event_issuer_is_required_and_a_uri_when_it_looks_like_one() {
        let of = |v: Option<&str>| security_event_issuer(|_| v.map(String::from));
        assert_eq!(
            of(Some("urn:change-password:local")).unwrap(),
            "urn:change-password:local"
        );
        assert_eq!(of(Some("change-password")).unwrap(), "change-password");
        assert!(of(None).is_err());
        assert!(of(Some("ht tp://x y")).is_err());
    }
}
