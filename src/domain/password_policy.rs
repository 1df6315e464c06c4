//! The rules a new password must follow (SPEC §4; NIST SP 800-63B-4 §3.1.1.2 as published in
//! August 2025, OWASP ASVS 5.0.0 V6.2).
//!
//! Pure functions: no I/O, no hashing. Passwords are NFC-normalised once by the caller
//! ([`normalize`]) and never trimmed or truncated. The blocklist compares the entire password,
//! never a substring; the estimator's score only advises unless an operator sets a floor.

use crate::domain::common_passwords;
use crate::domain::issue::{Field, Issue, codes};
use unicode_normalization::UnicodeNormalization;
use zxcvbn::matching::patterns::MatchPattern;

/// The configured rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in Unicode code points after NFC.
    pub min_length: usize,
    /// Maximum length in Unicode code points after NFC.
    pub max_length: usize,
    /// zxcvbn score (0-4) a new password must reach; 0 = the score only advises.
    pub min_score: u8,
    /// `PASSWORD_CONTEXT_WORDS`: words of the service, refused as whole passwords.
    pub context_words: Vec<String>,
    /// `PASSWORD_IDENTIFIER_SUBSTRINGS=on`: also refuse a password that contains an
    /// identifier (stricter than NIST, which compares whole passwords).
    pub identifier_substrings: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 15,
            max_length: 128,
            min_score: 0,
            context_words: Vec::new(),
            identifier_substrings: false,
        }
    }
}

/// The score under which an accepted password carries `PasswordCouldBeStronger`.
pub const ADVISED_SCORE: u8 = 3;

/// What the account knows about its owner, that a password must not be.
#[derive(Debug, Clone, Default)]
pub struct Identifiers<'a> {
    pub user_id: &'a str,
    pub email: Option<&'a str>,
    pub username: Option<&'a str>,
}

/// Identifiers shorter than this (in code points) are not searched for inside a password (the
/// substring rule): a one-letter username would otherwise forbid every password containing
/// that letter.
pub const MIN_IDENTIFIER_LENGTH: usize = 4;

/// Unicode NFC normalisation (SPEC §2, NIST SP 800-63B-4 §3.1.1.2).
pub fn normalize(password: &str) -> String {
    password.nfc().collect()
}

/// NFKC, the normalisation of hashes stored before NFC was the rule: they keep verifying.
pub fn normalize_legacy(password: &str) -> String {
    password.nfkc().collect()
}

/// How a blocklisted password was found (Metadata `List`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocklist {
    CommonPasswords,
    Identifier,
    ContextWords,
    Pattern,
}

impl Blocklist {
    pub fn name(self) -> &'static str {
        match self {
            Blocklist::CommonPasswords => "CommonPasswords",
            Blocklist::Identifier => "Identifier",
            Blocklist::ContextWords => "ContextWords",
            Blocklist::Pattern => "Pattern",
        }
    }
}

/// The outcome of the rules on one new password.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PolicyReport {
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

/// The estimator's reading of a password.
struct Estimate {
    score: u8,
    /// One match from the first character to the last, and not "bruteforce".
    single_pattern: bool,
    warning: Option<String>,
    suggestions: Vec<String>,
}

impl Estimate {
    fn of(password: &str, inputs: &[&str]) -> Estimate {
        let entropy = zxcvbn::zxcvbn(password, inputs);
        let sequence = entropy.sequence();
        let single_pattern = matches!(sequence, [only] if only.pattern != MatchPattern::BruteForce);
        let feedback = entropy.feedback();
        Estimate {
            score: u8::from(entropy.score()),
            single_pattern,
            warning: feedback.and_then(|f| f.warning()).map(|w| w.to_string()),
            suggestions: feedback
                .map(|f| f.suggestions().iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
        }
    }

    /// `issue` with the score and the estimator's feedback.
    fn annotate(&self, issue: Issue) -> Issue {
        let mut issue = issue.with("Score", self.score.to_string());
        if let Some(w) = &self.warning {
            issue = issue.with("Warning", w.clone());
        }
        if !self.suggestions.is_empty() {
            issue = issue.with("Suggestions", self.suggestions.join(" "));
        }
        issue
    }
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
            // The estimator would judge only the first 100 characters of an over-long
            // password, and its cost grows with the length: it is not run.
            return report;
        }
        if length == 0 {
            return report;
        }
        let mut inputs: Vec<&str> = vec![ids.user_id];
        inputs.extend(ids.email);
        inputs.extend(ids.username);
        inputs.extend(self.context_words.iter().map(String::as_str));
        let estimate = Estimate::of(new_password, &inputs);
        let blocked = self.blocklist(new_password, ids, &estimate);
        if let Some(list) = blocked {
            report.errors.push(
                estimate.annotate(
                    Issue::validation(
                        codes::PASSWORD_BLOCKLISTED,
                        Some(Field::NewPassword),
                        "The new password is too common or too easy to guess: choose another.",
                    )
                    .with("List", list.name().to_string()),
                ),
            );
        }
        if self.identifier_substrings
            && blocked != Some(Blocklist::Identifier)
            && let Some(found) = contained_identifier(new_password, ids)
        {
            report.errors.push(Issue::validation(
                codes::PASSWORD_CONTAINS_IDENTIFIER,
                Some(Field::NewPassword),
                format!("The new password must not contain your {found}."),
            ));
        }
        // With `min_score` 0 (the default), nothing is refused for its score.
        if estimate.score < self.min_score {
            report.errors.push(
                estimate.annotate(
                    Issue::validation(
                        codes::PASSWORD_TOO_WEAK,
                        Some(Field::NewPassword),
                        "The new password is too easy to guess.",
                    )
                    .with("MinScore", self.min_score.to_string()),
                ),
            );
        } else if blocked.is_none() && estimate.score < ADVISED_SCORE {
            report.warnings.push(estimate.annotate(Issue::warning(
                codes::PASSWORD_COULD_BE_STRONGER,
                Some(Field::NewPassword),
                "The new password is accepted, but it could be stronger.",
            )));
        }
        report
    }

    /// The first list the whole password is on (compared after NFC, case-insensitively).
    fn blocklist(
        &self,
        password: &str,
        ids: &Identifiers<'_>,
        estimate: &Estimate,
    ) -> Option<Blocklist> {
        let folded = fold(password);
        if common_passwords::contains(&folded) {
            return Some(Blocklist::CommonPasswords);
        }
        let local_part = ids.email.and_then(|e| e.split('@').next());
        let identifiers = [Some(ids.user_id), ids.email, local_part, ids.username];
        if identifiers
            .into_iter()
            .flatten()
            .any(|id| !id.is_empty() && fold(id) == folded)
        {
            return Some(Blocklist::Identifier);
        }
        if self.context_words.iter().any(|w| fold(w) == folded) {
            return Some(Blocklist::ContextWords);
        }
        if estimate.single_pattern {
            return Some(Blocklist::Pattern);
        }
        None
    }
}

/// NFC, then case-folded: how blocklist entries and passwords are compared.
pub fn fold(text: &str) -> String {
    normalize(text).to_lowercase()
}

/// Which identifier (if any) the password contains, case-insensitively (the substring rule).
fn contained_identifier(password: &str, ids: &Identifiers<'_>) -> Option<&'static str> {
    let haystack = fold(password);
    let contains = |needle: &str| {
        let needle = fold(needle);
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
            username: Some("janedoe-the-great"),
        }
    }

    fn codes_of(report: &PolicyReport) -> Vec<&'static str> {
        report.errors.iter().map(|i| i.code).collect()
    }

    fn list_of(report: &PolicyReport) -> Option<String> {
        report
            .errors
            .iter()
            .find(|i| i.code == codes::PASSWORD_BLOCKLISTED)
            .and_then(|i| i.metadata.iter().find(|(k, _)| *k == "List"))
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn the_estimators_feedback_is_added_only_when_it_has_some() {
        let estimate = |warning: Option<&str>, suggestions: &[&str]| Estimate {
            score: 1,
            single_pattern: false,
            warning: warning.map(String::from),
            suggestions: suggestions.iter().map(|s| s.to_string()).collect(),
        };
        let keys = |e: Estimate| -> Vec<&'static str> {
            let issue = e.annotate(Issue::warning("C", None, "m"));
            issue.metadata.iter().map(|(k, _)| *k).collect()
        };
        assert_eq!(keys(estimate(None, &[])), ["Score"]);
        assert_eq!(
            keys(estimate(Some("w"), &["a", "b"])),
            ["Score", "Warning", "Suggestions"]
        );
    }

    fn lenient() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 8,
            ..PasswordPolicy::default()
        }
    }

    #[test]
    fn strong_password_passes_without_a_warning() {
        let r = PasswordPolicy::default().check("violet-Harbor-Lantern-42", &ids());
        assert!(r.errors.is_empty(), "{r:?}");
        assert!(r.warnings.is_empty(), "{r:?}");
    }

    #[test]
    fn the_defaults_are_nist_s() {
        let p = PasswordPolicy::default();
        assert_eq!((p.min_length, p.max_length, p.min_score), (15, 128, 0));
        assert!(!p.identifier_substrings);
    }

    #[test]
    fn length_counts_code_points_after_nfc() {
        let policy = PasswordPolicy {
            min_length: 8,
            max_length: 8,
            ..PasswordPolicy::default()
        };
        // Eight code points, more UTF-8 bytes.
        assert!(!codes_of(&policy.check("ééé€ééé€", &ids())).contains(&codes::PASSWORD_TOO_SHORT));
        // "e" + combining acute is two code points, one after NFC.
        let composed = normalize("e\u{301}");
        assert_eq!(composed, "é");
        // NFC keeps compatibility characters (NFKC would not): U+FB01 stays one code point.
        assert_eq!(normalize("\u{FB01}"), "\u{FB01}");
        assert_eq!(normalize_legacy("\u{FB01}"), "fi");
    }

    #[test]
    fn too_short_and_too_long_carry_their_limits() {
        let policy = PasswordPolicy::default();
        let r = policy.check("abc", &ids());
        let short = r
            .errors
            .iter()
            .find(|i| i.code == codes::PASSWORD_TOO_SHORT)
            .unwrap();
        assert_eq!(short.metadata, vec![("MinLength", "15".to_string())]);
        let r = policy.check(&"x".repeat(129), &ids());
        assert_eq!(codes_of(&r), vec![codes::PASSWORD_TOO_LONG]);
        assert_eq!(r.errors[0].metadata, vec![("MaxLength", "128".to_string())]);
        assert!(r.warnings.is_empty(), "the estimator is not run: {r:?}");
    }

    #[test]
    fn a_single_pattern_from_end_to_end_is_blocklisted() {
        for pw in ["sunflowersunflower", "bcdefghijklmnopq"] {
            assert_eq!(
                list_of(&lenient().check(pw, &ids())).as_deref(),
                Some("Pattern"),
                "{pw}"
            );
        }
        // Several words, or characters the estimator matched to nothing, are not a pattern.
        for pw in ["correct horse battery staple", "xq7#Lm2!vR9@pZ4&"] {
            assert_eq!(list_of(&lenient().check(pw, &ids())), None, "{pw}");
        }
    }

    #[test]
    fn identifiers_and_context_words_are_refused_whole_and_only_whole() {
        let policy = PasswordPolicy {
            min_length: 8,
            context_words: vec!["Acme Workspace".into()],
            ..PasswordPolicy::default()
        };
        for pw in [
            "JANE.DOE@EXAMPLE.COM",
            "janedoe-THE-great",
            "7C1D5E2A-3B4F",
            "jane.doe",
        ] {
            assert_eq!(
                list_of(&policy.check(pw, &ids())).as_deref(),
                Some("Identifier"),
                "{pw}"
            );
        }
        assert_eq!(
            list_of(&policy.check("acme workspace", &ids())).as_deref(),
            Some("ContextWords")
        );
        // Containing an identifier is not being one (unless the substring rule is on).
        let pw = "janedoe-the-great-violet-Harbor";
        assert!(policy.check(pw, &ids()).errors.is_empty());
        let strict = PasswordPolicy {
            identifier_substrings: true,
            ..policy
        };
        assert_eq!(
            codes_of(&strict.check(pw, &ids())),
            vec![codes::PASSWORD_CONTAINS_IDENTIFIER]
        );
    }

    #[test]
    fn the_substring_rule_names_the_identifier_found() {
        let found = |pw: &str| contained_identifier(pw, &ids());
        assert_eq!(found("my-JANE.DOE-password"), Some("email address"));
        assert_eq!(
            found("jane.doe@example.com-and-more"),
            Some("email address")
        );
        assert_eq!(found("x-JaneDoe-the-Great-x"), Some("username"));
        assert_eq!(found("pre-7c1d5e2a-3b4f-post"), Some("user id"));
        assert_eq!(found("violet-Harbor-Lantern-42"), None);
        // Identifiers shorter than 4 characters are not looked for.
        let short = Identifiers {
            user_id: "u1",
            email: Some("ab@example.com"),
            username: Some("abc"),
        };
        assert_eq!(contained_identifier("xx-abc-ab-u1-xx", &short), None);
    }

    #[test]
    fn the_score_advises_unless_a_floor_is_set() {
        // A password on no list with a low score: accepted, with the warning and feedback.
        let pw = "Harbor1234567890";
        let score = u8::from(zxcvbn::zxcvbn(pw, &[]).score());
        assert!(score < ADVISED_SCORE, "the example scores {score}");
        let r = PasswordPolicy::default().check(pw, &ids());
        assert!(r.errors.is_empty(), "{r:?}");
        assert_eq!(r.warnings[0].code, codes::PASSWORD_COULD_BE_STRONGER);
        assert_eq!(r.warnings[0].metadata[0], ("Score", score.to_string()));
        let floor = PasswordPolicy {
            min_score: score + 1,
            ..PasswordPolicy::default()
        };
        let r = floor.check(pw, &ids());
        assert_eq!(codes_of(&r), vec![codes::PASSWORD_TOO_WEAK]);
        assert!(r.warnings.is_empty());
        let at_floor = PasswordPolicy {
            min_score: score,
            ..PasswordPolicy::default()
        };
        assert!(at_floor.check(pw, &ids()).errors.is_empty());
    }

    #[test]
    fn a_common_password_is_blocklisted_case_insensitively() {
        let policy = lenient();
        for pw in [
            "password1234",
            "PASSWORD1234",
            "1111111111111111",
            "QwertyuiopASDFGH",
        ] {
            assert_eq!(
                list_of(&policy.check(pw, &ids())).as_deref(),
                Some("CommonPasswords"),
                "{pw}"
            );
        }
    }

    #[test]
    fn exactly_the_scores_under_3_are_warned_of() {
        let policy = lenient();
        let mut seen = std::collections::BTreeSet::new();
        for pw in [
            "Harbor1234567890",
            "bluebird2024",
            "summer2020x",
            "abc123xyz9",
            "purple-cat-9",
            "green-river-88",
            "sunny-day-2024",
            "monkey-dog-17",
            "summer2024summer",
            "violet-Harbor-Lantern-42",
        ] {
            let r = policy.check(pw, &ids());
            if !r.errors.is_empty() {
                continue;
            }
            let score = u8::from(
                zxcvbn::zxcvbn(
                    pw,
                    &[ids().user_id, "Jane.Doe@example.com", "janedoe-the-great"],
                )
                .score(),
            );
            seen.insert(score);
            let warned = r
                .warnings
                .iter()
                .any(|w| w.code == codes::PASSWORD_COULD_BE_STRONGER);
            assert_eq!(warned, score < ADVISED_SCORE, "{pw}: score {score}");
        }
        // The examples reach both sides of the boundary, 2 and 3 included.
        for score in [1, 2, 3, 4] {
            assert!(seen.contains(&score), "no example scores {score}: {seen:?}");
        }
    }
}
