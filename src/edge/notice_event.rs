//! `change-notice`'s edge: the EventBridge event in (its detail the security event of SPEC §7),
//! the notice delivered, what happened logged and counted. An error fails the invocation, so
//! that Lambda retries it and, at the end, sends it to the dead-letter queue.

use crate::domain::change_notice::{ChangeNotifier, Mailer, NoticeError, NoticeStore, Outcome};
use crate::domain::security_event::{CommittedChange, EventError};
use crate::edge::metrics::{Metric, emit_count};
use serde_json::{Value, json};

/// The event's source and detail-type (SPEC §7).
pub const SOURCE: &str = "change-password";
pub const DETAIL_TYPE: &str = "Password Changed";

#[derive(Debug, thiserror::Error)]
pub enum NoticeEventError {
    #[error("not a Password Changed event of change-password")]
    NotOurs,
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Notice(#[from] NoticeError),
}

impl From<NoticeEventError> for lambda_runtime::Diagnostic {
    fn from(e: NoticeEventError) -> Self {
        let error_type = match &e {
            NoticeEventError::NotOurs
            | NoticeEventError::Event(_)
            | NoticeEventError::Notice(NoticeError::NotTheAccountsChange) => {
                "NotAPasswordChangedEvent"
            }
            NoticeEventError::Notice(NoticeError::Mail(_)) => "NoticeNotSent",
            NoticeEventError::Notice(NoticeError::Store(_)) => "NoticeStoreUnavailable",
            NoticeEventError::Notice(_) => "NoticeInProgress",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: e.to_string(),
        }
    }
}

/// Delivers the notice of the change an EventBridge event carries.
pub async fn handle<S: NoticeStore, M: Mailer>(
    notifier: &ChangeNotifier<S, M>,
    event: &Value,
) -> Result<Value, NoticeEventError> {
    let result = deliver(notifier, event).await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "the notice was not delivered; the invocation fails");
        emit_count(Metric::NoticeFailed, 1);
    }
    result
}

async fn deliver<S: NoticeStore, M: Mailer>(
    notifier: &ChangeNotifier<S, M>,
    event: &Value,
) -> Result<Value, NoticeEventError> {
    if event["source"] != SOURCE || event["detail-type"] != DETAIL_TYPE {
        return Err(NoticeEventError::NotOurs);
    }
    let change = CommittedChange::from_set(&event["detail"])?;
    let outcome = notifier.deliver(&change).await?;
    let (name, sent) = match outcome {
        Outcome::Sent { sent, already } => {
            emit_count(Metric::NoticeSent, sent);
            tracing::info!(jti = %change.request_id, version = change.password_version, sent, already, "notice sent");
            ("Sent", sent)
        }
        Outcome::AlreadySent | Outcome::Superseded => {
            emit_count(Metric::NoticeDuplicate, 1);
            tracing::info!(jti = %change.request_id, version = change.password_version, ?outcome, "nothing to send");
            ("AlreadySent", 0)
        }
        Outcome::NoAddress => {
            emit_count(Metric::NoticeWithoutAddress, 1);
            tracing::warn!(jti = %change.request_id, version = change.password_version, "the account has no address for the change notice");
            ("NoAddress", 0)
        }
        Outcome::NoAccount => {
            emit_count(Metric::NoticeAccountMissing, 1);
            tracing::warn!(jti = %change.request_id, "the account of the change no longer exists");
            ("NoAccount", 0)
        }
    };
    Ok(json!({"outcome": name, "sent": sent, "jti": change.request_id}))
}
