//! The notice store on DynamoDB: the progress of a change's notice on the account's own item
//! (`NoticeDeliveries`, `NoticeSentVersion`; SPEC §5). One consistent `GetItem` projected to what
//! `change-notice` reads, and one conditional `UpdateItem` per step. Every write also removes
//! `PasswordChangeEvent`, so that none of them matches the security-event pipe's filter.

use crate::aws::dynamodb_store::{KEY, classify, n, number_attr};
use crate::domain::account_store::StoreError;
use crate::domain::change_notice::{Deliveries, LastChange, NoticeState, NoticeStore};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// The attributes `change-notice` reads.
pub const PROJECTION: &str = "Email, NotificationEmails, NoticeSentVersion, NoticeDeliveries, PasswordVersion, LastPasswordChange";

/// `NoticeSentVersion` is below `:v` (or absent).
const NOT_SENT: &str = "(attribute_not_exists(NoticeSentVersion) OR NoticeSentVersion < :v)";
/// The notice of `:v` is under way.
const UNDER_WAY: &str = "NoticeDeliveries.Version = :v";

#[derive(Clone, Debug)]
pub struct DynamoDbNoticeStore {
    client: Client,
    table: String,
}

impl DynamoDbNoticeStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbNoticeStore {
            client,
            table: table.into(),
        }
    }

    fn update(
        &self,
        user_id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(user_id.to_string()))
    }
}

async fn run(
    operation: &'static str,
    request: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
) -> Result<(), StoreError> {
    request
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(operation, e))
}

impl NoticeStore for DynamoDbNoticeStore {
    async fn state(&self, user_id: &str) -> Result<Option<NoticeState>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(user_id.to_string()))
            .consistent_read(true)
            .projection_expression(PROJECTION)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        // A projection of an item that exists but has none of the attributes is empty too:
        // such an account has no address and nothing sent, which reads the same.
        Ok(Some(state_from_item(&item)?))
    }

    async fn start(&self, user_id: &str, version: u64) -> Result<(), StoreError> {
        let fresh = AttributeValue::M(HashMap::from([
            ("Version".to_string(), n(version)),
            ("Sent".to_string(), AttributeValue::M(HashMap::new())),
            ("Claims".to_string(), AttributeValue::M(HashMap::new())),
        ]));
        run(
            "UpdateItem",
            self.update(user_id)
                .update_expression("SET NoticeDeliveries = :fresh REMOVE PasswordChangeEvent")
                .condition_expression(format!(
                    "attribute_exists(UserId) AND {NOT_SENT} AND (attribute_not_exists(NoticeDeliveries) OR NoticeDeliveries.Version < :v)"
                ))
                .expression_attribute_values(":fresh", fresh)
                .expression_attribute_values(":v", n(version)),
        )
        .await
    }

    async fn claim(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        run(
            "UpdateItem",
            self.update(user_id)
                .update_expression("SET NoticeDeliveries.Claims.#a = :until REMOVE PasswordChangeEvent")
                .condition_expression(format!(
                    "{UNDER_WAY} AND attribute_not_exists(NoticeDeliveries.Sent.#a) AND (attribute_not_exists(NoticeDeliveries.Claims.#a) OR NoticeDeliveries.Claims.#a < :now)"
                ))
                .expression_attribute_names("#a", address)
                .expression_attribute_values(":v", n(version))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":until", n(until)),
        )
        .await
    }

    async fn release(&self, user_id: &str, version: u64, address: &str) -> Result<(), StoreError> {
        run(
            "UpdateItem",
            self.update(user_id)
                .update_expression("REMOVE NoticeDeliveries.Claims.#a, PasswordChangeEvent")
                .condition_expression(UNDER_WAY)
                .expression_attribute_names("#a", address)
                .expression_attribute_values(":v", n(version)),
        )
        .await
    }

    async fn sent(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        run(
            "UpdateItem",
            self.update(user_id)
                .update_expression(
                    "SET NoticeDeliveries.Sent.#a = :now REMOVE NoticeDeliveries.Claims.#a, PasswordChangeEvent",
                )
                .condition_expression(UNDER_WAY)
                .expression_attribute_names("#a", address)
                .expression_attribute_values(":v", n(version))
                .expression_attribute_values(":now", n(now)),
        )
        .await
    }

    async fn finish(&self, user_id: &str, version: u64) -> Result<(), StoreError> {
        run(
            "UpdateItem",
            self.update(user_id)
                .update_expression(
                    "SET NoticeSentVersion = :v REMOVE NoticeDeliveries, PasswordChangeEvent",
                )
                .condition_expression(format!(
                    "attribute_exists(UserId) AND {NOT_SENT} AND (attribute_not_exists(NoticeDeliveries) OR {UNDER_WAY})"
                ))
                .expression_attribute_values(":v", n(version)),
        )
        .await
    }
}

fn state_from_item(item: &HashMap<String, AttributeValue>) -> Result<NoticeState, StoreError> {
    let mut addresses = Vec::new();
    if let Some(AttributeValue::S(email)) = item.get("Email") {
        addresses.push(email.clone());
    }
    match item.get("NotificationEmails") {
        Some(AttributeValue::L(list)) => {
            addresses.extend(list.iter().filter_map(|v| v.as_s().ok().cloned()))
        }
        Some(AttributeValue::Ss(set)) => addresses.extend(set.iter().cloned()),
        _ => {}
    }
    let deliveries = match item.get("NoticeDeliveries") {
        Some(AttributeValue::M(m)) => Some(deliveries_from(m)?),
        _ => None,
    };
    let last_change = match item.get("LastPasswordChange") {
        Some(AttributeValue::M(m)) => {
            let text = |k: &str| {
                m.get(k)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            Some(LastChange {
                request_id: text("RequestId"),
                source_ip: text("SourceIp"),
                user_agent: text("UserAgent"),
                at: number_attr(m, "At")?.unwrap_or(0),
            })
        }
        _ => None,
    };
    Ok(NoticeState {
        addresses,
        sent_version: number_attr(item, "NoticeSentVersion")?,
        deliveries,
        password_version: number_attr(item, "PasswordVersion")?.unwrap_or(0),
        last_change,
    })
}

fn deliveries_from(m: &HashMap<String, AttributeValue>) -> Result<Deliveries, StoreError> {
    let version = number_attr(m, "Version")?
        .ok_or_else(|| StoreError::Failed("NoticeDeliveries has no Version".into()))?;
    let map = |k: &str| match m.get(k) {
        Some(AttributeValue::M(inner)) => inner.clone(),
        _ => HashMap::new(),
    };
    let claims = map("Claims")
        .into_iter()
        .map(|(address, until)| {
            let until = until.as_n().ok().and_then(|v| v.parse().ok()).unwrap_or(0);
            (address, until)
        })
        .collect();
    Ok(Deliveries {
        version,
        sent: map("Sent").into_keys().collect(),
        claims,
    })
}
