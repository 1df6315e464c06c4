//! The account store on DynamoDB (SPEC §5): consistent reads, atomic counters and one
//! conditional `UpdateItem` per change.

use crate::aws::clients::error_chain;
use crate::domain::account::{AccountRecord, AccountStatus, AccountType};
use crate::domain::account_store::{
    AccountStore, Attempt, AttemptLimit, LOCK_PENDING_SECONDS, PasswordChange, Reservation,
    StoreError,
};
use crate::domain::sessions::{MarkerSource, RevocationMarker, SessionIds};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

pub const KEY: &str = "UserId";

/// The DynamoDB adapter of [`AccountStore`].
#[derive(Clone, Debug)]
pub struct DynamoDbAccountStore {
    client: Client,
    table: String,
}

impl DynamoDbAccountStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbAccountStore {
            client,
            table: table.into(),
        }
    }

    fn key(user_id: &str) -> AttributeValue {
        AttributeValue::S(user_id.to_string())
    }

    /// A consistent `GetItem` of the user's item (SPEC §5: reads are consistent), projected
    /// to `projection` (the roles may read nothing else).
    fn get(
        &self,
        user_id: &str,
        projection: &str,
    ) -> aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder {
        let request = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, Self::key(user_id))
            .consistent_read(true)
            .projection_expression(projection);
        if projection.contains("#status") {
            request.expression_attribute_names("#status", "Status")
        } else {
            request
        }
    }

    /// Takes an attempt that neither ends the lock window (fewer than `last` used) nor ends
    /// the failures in a row (fewer than `final_one` in a row), when the account is not
    /// locked; returns how many of the window are used now.
    async fn take_attempt(
        &self,
        user_id: &str,
        last: u32,
        final_one: u32,
        now: i64,
    ) -> Result<u32, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, Self::key(user_id))
            .update_expression(
                "ADD FailedPasswordAttempts :one, ConsecutiveFailedAttempts :one REMOVE PasswordChangeEvent",
            )
            .condition_expression(format!(
                "attribute_exists(UserId) AND {NOT_LOCKED} AND {NOT_HARD_LOCKED} AND (attribute_not_exists(FailedPasswordAttempts) OR FailedPasswordAttempts < :last) AND (attribute_not_exists(ConsecutiveFailedAttempts) OR ConsecutiveFailedAttempts < :final)"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":last", n(last))
            .expression_attribute_values(":final", n(final_one))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem(reserve)", e))?;
        output
            .attributes()
            .and_then(|a| a.get("FailedPasswordAttempts"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Failed("UpdateItem(reserve) returned no count".into()))
    }

    /// Takes the last attempt of the window (at least `last` used, fewer than `final_one` in a
    /// row, not locked, `LockCount` still `lock_count`): the account is locked until `until`,
    /// `LockCount` goes up, and the window's count starts again.
    async fn take_last_attempt(
        &self,
        user_id: &str,
        last: u32,
        final_one: u32,
        lock_count: u32,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        let mut condition =
            format!("attribute_exists(UserId) AND {NOT_LOCKED} AND {NOT_HARD_LOCKED}");
        if last > 0 {
            condition.push_str(" AND FailedPasswordAttempts >= :last");
        }
        condition.push_str(" AND (attribute_not_exists(ConsecutiveFailedAttempts) OR ConsecutiveFailedAttempts < :final)");
        condition.push_str(if lock_count == 0 {
            " AND (attribute_not_exists(LockCount) OR LockCount = :lockCount)"
        } else {
            " AND LockCount = :lockCount"
        });
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, Self::key(user_id))
            .update_expression(
                "SET FailedPasswordAttempts = :zero, LockedUntil = :until, LockPendingUntil = :pending ADD LockCount :one, ConsecutiveFailedAttempts :one REMOVE PasswordChangeEvent",
            )
            .condition_expression(condition)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":final", n(final_one))
            .expression_attribute_values(":lockCount", n(lock_count))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":pending", n(now + LOCK_PENDING_SECONDS))
            .expression_attribute_values(":now", n(now));
        if last > 0 {
            request = request.expression_attribute_values(":last", n(last));
        }
        request
            .send()
            .await
            .map_err(|e| classify("UpdateItem(lock)", e))?;
        Ok(())
    }

    /// Takes the attempt that makes `final_one + 1` wrong passwords in a row (at least
    /// `final_one` before it, not locked): the account is hard-locked at `now`.
    async fn take_final_attempt(
        &self,
        user_id: &str,
        final_one: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        let enough = if final_one == 0 {
            ""
        } else {
            " AND ConsecutiveFailedAttempts >= :final"
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, Self::key(user_id))
            .update_expression(
                "SET FailedPasswordAttempts = :zero, SignInRequiredAfter = :now, LockPendingUntil = :pending ADD ConsecutiveFailedAttempts :one REMOVE PasswordChangeEvent",
            )
            .condition_expression(format!(
                "attribute_exists(UserId) AND {NOT_LOCKED} AND {NOT_HARD_LOCKED}{enough}"
            ))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", n(now + LOCK_PENDING_SECONDS))
            .expression_attribute_values(":now", n(now));
        if final_one > 0 {
            request = request.expression_attribute_values(":final", n(final_one));
        }
        request
            .send()
            .await
            .map_err(|e| classify("UpdateItem(hard lock)", e))?;
        Ok(())
    }
}

/// The attributes of an account record (`Status` is a reserved word: `#status`).
pub const RECORD_PROJECTION: &str = "UserId, PasswordHash, PasswordVersion, PasswordHistory, PreviousPasswordHash, PasswordChangedAt, FailedPasswordAttempts, LockedUntil, LockPendingUntil, LockCount, ConsecutiveFailedAttempts, SignInRequiredAfter, SignInFloor, AccountType, #status, Email, Username, TokensValidAfter, PasswordChangeSession";

/// The condition "not hard-locked".
const NOT_HARD_LOCKED: &str = "attribute_not_exists(SignInRequiredAfter)";

/// The condition "not locked at `:now`".
const NOT_LOCKED: &str = "(attribute_not_exists(LockedUntil) OR LockedUntil <= :now)";

/// `PasswordChangeSession`: the session ids the changing token carried.
fn session_map(session: &SessionIds) -> HashMap<String, AttributeValue> {
    [
        ("jti", &session.jti),
        ("origin_jti", &session.origin_jti),
        ("sid", &session.sid),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_ref()
            .map(|v| (k.to_string(), AttributeValue::S(v.clone())))
    })
    .collect()
}

/// `LastPasswordChange`: what the security event carries (no secret); `Issuer` when known.
fn last_change(change: &PasswordChange) -> AttributeValue {
    let s = |v: &str| AttributeValue::S(v.to_string());
    let mut last = HashMap::from([
        ("RequestId".to_string(), s(&change.origin.request_id)),
        ("SourceIp".to_string(), s(&change.origin.source_ip)),
        ("UserAgent".to_string(), s(&change.origin.user_agent)),
        ("At".to_string(), n(change.now)),
    ]);
    if let Some(issuer) = &change.issuer {
        last.insert("Issuer".to_string(), s(issuer));
    }
    AttributeValue::M(last)
}

/// The marker of the last change, when the item has one.
fn revocation_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<Option<RevocationMarker>, StoreError> {
    let Some(tokens_valid_after) = number_attr(item, "TokensValidAfter")? else {
        return Ok(None);
    };
    let ids = match item.get("PasswordChangeSession") {
        Some(AttributeValue::M(m)) => m.clone(),
        _ => HashMap::new(),
    };
    let id = |k: &str| ids.get(k).and_then(|v| v.as_s().ok()).cloned();
    Ok(Some(RevocationMarker {
        tokens_valid_after,
        session: SessionIds {
            jti: id("jti"),
            origin_jti: id("origin_jti"),
            sid: id("sid"),
        },
    }))
}

/// A settling write whose condition failed has nothing left to do.
fn ignore_condition<T>(result: Result<T, StoreError>) -> Result<(), StoreError> {
    match result {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Error codes that mean "try again later" whatever the operation.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
    "TransactionConflictException",
];

/// Sorts an SDK error into the store's three kinds.
pub(crate) fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{operation}: {}", error_chain(&err)))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            if code == "ConditionalCheckFailedException" {
                StoreError::ConditionFailed
            } else if RETRYABLE_CODES.contains(&code) || code.is_empty() {
                StoreError::Unavailable(format!("{operation}: {code}"))
            } else {
                StoreError::Failed(format!("{operation}: {code}"))
            }
        }
        _ => StoreError::Failed(format!("{operation}: {}", error_chain(&err))),
    }
}

fn string_attr(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
        Some(_) => Err(StoreError::Failed(format!(
            "attribute {name} is not a string"
        ))),
    }
}

pub(crate) fn number_attr<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Failed(format!("attribute {name} is not a valid number"))),
        Some(_) => Err(StoreError::Failed(format!(
            "attribute {name} is not a number"
        ))),
    }
}

/// Reads a record from a DynamoDB item.
pub fn record_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<AccountRecord, StoreError> {
    let history = match item.get("PasswordHistory") {
        None | Some(AttributeValue::Null(_)) => Vec::new(),
        Some(AttributeValue::L(list)) => {
            list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
        }
        Some(_) => {
            return Err(StoreError::Failed(
                "attribute PasswordHistory is not a list".into(),
            ));
        }
    };
    Ok(AccountRecord {
        user_id: string_attr(item, KEY)?.unwrap_or_default(),
        password_hash: string_attr(item, "PasswordHash")?,
        password_version: number_attr(item, "PasswordVersion")?,
        password_history: history,
        previous_password_hash: string_attr(item, "PreviousPasswordHash")?,
        password_changed_at: string_attr(item, "PasswordChangedAt")?,
        failed_attempts: number_attr(item, "FailedPasswordAttempts")?.unwrap_or(0),
        locked_until: number_attr(item, "LockedUntil")?,
        lock_pending_until: number_attr(item, "LockPendingUntil")?,
        lock_count: number_attr(item, "LockCount")?.unwrap_or(0),
        consecutive_failures: number_attr(item, "ConsecutiveFailedAttempts")?.unwrap_or(0),
        sign_in_required_after: number_attr(item, "SignInRequiredAfter")?,
        sign_in_floor: number_attr(item, "SignInFloor")?,
        account_type: AccountType::parse(string_attr(item, "AccountType")?.as_deref()),
        status: AccountStatus::parse(string_attr(item, "Status")?.as_deref()),
        email: string_attr(item, "Email")?,
        username: string_attr(item, "Username")?,
        revocation: revocation_from_item(item)?,
    })
}

impl AccountStore for DynamoDbAccountStore {
    async fn load(&self, user_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let output = self
            .get(user_id, RECORD_PROJECTION)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        output.item().map(record_from_item).transpose()
    }

    async fn reserve_attempt(
        &self,
        user_id: &str,
        limit: AttemptLimit,
    ) -> Result<Reservation, StoreError> {
        // Three updates with disjoint conditions: an ordinary attempt, the one that ends the lock
        // window, the one that ends the failures in a row. A request that loses a race (the
        // state moved under it) reads the account and looks again; three rounds are plenty,
        // since each lost round means another request won.
        let last = limit.threshold.saturating_sub(1);
        let final_one = limit.max_failures.saturating_sub(1);
        let mut lock_count = limit.lock_count;
        for _ in 0..3 {
            if last > 0 && final_one > 0 {
                match self.take_attempt(user_id, last, final_one, limit.now).await {
                    Ok(used) => {
                        return Ok(Reservation::Taken(Attempt {
                            used,
                            lock: None,
                            hard_lock: None,
                        }));
                    }
                    Err(StoreError::ConditionFailed) => {}
                    Err(e) => return Err(e),
                }
            }
            if final_one > 0 {
                let until = limit.now + limit.lock_length(lock_count) as i64;
                match self
                    .take_last_attempt(user_id, last, final_one, lock_count, limit.now, until)
                    .await
                {
                    Ok(()) => {
                        return Ok(Reservation::Taken(Attempt {
                            used: limit.threshold,
                            lock: Some(until),
                            hard_lock: None,
                        }));
                    }
                    Err(StoreError::ConditionFailed) => {}
                    Err(e) => return Err(e),
                }
            }
            match self.take_final_attempt(user_id, final_one, limit.now).await {
                Ok(()) => {
                    return Ok(Reservation::Taken(Attempt {
                        used: limit.threshold,
                        lock: None,
                        hard_lock: Some(limit.now),
                    }));
                }
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
            // No update applied: the account is locked, hard-locked, gone, or changed between.
            let record = self
                .load(user_id)
                .await?
                .ok_or(StoreError::ConditionFailed)?;
            if let Some(since) = record.sign_in_required_after {
                return Ok(match record.lock_pending_until.filter(|p| *p > limit.now) {
                    Some(pending) => Reservation::LockPending(pending),
                    None => Reservation::SignInRequired(since),
                });
            }
            if let Some(until) = record.locked_until.filter(|until| *until > limit.now) {
                return Ok(match record.lock_pending_until.filter(|p| *p > limit.now) {
                    Some(pending) => Reservation::LockPending(pending),
                    None => Reservation::Locked(until),
                });
            }
            lock_count = record.lock_count;
        }
        Err(StoreError::Unavailable(
            "UpdateItem(reserve): the attempt counter kept changing".into(),
        ))
    }

    async fn clear_attempts(&self, user_id: &str, _attempt: Attempt) -> Result<(), StoreError> {
        // A right current password clears every count and lock (SPEC §4 step 6), whichever
        // request set them, the hard lock included.
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, Self::key(user_id))
            .update_expression(
                "SET FailedPasswordAttempts = :zero, ConsecutiveFailedAttempts = :zero, LockCount = :zero REMOVE LockedUntil, LockPendingUntil, SignInRequiredAfter, PasswordChangeEvent",
            )
            .condition_expression("attribute_exists(UserId)")
            .expression_attribute_values(":zero", n(0));
        ignore_condition(
            request
                .send()
                .await
                .map_err(|e| classify("UpdateItem(clear)", e)),
        )
    }

    async fn release_attempt(&self, user_id: &str, attempt: Attempt) -> Result<(), StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, Self::key(user_id))
            .expression_attribute_values(":minusOne", n(-1));
        let request = match (attempt.lock, attempt.hard_lock) {
            (Some(until), _) => request
                .update_expression(
                    "SET FailedPasswordAttempts = :before ADD LockCount :minusOne, ConsecutiveFailedAttempts :minusOne REMOVE LockedUntil, LockPendingUntil, PasswordChangeEvent",
                )
                .condition_expression("LockedUntil = :until")
                .expression_attribute_values(":before", n(attempt.used.saturating_sub(1)))
                .expression_attribute_values(":until", n(until)),
            (None, Some(since)) => request
                .update_expression(
                    "ADD ConsecutiveFailedAttempts :minusOne REMOVE SignInRequiredAfter, LockPendingUntil, PasswordChangeEvent",
                )
                .condition_expression("SignInRequiredAfter = :since")
                .expression_attribute_values(":since", n(since)),
            // Not below zero: a lock set meanwhile by another request restarted the count.
            (None, None) => request
                .update_expression(
                    "ADD FailedPasswordAttempts :minusOne, ConsecutiveFailedAttempts :minusOne REMOVE PasswordChangeEvent",
                )
                .condition_expression(
                    "FailedPasswordAttempts > :zero AND ConsecutiveFailedAttempts > :zero",
                )
                .expression_attribute_values(":zero", n(0)),
        };
        ignore_condition(
            request
                .send()
                .await
                .map_err(|e| classify("UpdateItem(release)", e)),
        )
    }

    async fn confirm_lock(&self, user_id: &str, until: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY, Self::key(user_id))
            .update_expression("REMOVE LockPendingUntil, PasswordChangeEvent")
            .condition_expression("LockedUntil = :until OR SignInRequiredAfter = :until")
            .expression_attribute_values(":until", n(until))
            .send()
            .await
            .map_err(|e| classify("UpdateItem(confirm lock)", e))?;
        Ok(())
    }

    async fn lift_hard_lock(&self, user_id: &str, since: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY, Self::key(user_id))
            .update_expression(
                "SET FailedPasswordAttempts = :zero, ConsecutiveFailedAttempts = :zero, LockCount = :zero, SignInFloor = :since REMOVE SignInRequiredAfter, LockedUntil, LockPendingUntil, PasswordChangeEvent",
            )
            .condition_expression("SignInRequiredAfter = :since")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":since", n(since))
            .send()
            .await
            .map_err(|e| classify("UpdateItem(lift)", e))?;
        Ok(())
    }

    async fn commit(&self, change: &PasswordChange) -> Result<(), StoreError> {
        // Besides the hash: the marker that ends other sessions, what the security event
        // carries, and `PasswordChangeEvent`, which only this write sets (the stream's filter).
        let mut set = String::from(
            "SET PasswordHash = :new, PreviousPasswordHash = :expectedHash, PasswordVersion = :version, PasswordChangedAt = :at, FailedPasswordAttempts = :zero, TokensValidAfter = :now, LastPasswordChange = :last, PasswordChangeEvent = :version",
        );
        let mut remove = String::from(" REMOVE LockedUntil, SignInFloor");
        let session = session_map(&change.session);
        if session.is_empty() {
            remove.push_str(", PasswordChangeSession");
        } else {
            set.push_str(", PasswordChangeSession = :session");
        }
        if change.history.is_empty() {
            remove.push_str(", PasswordHistory");
        } else {
            set.push_str(", PasswordHistory = :history");
        }
        let version_condition = match change.expected_version {
            Some(_) => "PasswordVersion = :expectedVersion",
            None => "attribute_not_exists(PasswordVersion)",
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, Self::key(&change.user_id))
            .update_expression(format!("{set}{remove}"))
            .condition_expression(format!(
                "PasswordHash = :expectedHash AND {version_condition} AND (attribute_not_exists(LockedUntil) OR LockedUntil <= :now)"
            ))
            .expression_attribute_values(":new", AttributeValue::S(change.new_hash.clone()))
            .expression_attribute_values(":version", n(change.new_version))
            .expression_attribute_values(":at", AttributeValue::S(change.changed_at.clone()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":last", last_change(change))
            .expression_attribute_values(":expectedHash", AttributeValue::S(change.expected_hash.clone()))
            .expression_attribute_values(":now", n(change.now));
        if let Some(v) = change.expected_version {
            request = request.expression_attribute_values(":expectedVersion", n(v));
        }
        if !session.is_empty() {
            request = request.expression_attribute_values(":session", AttributeValue::M(session));
        }
        if !change.history.is_empty() {
            request = request.expression_attribute_values(
                ":history",
                AttributeValue::L(
                    change
                        .history
                        .iter()
                        .cloned()
                        .map(AttributeValue::S)
                        .collect(),
                ),
            );
        }
        request
            .send()
            .await
            .map_err(|e| classify("UpdateItem(change)", e))?;
        Ok(())
    }
}

impl MarkerSource for DynamoDbAccountStore {
    async fn marker(&self, user_id: &str) -> Result<Option<RevocationMarker>, StoreError> {
        let output = self
            .get(user_id, "TokensValidAfter, PasswordChangeSession")
            .send()
            .await
            .map_err(|e| classify("GetItem(marker)", e))?;
        match output.item() {
            Some(item) => revocation_from_item(item),
            None => Ok(None),
        }
    }
}

/// Writes a whole record (provisioning and tests); not used by the function itself.
pub async fn put_record(
    client: &Client,
    table: &str,
    record: &AccountRecord,
) -> Result<(), StoreError> {
    let mut item = HashMap::from([(KEY.to_string(), AttributeValue::S(record.user_id.clone()))]);
    let mut s = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            item.insert(k.to_string(), AttributeValue::S(v.clone()));
        }
    };
    s("PasswordHash", &record.password_hash);
    s("PasswordChangedAt", &record.password_changed_at);
    s("PreviousPasswordHash", &record.previous_password_hash);
    s("Email", &record.email);
    s("Username", &record.username);
    match &record.account_type {
        AccountType::User => s("AccountType", &Some("User".into())),
        AccountType::Service => s("AccountType", &Some("Service".into())),
        AccountType::Other(v) => s("AccountType", &Some(v.clone())),
    }
    match &record.status {
        AccountStatus::Active => s("Status", &Some("Active".into())),
        AccountStatus::Disabled => s("Status", &Some("Disabled".into())),
        AccountStatus::Other(v) => s("Status", &Some(v.clone())),
    }
    if let Some(v) = record.password_version {
        item.insert("PasswordVersion".into(), n(v));
    }
    if let Some(v) = record.locked_until {
        item.insert("LockedUntil".into(), n(v));
    }
    if record.failed_attempts > 0 {
        item.insert("FailedPasswordAttempts".into(), n(record.failed_attempts));
    }
    if let Some(marker) = &record.revocation {
        item.insert("TokensValidAfter".into(), n(marker.tokens_valid_after));
        let session = session_map(&marker.session);
        if !session.is_empty() {
            item.insert("PasswordChangeSession".into(), AttributeValue::M(session));
        }
    }
    if !record.password_history.is_empty() {
        item.insert(
            "PasswordHistory".into(),
            AttributeValue::L(
                record
                    .password_history
                    .iter()
                    .cloned()
                    .map(AttributeValue::S)
                    .collect(),
            ),
        );
    }
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| classify("PutItem", e))?;
    Ok(())
}
