//! The items of the response envelope's `Errors` and `Warnings`, as the core produces them.
//!
//! These are domain facts ("the new password is too short"), not HTTP: the HTTP adapter
//! serialises them into the envelope without changing their meaning.

/// What kind of problem an item describes (`Type` in the envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The input breaks a rule.
    Validation = 0,
    /// Well-formed, but refused.
    Business = 1,
    /// A dependency failed.
    System = 2,
}

/// How serious an item is (`Severity` in the envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info = 0,
    Warning = 1,
    Error = 2,
}

/// The request fields an item can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    CurrentPassword,
    NewPassword,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::CurrentPassword => "CurrentPassword",
            Field::NewPassword => "NewPassword",
        }
    }
}

/// One item of `Errors` or `Warnings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub code: &'static str,
    pub message: String,
    pub field: Option<Field>,
    pub metadata: Vec<(&'static str, String)>,
    pub category: Category,
    pub severity: Severity,
}

impl Issue {
    /// A rule broken by the input (Type 0, Severity 2).
    pub fn validation(
        code: &'static str,
        field: Option<Field>,
        message: impl Into<String>,
    ) -> Self {
        Issue {
            code,
            message: message.into(),
            field,
            metadata: Vec::new(),
            category: Category::Validation,
            severity: Severity::Error,
        }
    }

    /// An advisory note on an accepted input (Type 0, Severity 1).
    pub fn warning(code: &'static str, field: Option<Field>, message: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Warning,
            ..Issue::validation(code, field, message)
        }
    }

    /// A well-formed request refused by a business rule (Type 1, Severity 2).
    pub fn business(code: &'static str, field: Option<Field>, message: impl Into<String>) -> Self {
        Issue {
            category: Category::Business,
            ..Issue::validation(code, field, message)
        }
    }

    /// A failure of a dependency or of the service itself (Type 2, Severity 2).
    pub fn system(code: &'static str, message: impl Into<String>) -> Self {
        Issue {
            category: Category::System,
            ..Issue::validation(code, None, message)
        }
    }

    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.metadata.push((key, value.into()));
        self
    }
}

/// Every `Code` this service can answer with, in one place.
pub mod codes {
    pub const INVALID_REQUEST_BODY: &str = "InvalidRequestBody";
    pub const REQUIRED: &str = "Required";
    pub const PASSWORD_TOO_SHORT: &str = "PasswordTooShort";
    pub const PASSWORD_TOO_LONG: &str = "PasswordTooLong";
    pub const PASSWORD_TOO_WEAK: &str = "PasswordTooWeak";
    pub const PASSWORD_COULD_BE_STRONGER: &str = "PasswordCouldBeStronger";
    pub const PASSWORD_CONTAINS_IDENTIFIER: &str = "PasswordContainsIdentifier";
    pub const PASSWORD_BLOCKLISTED: &str = "PasswordBlocklisted";
    pub const PASSWORD_UNCHANGED: &str = "PasswordUnchanged";
    pub const PASSWORD_REUSED: &str = "PasswordReused";
    pub const CURRENT_PASSWORD_INCORRECT: &str = "CurrentPasswordIncorrect";
    pub const ACCOUNT_NOT_FOUND: &str = "AccountNotFound";
    pub const PASSWORD_CHANGE_CONFLICT: &str = "PasswordChangeConflict";
    pub const ACCOUNT_LOCKED: &str = "AccountLocked";
    pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
    pub const INTERNAL_ERROR: &str = "InternalError";
    pub const TOKEN_IN_QUERY_STRING: &str = "TokenInQueryString";
    pub const PASSWORD_ALREADY_CHANGED: &str = "PasswordAlreadyChanged";
    pub const PASSWORD_BREACHED: &str = "PasswordBreached";
    pub const BREACHED_PASSWORD_CHECK_UNAVAILABLE: &str = "BreachedPasswordCheckUnavailable";

    /// Every code above.
    pub const ALL: &[&str] = &[
        INVALID_REQUEST_BODY,
        REQUIRED,
        PASSWORD_TOO_SHORT,
        PASSWORD_TOO_LONG,
        PASSWORD_TOO_WEAK,
        PASSWORD_COULD_BE_STRONGER,
        PASSWORD_CONTAINS_IDENTIFIER,
        PASSWORD_BLOCKLISTED,
        PASSWORD_UNCHANGED,
        PASSWORD_REUSED,
        CURRENT_PASSWORD_INCORRECT,
        ACCOUNT_NOT_FOUND,
        PASSWORD_CHANGE_CONFLICT,
        ACCOUNT_LOCKED,
        SERVICE_UNAVAILABLE,
        INTERNAL_ERROR,
        TOKEN_IN_QUERY_STRING,
        PASSWORD_ALREADY_CHANGED,
        PASSWORD_BREACHED,
        BREACHED_PASSWORD_CHECK_UNAVAILABLE,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_issue_has_its_type_and_severity() {
        let kinds = [
            Issue::validation("C", None, "m"),
            Issue::warning("C", None, "m"),
            Issue::business("C", None, "m"),
            Issue::system("C", "m"),
        ]
        .map(|i| (i.category, i.severity));
        assert_eq!(
            kinds,
            [
                (Category::Validation, Severity::Error),
                (Category::Validation, Severity::Warning),
                (Category::Business, Severity::Error),
                (Category::System, Severity::Error),
            ]
        );
    }

    #[test]
    fn fields_are_named_as_the_body_names_them() {
        assert_eq!(Field::CurrentPassword.as_str(), "CurrentPassword");
        assert_eq!(Field::NewPassword.as_str(), "NewPassword");
    }
}
