//! A record of the users table's stream (DynamoDB JSON, as a pipe or Lambda receives it) read
//! as the committed change it carries: the key, `PasswordVersion` and `LastPasswordChange` of
//! its new image. The security-event pipe's filter passes only the records of a change's write.

use crate::domain::security_event::{CommittedChange, EventError};
use serde_json::Value;

/// The change a stream record carries, or why it carries none.
pub fn committed_change(record: &Value) -> Result<CommittedChange, EventError> {
    let image = &record["dynamodb"]["NewImage"];
    if !image.is_object() {
        return Err(EventError("the record has no new image"));
    }
    let last = &image["LastPasswordChange"]["M"];
    let text = |v: &Value, what| v["S"].as_str().map(String::from).ok_or(EventError(what));
    let number = |v: &Value, what| {
        v["N"]
            .as_str()
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or(EventError(what))
    };
    let user_id = text(&record["dynamodb"]["Keys"]["UserId"], "no UserId key")?;
    let version = number(&image["PasswordVersion"], "no PasswordVersion")?;
    Ok(CommittedChange {
        user_id,
        password_version: u64::try_from(version)
            .map_err(|_| EventError("a negative PasswordVersion"))?,
        at: number(&last["At"], "no LastPasswordChange.At")?,
        request_id: text(&last["RequestId"], "no LastPasswordChange.RequestId")?,
        source_ip: text(&last["SourceIp"], "no LastPasswordChange.SourceIp")?,
        user_agent: text(&last["UserAgent"], "no LastPasswordChange.UserAgent")?,
        issuer: last["Issuer"]["S"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from),
    })
}

/// The security events of a pipe's batch (an array of records; one record alone is a batch of
/// one), in order: one per record, or an error naming the first record that carries no change
/// (by its place in the batch: a record holds the password hash, so none of it is shown).
pub fn security_events(batch: &Value, issuer: &str) -> Result<Vec<Value>, BatchError> {
    let records = match batch {
        Value::Array(records) => records.as_slice(),
        record => std::slice::from_ref(record),
    };
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            committed_change(record)
                .map(|change| change.to_set(issuer))
                .map_err(|problem| BatchError { index, problem })
        })
        .collect()
}

/// A record of the batch that carries no change.
#[derive(Debug, thiserror::Error)]
#[error("record {index} of the batch: {problem}")]
pub struct BatchError {
    pub index: usize,
    pub problem: EventError,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Value {
        json!({"eventName": "MODIFY", "dynamodb": {
            "Keys": {"UserId": {"S": "u-1"}},
            "NewImage": {"UserId": {"S": "u-1"}, "PasswordVersion": {"N": "4"},
                "PasswordHash": {"S": "$argon2id$secret"},
                "LastPasswordChange": {"M": {"RequestId": {"S": "r-9"},
                    "SourceIp": {"S": "198.51.100.7"}, "UserAgent": {"S": "ua"},
                    "At": {"N": "1764288000"}, "Issuer": {"S": "https://iss"}}}}}})
    }

    #[test]
    fn reads_the_change_and_nothing_else() {
        let c = committed_change(&record()).unwrap();
        assert_eq!(
            c,
            CommittedChange {
                user_id: "u-1".into(),
                password_version: 4,
                at: 1_764_288_000,
                request_id: "r-9".into(),
                source_ip: "198.51.100.7".into(),
                user_agent: "ua".into(),
                issuer: Some("https://iss".into()),
            }
        );
    }

    #[test]
    fn a_batch_gives_one_event_per_record_or_fails_whole() {
        let events = security_events(&json!([record(), record()]), "urn:x").unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["iss"], "urn:x");
        assert_eq!(security_events(&record(), "urn:x").unwrap().len(), 1);
        let err = security_events(&json!([record(), {"dynamodb": {}}]), "urn:x").unwrap_err();
        assert_eq!(err.index, 1);
        assert!(!err.to_string().contains("argon2"));
    }

    #[test]
    fn a_record_without_the_change_is_refused() {
        for path in ["PasswordVersion", "LastPasswordChange"] {
            let mut r = record();
            r["dynamodb"]["NewImage"]
                .as_object_mut()
                .unwrap()
                .remove(path);
            assert!(committed_change(&r).is_err(), "{path}");
        }
        let mut r = record();
        r["dynamodb"]["NewImage"]["LastPasswordChange"]["M"]
            .as_object_mut()
            .unwrap()
            .remove("Issuer");
        assert_eq!(committed_change(&r).unwrap().issuer, None);
        assert!(committed_change(&json!({"dynamodb": {}})).is_err());
    }
}
