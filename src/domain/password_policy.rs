//! The rules a new password must follow (NIST SP 800-63B rev 4, OWASP ASVS 5.0).
//!
//! Pure functions: no I/O, no hashing. Passwords are NFKC-normalised once by the caller
//! ([`normalize`]) and never trimmed or truncated.

use crate::domain::issue::{Field, Issue, codes};
use unicode_normalization::UnicodeNormalization;

/// The configured rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in Unicode code points after NFKC.
    pub min_length: usize,
    /// Maximum length in Unicode code points after NFKC.
    pub max_length: usize,
    /// zxcvbn score (0-4) a new password must reach.
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_length: 128,
            min_score: 3,
        }
    }
}

/// What the account knows about its owner, that a password must not contain.
#[derive(Debug, Clone, Default)]
pub struct Identifiers<'a> {
    pub user_id: &'a str,
    pub email: Option<&'a str>,
    pub username: Option<&'a str>,
}

/// Identifiers shorter than this (in code points) are not searched for: a one-letter username
/// would otherwise forbid every password containing that letter.
pub const MIN_IDENTIFIER_LENGTH: usize = 4;

/// Unicode NFKC normalisation, as SPEC §2 asks for both passwords.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// The outcome of the rules on one new password.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PolicyReport {
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

impl PasswordPolicy {
    /// Checks a normalised new password. Every broken rule is reported, not just the first.
    pub fn check(&self, new_password: &str, ids: &Identifiers<'_>) -> PolicyReport {
        let mut report = PolicyReport::default();
        let length = new_password.chars().count();
        if length < self.min_length {
            report.errors.push(
                Issue::validation(
                    codes::PASSWORD_TOO_SHORT,
                    Some(Field::NewPassword),
                    format!(
                        "The new password must have at least {} characters.",
                        self.min_length
                    ),
                )
                .with("MinLength", self.min_length.to_string()),
            );
        }
        if length > self.max_length {
            report.errors.push(
                Issue::validation(
                    codes::PASSWORD_TOO_LONG,
                    Some(Field::NewPassword),
                    format!(
                        "The new password must have at most {} characters.",
                        self.max_length
                    ),
                )
                .with("MaxLength", self.max_length.to_string()),
            );
        }
        if let Some(found) = contained_identifier(new_password, ids) {
            report.errors.push(Issue::validation(
                codes::PASSWORD_CONTAINS_IDENTIFIER,
                Some(Field::NewPassword),
                format!("The new password must not contain your {found}."),
            ));
        }
        // The estimator is only run on a password of acceptable length: it would judge the
        // first 100 characters of an over-long one, and its cost grows with the length.
        if length <= self.max_length && length > 0 {
            self.check_strength(new_password, ids, &mut report);
        }
        report
    }

    fn check_strength(&self, password: &str, ids: &Identifiers<'_>, report: &mut PolicyReport) {
        let mut inputs: Vec<&str> = vec![ids.user_id];
        inputs.extend(ids.email);
        inputs.extend(ids.username);
        let estimate = zxcvbn::zxcvbn(password, &inputs);
        let score = u8::from(estimate.score());
        let feedback = estimate.feedback();
        let warning = feedback.and_then(|f| f.warning()).map(|w| w.to_string());
        let suggestions: Vec<String> = feedback
            .map(|f| f.suggestions().iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        let annotate = |mut issue: Issue| {
            issue = issue.with("Score", score.to_string());
            issue = issue.with("MinScore", self.min_score.to_string());
            if let Some(w) = &warning {
                issue = issue.with("Warning", w.clone());
            }
            if !suggestions.is_empty() {
                issue = issue.with("Suggestions", suggestions.join(" "));
            }
            issue
        };
        if score < self.min_score {
            report.errors.push(annotate(Issue::validation(
                codes::PASSWORD_TOO_WEAK,
                Some(Field::NewPassword),
                "The new password is too easy to guess.",
            )));
        } else if score == self.min_score && score < 4 {
            report.warnings.push(annotate(Issue::warning(
                codes::PASSWORD_COULD_BE_STRONGER,
                Some(Field::NewPassword),
                "The new password is accepted, but it could be stronger.",
            )));
        }
    }
}

/// Which identifier (if any) the password contains, case-insensitively.
fn contained_identifier(password: &str, ids: &Identifiers<'_>) -> Option<&'static str> {
    let haystack = normalize(password).to_lowercase();
    let contains = |needle: &str| {
        let needle = normalize(needle).to_lowercase();
        needle.chars().count() >= MIN_IDENTIFIER_LENGTH && haystack.contains(&needle)
    };
    if let Some(email) = ids.email {
        let local = email.split('@').next().unwrap_or_default();
        if contains(email) || contains(local) {
            return Some("email address");
        }
    }
    if ids.username.is_some_and(contains) {
        return Some("username");
    }
    if contains(ids.user_id) {
        return Some("user id");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Identifiers<'static> {
        Identifiers {
            user_id: "7c1d5e2a-3b4f",
            email: Some("Jane.Doe@example.com"),
            username: Some("janedoe"),
        }
    }

    fn codes_of(report: &PolicyReport) -> Vec<&'static str> {
        report.errors.iter().map(|i| i.code).collect()
    }

    #[test]
    fn strong_password_passes() {
        let r = PasswordPolicy::default().check("violet-Harbor-Lantern-42", &ids());
        assert!(r.errors.is_empty(), "{r:?}");
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        let policy = PasswordPolicy {
            min_length: 4,
            max_length: 4,
            min_score: 0,
        };
        // Four code points, twelve UTF-8 bytes.
        assert!(policy.check("ééé€", &ids()).errors.is_empty());
        // U+FB01 (the "fi" ligature) is one code point, two after NFKC.
        let normalized = normalize("\u{FB01}\u{FB01}");
        assert_eq!(normalized, "fifi");
        assert!(policy.check(&normalized, &ids()).errors.is_empty());
    }

    #[test]
    fn too_short_and_too_long_carry_their_limits() {
        let policy = PasswordPolicy::default();
        let r = policy.check("abc", &ids());
        assert!(codes_of(&r).contains(&codes::PASSWORD_TOO_SHORT));
        let short = r
            .errors
            .iter()
            .find(|i| i.code == codes::PASSWORD_TOO_SHORT)
            .unwrap();
        assert_eq!(short.metadata, vec![("MinLength", "12".to_string())]);
        let long = "x".repeat(129);
        let r = policy.check(&long, &ids());
        let item = r
            .errors
            .iter()
            .find(|i| i.code == codes::PASSWORD_TOO_LONG)
            .unwrap();
        assert_eq!(item.metadata, vec![("MaxLength", "128".to_string())]);
        assert!(
            policy
                .check(&"x".repeat(128), &ids())
                .errors
                .iter()
                .all(|i| i.code != codes::PASSWORD_TOO_LONG)
        );
    }

    #[test]
    fn weak_password_reports_score_and_feedback() {
        let r = PasswordPolicy::default().check("passwordpassword", &ids());
        let weak = r
            .errors
            .iter()
            .find(|i| i.code == codes::PASSWORD_TOO_WEAK)
            .expect("weak");
        let keys: Vec<_> = weak.metadata.iter().map(|(k, _)| *k).collect();
        assert!(keys.contains(&"Score"));
        assert!(keys.contains(&"Suggestions") || keys.contains(&"Warning"));
    }

    #[test]
    fn password_at_minimum_score_gets_a_warning() {
        let policy = PasswordPolicy {
            min_length: 1,
            max_length: 128,
            min_score: 1,
        };
        // Score exactly 1 for this one; the test first proves that.
        let pw = "abcdefgh1";
        let score = u8::from(zxcvbn::zxcvbn(pw, &[]).score());
        let policy = PasswordPolicy {
            min_score: score,
            ..policy
        };
        let r = policy.check(pw, &ids());
        assert!(r.errors.is_empty(), "{r:?}");
        assert_eq!(r.warnings[0].code, codes::PASSWORD_COULD_BE_STRONGER);
    }

    #[test]
    fn identifiers_are_refused_case_insensitively() {
        let policy = PasswordPolicy {
            min_length: 1,
            max_length: 128,
            min_score: 0,
        };
        for pw in [
            "xxJANE.DOE@EXAMPLE.COMxx",
            "my-jane.doe-rules",
            "JaneDoe-123456",
            "aa7C1D5E2A-3B4Fzz",
        ] {
            assert!(
                codes_of(&policy.check(pw, &ids())).contains(&codes::PASSWORD_CONTAINS_IDENTIFIER),
                "{pw}"
            );
        }
        let short = Identifiers {
            user_id: "u1",
            email: Some("al@x.io"),
            username: Some("al"),
        };
        assert!(policy.check("al-u1-x.io-river", &short).errors.is_empty());
    }
}
