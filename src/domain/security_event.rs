//! The security event of a committed change (SPEC §7): the payload of a Security Event Token
//! (RFC 8417) that carries the OpenID CAEP 1.0 `credential-change` event, with the subject as an
//! RFC 9493 subject identifier and every NumericDate a JSON number.
//!
//! Built once from what the change's own write stored (`LastPasswordChange`), and read back by
//! `change-notice`: both sides of the event live here.

use serde_json::{Map, Value, json};

/// The CAEP 1.0 event type of a changed credential (CAEP 1.0 §3.3).
pub const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";

/// What a committed change left for its event: nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedChange {
    pub user_id: String,
    /// The `PasswordVersion` the change wrote.
    pub password_version: u64,
    /// Epoch seconds of the write (`TokensValidAfter`).
    pub at: i64,
    /// The Lambda request id of the change: the event's `jti` and `txn`.
    pub request_id: String,
    pub source_ip: String,
    pub user_agent: String,
    /// The `iss` of the token that made the change, when it named one.
    pub issuer: Option<String>,
}

/// An event (or a stored change) that does not have what a security event needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a credential-change security event: {0}")]
pub struct EventError(pub &'static str);

impl CommittedChange {
    /// The SET payload (SPEC §7). `iat` is the change's time, so every redelivery of one
    /// change is the same document.
    pub fn to_set(&self, event_issuer: &str) -> Value {
        let sub_id = match &self.issuer {
            Some(iss) => json!({"format": "iss_sub", "iss": iss, "sub": self.user_id}),
            None => json!({"format": "opaque", "id": self.user_id}),
        };
        json!({
            "iss": event_issuer,
            "jti": self.request_id,
            "iat": self.at,
            "txn": self.request_id,
            "sub_id": sub_id,
            "events": {
                CREDENTIAL_CHANGE: {
                    "credential_type": "password",
                    "change_type": "update",
                    "initiating_entity": "user",
                    "event_timestamp": self.at,
                }
            },
            "change": {
                "request_id": self.request_id,
                "source_ip": self.source_ip,
                "user_agent": self.user_agent,
                "password_version": self.password_version,
            },
        })
    }

    /// Reads a SET payload built by [`CommittedChange::to_set`] back. Anything else is refused.
    pub fn from_set(set: &Value) -> Result<CommittedChange, EventError> {
        let event = set["events"]
            .get(CREDENTIAL_CHANGE)
            .ok_or(EventError("no credential-change event"))?;
        if event["credential_type"] != "password" {
            return Err(EventError("credential_type is not password"));
        }
        let at = event["event_timestamp"]
            .as_i64()
            .ok_or(EventError("event_timestamp is not a NumericDate"))?;
        let (user_id, issuer) = subject(&set["sub_id"])?;
        let change = &set["change"];
        let text = |v: &Value, what| v.as_str().map(String::from).ok_or(EventError(what));
        let request_id = text(&set["jti"], "no jti")?;
        if request_id.is_empty() {
            return Err(EventError("an empty jti"));
        }
        Ok(CommittedChange {
            user_id,
            password_version: change["password_version"]
                .as_u64()
                .ok_or(EventError("change.password_version is not a number"))?,
            at,
            request_id,
            source_ip: text(&change["source_ip"], "no change.source_ip")?,
            user_agent: text(&change["user_agent"], "no change.user_agent")?,
            issuer,
        })
    }
}

/// The user id (and the token's issuer) of an `iss_sub` or `opaque` subject identifier.
fn subject(sub_id: &Value) -> Result<(String, Option<String>), EventError> {
    let fields: &Map<String, Value> = sub_id.as_object().ok_or(EventError("no sub_id"))?;
    let field = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let (user_id, issuer) = match field("format") {
        Some("iss_sub") => (field("sub"), field("iss").map(String::from)),
        Some("opaque") => (field("id"), None),
        _ => return Err(EventError("sub_id is neither iss_sub nor opaque")),
    };
    let user_id = user_id.ok_or(EventError("sub_id names no subject"))?;
    Ok((user_id.to_string(), issuer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(issuer: Option<&str>) -> CommittedChange {
        CommittedChange {
            user_id: "u-1".into(),
            password_version: 3,
            at: 1_764_288_000,
            request_id: "r-1".into(),
            source_ip: "203.0.113.9".into(),
            user_agent: "agent".into(),
            issuer: issuer.map(String::from),
        }
    }

    #[test]
    fn a_set_reads_back_as_the_change_it_was_built_from() {
        for c in [change(Some("https://issuer.example")), change(None)] {
            assert_eq!(CommittedChange::from_set(&c.to_set("urn:x")).unwrap(), c);
        }
    }

    #[test]
    fn the_subject_is_iss_sub_with_an_issuer_and_opaque_without() {
        let set = change(Some("https://issuer.example")).to_set("urn:x");
        assert_eq!(
            set["sub_id"],
            json!({"format": "iss_sub", "iss": "https://issuer.example", "sub": "u-1"})
        );
        assert!(set.get("sub").is_none());
        let set = change(None).to_set("urn:x");
        assert_eq!(set["sub_id"], json!({"format": "opaque", "id": "u-1"}));
    }

    #[test]
    fn other_documents_are_refused() {
        let good = change(None).to_set("urn:x");
        let broken = |edit: &dyn Fn(&mut Value)| {
            let mut v = good.clone();
            edit(&mut v);
            CommittedChange::from_set(&v).unwrap_err()
        };
        broken(&|v| v["events"] = json!({}));
        broken(&|v| v["events"][CREDENTIAL_CHANGE]["event_timestamp"] = json!("1764288000"));
        broken(&|v| v["change"]["password_version"] = json!("3"));
        broken(&|v| v["sub_id"] = json!({"format": "email", "email": "a@b"}));
        broken(&|v| v["sub_id"] = json!({"format": "opaque", "id": ""}));
        broken(&|v| v["jti"] = json!(""));
        broken(&|v| v["events"][CREDENTIAL_CHANGE]["credential_type"] = json!("fido2-roaming"));
    }
}
