//! Telling the account owner of a change (SPEC §7; NIST SP 800-63B-4 §4.6, OWASP ASVS 5.0
//! V6.3.7): one email to every address of the account, exactly once per change and address.
//!
//! Delivery of the event is at least once, and invocations may overlap. Progress is kept on the
//! account (`NoticeDeliveries`: the version being notified, the addresses sent, the addresses
//! claimed): an address is claimed by a conditional write before its send, so two deliveries of
//! one event never both send it; a failed send gives its claim back and fails the invocation,
//! whose retry sends only what is missing. When every address is sent, `NoticeSentVersion`
//! takes the version and the progress is dropped: a redelivered or older event sends nothing.

pub mod message;
pub mod store;

use crate::domain::account_store::StoreError;
use crate::domain::security_event::CommittedChange;
use message::{NoticeMessage, NoticeSettings};
use std::future::Future;
use std::sync::Arc;

/// How long a claim on an address holds before another delivery may take it over (a process
/// that died between its claim and its send).
pub const CLAIM_SECONDS: i64 = 120;

/// How often one delivery reads the account again after losing a conditional write.
const MAX_ROUNDS: usize = 8;

/// What the account says about its notices (one consistent read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeState {
    /// `Email`, then `NotificationEmails`, as stored.
    pub addresses: Vec<String>,
    /// `NoticeSentVersion`.
    pub sent_version: Option<u64>,
    /// `NoticeDeliveries`: the notice under way.
    pub deliveries: Option<Deliveries>,
    /// `PasswordVersion`, and the `LastPasswordChange` the account's own last change wrote:
    /// what an event is checked against, and what the notice says.
    pub password_version: u64,
    pub last_change: Option<LastChange>,
}

/// `LastPasswordChange` as the account holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastChange {
    pub request_id: String,
    pub source_ip: String,
    pub user_agent: String,
    pub at: i64,
}

/// The progress of the notice of one password version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries {
    pub version: u64,
    /// Addresses sent.
    pub sent: Vec<String>,
    /// Addresses claimed, with the epoch second their claim ends.
    pub claims: Vec<(String, i64)>,
}

/// The notice store port. Each method is one atomic conditional write;
/// [`StoreError::ConditionFailed`] when its condition does not hold.
pub trait NoticeStore: Send + Sync + 'static {
    /// One consistent read; `None` when there is no account.
    fn state(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<NoticeState>, StoreError>> + Send;

    /// Starts the notice of `version`: if nothing at `version` or later is sent or under way.
    fn start(
        &self,
        user_id: &str,
        version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims `address` until `until`: if `version` is under way, `address` is not sent, and
    /// any other claim on it ended before `now`.
    fn claim(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives a claim back (its send failed): if `version` is under way.
    fn release(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records `address` as sent: if `version` is under way.
    fn sent(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// `NoticeSentVersion` = `version`, the progress dropped: if no later version is sent and
    /// no other version is under way.
    fn finish(
        &self,
        user_id: &str,
        version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Why an email was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the email was not sent: {0}")]
pub struct MailError(pub String);

/// The mail port: one email to one address.
pub trait Mailer: Send + Sync + 'static {
    fn send(
        &self,
        to: &str,
        message: &NoticeMessage,
    ) -> impl Future<Output = Result<(), MailError>> + Send;
}

/// A notice that must be tried again (the invocation fails).
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
    /// The event names no change the account made (a forged or foreign event): nothing is sent
    /// and nothing recorded.
    #[error("the event does not match the account's last change")]
    NotTheAccountsChange,
    /// Another delivery of the same event holds a claim on an address.
    #[error("another delivery of this notice is sending it")]
    InProgressElsewhere,
    #[error("the notice's progress kept changing under this delivery")]
    TooMuchContention,
}

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Emails sent now (and addresses an earlier delivery had sent already).
    Sent { sent: usize, already: usize },
    /// The notice of this version, or of a later one, was sent before: nothing sent.
    AlreadySent,
    /// A later version's notice is under way: this older event sends nothing.
    Superseded,
    /// The account has no usable address: logged and counted, nothing sent.
    NoAddress,
    /// The account no longer exists.
    NoAccount,
}

pub type EpochClock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_epoch_clock() -> EpochClock {
    Arc::new(|| time::OffsetDateTime::now_utc().unix_timestamp())
}

/// The use case: deliver the notice of one committed change.
pub struct ChangeNotifier<S, M> {
    store: S,
    mailer: M,
    settings: NoticeSettings,
    clock: EpochClock,
}

impl<S: NoticeStore, M: Mailer> ChangeNotifier<S, M> {
    pub fn new(store: S, mailer: M, settings: NoticeSettings, clock: EpochClock) -> Self {
        ChangeNotifier {
            store,
            mailer,
            settings,
            clock,
        }
    }

    pub async fn deliver(&self, change: &CommittedChange) -> Result<Outcome, NoticeError> {
        let (user, version) = (change.user_id.as_str(), change.password_version);
        for _ in 0..MAX_ROUNDS {
            let Some(state) = self.store.state(user).await? else {
                return Ok(Outcome::NoAccount);
            };
            // Only the account's own last change is told, in the words the account holds: an
            // event from anyone else who can publish on the bus sends and records nothing.
            if version < state.password_version {
                return Ok(Outcome::Superseded);
            }
            let told = match &state.last_change {
                Some(last)
                    if version == state.password_version
                        && last.request_id == change.request_id =>
                {
                    CommittedChange {
                        source_ip: last.source_ip.clone(),
                        user_agent: last.user_agent.clone(),
                        at: last.at,
                        ..change.clone()
                    }
                }
                _ => return Err(NoticeError::NotTheAccountsChange),
            };
            let message = NoticeMessage::for_change(&told, &self.settings);
            if state.sent_version.is_some_and(|v| v >= version) {
                return Ok(Outcome::AlreadySent);
            }
            let addresses = recipients(&state.addresses);
            let progress = match &state.deliveries {
                Some(d) if d.version > version => return Ok(Outcome::Superseded),
                Some(d) if d.version == version => d.clone(),
                _ => {
                    match self.store.start(user, version).await {
                        Ok(()) | Err(StoreError::ConditionFailed) => {}
                        Err(e) => return Err(e.into()),
                    }
                    continue;
                }
            };
            let missing: Vec<&String> = addresses
                .iter()
                .filter(|a| !progress.sent.contains(a))
                .collect();
            let mut sent = 0;
            for address in &missing {
                match self.send_one(user, version, address, &message).await? {
                    Step::Sent => sent += 1,
                    Step::SentElsewhere => {}
                }
            }
            match self.store.finish(user, version).await {
                Ok(()) | Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
            if addresses.is_empty() {
                return Ok(Outcome::NoAddress);
            }
            return Ok(Outcome::Sent {
                sent,
                already: addresses.len() - missing.len(),
            });
        }
        Err(NoticeError::TooMuchContention)
    }

    /// Claims, sends and records one address.
    async fn send_one(
        &self,
        user: &str,
        version: u64,
        address: &str,
        message: &NoticeMessage,
    ) -> Result<Step, NoticeError> {
        let now = (self.clock)();
        match self
            .store
            .claim(user, version, address, now, now + CLAIM_SECONDS)
            .await
        {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => {
                return self.why_not_claimed(user, version, address).await;
            }
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = self.mailer.send(address, message).await {
            // The claim goes back so that the retry need not wait for it to end.
            if let Err(release) = self.store.release(user, version, address).await {
                tracing::warn!(error = %release, "a claim could not be given back; it ends by itself");
            }
            return Err(e.into());
        }
        self.store
            .sent(user, version, address, (self.clock)())
            .await?;
        Ok(Step::Sent)
    }

    /// A claim was refused: sent by another delivery (fine), claimed by one (retry later).
    async fn why_not_claimed(
        &self,
        user: &str,
        version: u64,
        address: &str,
    ) -> Result<Step, NoticeError> {
        let state = self.store.state(user).await?.unwrap_or_default();
        if state.sent_version.is_some_and(|v| v >= version) {
            return Ok(Step::SentElsewhere);
        }
        match state.deliveries {
            Some(d) if d.version == version && d.sent.iter().any(|a| a == address) => {
                Ok(Step::SentElsewhere)
            }
            Some(d) if d.version > version => Ok(Step::SentElsewhere),
            _ => Err(NoticeError::InProgressElsewhere),
        }
    }
}

enum Step {
    Sent,
    SentElsewhere,
}

/// The addresses to notify: `Email` and `NotificationEmails` trimmed, lower-cased, each once,
/// in order; anything that is not a plain `local@domain` address is left out (and logged).
pub fn recipients(stored: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in stored {
        let address = raw.trim().to_lowercase();
        if !plain_address(&address) {
            tracing::warn!("an address on the account is not a plain email address: skipped");
            continue;
        }
        if !out.contains(&address) {
            out.push(address);
        }
    }
    out
}

/// `local@domain`: one `@`, both sides non-empty, a dot in the domain, no white space, control
/// characters or the separators a mail header would read as more than one address.
pub fn plain_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && address
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>()[],;:\"\\".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_plain_addresses_each_once() {
        let stored = [
            " Ana@Example.com ",
            "ana@example.com",
            "bob@example.net",
            "not-an-address",
            "x@y",
            "a@b.com, c@d.com",
            "eve@example.com\r\nBcc: x@y.z",
            "",
        ]
        .map(String::from);
        assert_eq!(
            recipients(&stored),
            vec!["ana@example.com".to_string(), "bob@example.net".to_string()]
        );
    }
}
