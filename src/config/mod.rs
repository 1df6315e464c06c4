//! Configuration from the environment (SPEC §6), read and checked once at start-up. Each
//! concern reads and checks its own variables, beside the rule they set: [`argon2`], [`policy`],
//! [`protection`], [`tokens`], [`breached`]; [`notice`] is `change-notice`'s and
//! `security-event`'s.

pub mod argon2;
pub mod breached;
pub mod notice;
pub mod policy;
pub mod protection;
pub mod tokens;

use crate::domain::breached::WhenUnavailable;
use crate::domain::change_password::ProtectionSettings;
use crate::domain::password_hashing::Argon2Settings;
use crate::domain::password_policy::PasswordPolicy;
use std::str::FromStr;

pub use breached::DEFAULT_HIBP_API_URL;
pub use notice::{NoticeConfig, security_event_issuer};
pub use protection::{MAX_HISTORY, MAX_LOCKOUT_SECONDS, MAX_LOCKOUT_THRESHOLD, MAX_MAX_FAILURES};
pub use tokens::TokenSettings;

/// A bad configuration value: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
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
    "PASSWORD_CONTEXT_WORDS",
    "PASSWORD_IDENTIFIER_SUBSTRINGS",
    "PASSWORD_HISTORY",
    "LOCKOUT_THRESHOLD",
    "LOCKOUT_SECONDS",
    "LOCKOUT_MAX_FAILURES",
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

/// The variables as a concern reads them: trimmed, an empty value the same as an unset one.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A whole number, `default` when unset.
    pub fn number<T: FromStr>(&self, variable: &'static str, default: T) -> Result<T, ConfigError> {
        match self.get(variable) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| ConfigError {
                variable,
                problem: format!("{raw:?} is not a valid non-negative whole number"),
            }),
        }
    }

    /// A value that must be set; `what` says what it is for.
    pub fn required(&self, variable: &'static str, what: &str) -> Result<String, ConfigError> {
        self.get(variable)
            .ok_or_else(|| bad(variable, &format!("is required ({what})")))
    }

    /// One of `choices` (the first is the default when unset).
    pub fn choice(
        &self,
        variable: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, ConfigError> {
        match self.get(variable) {
            None => Ok(choices[0]),
            Some(value) => choices
                .iter()
                .find(|c| **c == value)
                .copied()
                .ok_or_else(|| {
                    bad(
                        variable,
                        &format!("{value:?} is not one of {}", choices.join(", ")),
                    )
                }),
        }
    }
}

pub(crate) fn bad(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.to_string(),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env::new(&lookup);
        let users_table = env.required("USERS_TABLE", "the DynamoDB table of accounts")?;
        let (breached_check, breached_fail) = breached::read(&env)?;
        Ok(Config {
            users_table,
            argon2: argon2::read(&env)?,
            policy: policy::read(&env)?,
            protection: protection::read(&env)?,
            pepper_secret_id: env.get("PEPPER_SECRET_ID"),
            tokens: tokens::read(&env)?,
            cognito_user_pool_id: tokens::cognito_user_pool(&env)?,
            breached_check,
            breached_fail,
            max_auth_age: tokens::max_auth_age(&env)?,
        })
    }

    /// What start-up should warn of: settings that are allowed but weaken the protection.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.protection.lockout_threshold == 0 {
            out.push(
                "LOCKOUT_THRESHOLD=0: the lockout is off; wrong current passwords are not limited"
                    .to_string(),
            );
        }
        out
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

    #[test]
    fn nist_lengths_scores_lists_and_the_failures_in_a_row() {
        let base = ("USERS_TABLE", "t");
        let c = config(&[base]).unwrap();
        assert_eq!((c.policy.min_length, c.policy.min_score), (15, 0));
        assert_eq!(c.protection.max_failures, 100);
        assert!(!c.policy.identifier_substrings && c.policy.context_words.is_empty());
        assert!(c.warnings().is_empty());
        // 8 to 14 for deployments with a second factor; under 8 never.
        for min in ["8", "14"] {
            assert!(
                config(&[base, ("PASSWORD_MIN_LENGTH", min)]).is_ok(),
                "{min}"
            );
        }
        let var = |pairs: &[(&str, &str)]| config(pairs).unwrap_err().variable;
        assert_eq!(
            var(&[base, ("PASSWORD_MIN_LENGTH", "7")]),
            "PASSWORD_MIN_LENGTH"
        );
        for bad in ["0", "101"] {
            assert_eq!(
                var(&[base, ("LOCKOUT_MAX_FAILURES", bad)]),
                "LOCKOUT_MAX_FAILURES"
            );
        }
        assert_eq!(
            var(&[base, ("PASSWORD_IDENTIFIER_SUBSTRINGS", "yes")]),
            "PASSWORD_IDENTIFIER_SUBSTRINGS"
        );
        let c = config(&[
            base,
            ("PASSWORD_CONTEXT_WORDS", " Acme , acme workspace,,"),
            ("PASSWORD_IDENTIFIER_SUBSTRINGS", "on"),
            ("LOCKOUT_MAX_FAILURES", "10"),
            ("LOCKOUT_THRESHOLD", "0"),
        ])
        .unwrap();
        assert_eq!(c.policy.context_words, vec!["Acme", "acme workspace"]);
        assert!(c.policy.identifier_substrings);
        assert_eq!(c.protection.max_failures, 10);
        assert_eq!(c.warnings().len(), 1);
        assert!(c.warnings()[0].contains("LOCKOUT_THRESHOLD=0"));
    }
}
