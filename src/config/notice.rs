//! `change-notice`'s configuration (`USERS_TABLE`, `NOTICE_*`) and `security-event`'s
//! (`SECURITY_EVENT_ISSUER`), SPEC §6.

use super::{ConfigError, Env, bad};
use crate::domain::change_notice::message::NoticeSettings;
use crate::domain::change_notice::plain_address;

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
        let env = Env::new(&lookup);
        let get = |name: &'static str, what: &str| env.required(name, what);
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
    let issuer =
        Env::new(&lookup).required("SECURITY_EVENT_ISSUER", "the iss of the security event")?;
    // RFC 8417 §2.2: `iss` is a StringOrURI; one with a colon must be a URI.
    if issuer.contains(':') && url::Url::parse(&issuer).is_err() {
        return Err(bad("SECURITY_EVENT_ISSUER", "must be a URI"));
    }
    Ok(issuer)
}
