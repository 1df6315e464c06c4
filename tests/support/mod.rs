//! Shared set-up of the tests that talk to a DynamoDB-API server (moto, started by
//! `scripts/with-moto.sh`, which `make test` uses).
#![allow(dead_code)]

pub mod http1;
pub mod issuer;
pub mod log_capture;
pub mod manual_clock;
pub mod notice_store_contract;
pub mod recording_proxy;
pub mod runtime_api;
pub mod scripted_store;
pub mod store_contract;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use change_password::app::{self, App};
use change_password::aws::dynamodb_store::put_record;
use change_password::config::Config;
use change_password::domain::account::AccountRecord;
use change_password::domain::password_hashing::{
    Argon2Hasher, Argon2Settings, PasswordHashing, PepperKeys,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const DEMO_SUB: &str = "7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d";
pub const DEMO_CURRENT: &str = "correct horse battery staple";
pub const DEMO_NEW: &str = "violet-Harbor-Lantern-42";

/// The SDK configuration production uses; the endpoint comes from `AWS_ENDPOINT_URL`.
pub async fn sdk() -> SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "these tests need a DynamoDB-API server: run them with `make test` (scripts/with-moto.sh cargo test)"
    );
    change_password::aws::clients::load().await
}

/// A fresh table with the key schema of template.yaml.
pub async fn new_table(sdk: &SdkConfig) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "users-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    Client::new(sdk)
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("UserId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("UserId")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    name
}

pub fn config(table: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([("USERS_TABLE".into(), table.into())]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("config")
}

pub fn hasher() -> Argon2Hasher {
    Argon2Hasher::new(Argon2Settings::default())
}

/// Seeds the demo user with `password`.
pub async fn seed_demo(sdk: &SdkConfig, table: &str, password: &str) -> AccountRecord {
    let mut record = AccountRecord::new_user(
        DEMO_SUB,
        hasher().hash(password, &PepperKeys::none()).unwrap(),
    );
    record.email = Some("demo@example.com".into());
    record.username = Some("demo".into());
    put_record(&Client::new(sdk), table, &record)
        .await
        .expect("seed");
    record
}

pub async fn app(sdk: &SdkConfig, table: &str) -> Arc<App> {
    app::build(&config(table, &[]), sdk).expect("app")
}

/// A handler (no token verifier) whose DynamoDB client talks to `endpoint` instead of moto.
pub fn handler_at_endpoint(
    sdk: &SdkConfig,
    endpoint: &str,
    table: &str,
) -> Arc<
    change_password::edge::handler::Handler<
        change_password::aws::dynamodb_store::DynamoDbAccountStore,
    >,
> {
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
        .endpoint_url(endpoint)
        .build();
    let store = change_password::aws::dynamodb_store::DynamoDbAccountStore::new(
        Client::from_conf(conf),
        table,
    );
    Arc::new(change_password::edge::handler::Handler::new(
        service_on(Arc::new(store)),
        None,
    ))
}

/// The use case with the default settings and hasher, no pepper, on `store`.
pub fn service_on<S: change_password::domain::account_store::AccountStore>(
    store: Arc<S>,
) -> change_password::domain::change_password::ChangePasswordService<S> {
    use change_password::domain::change_password::{
        ChangePasswordService, ProtectionSettings, system_clock,
    };
    ChangePasswordService::new(
        store,
        Arc::new(hasher()),
        Arc::new(change_password::domain::pepper::StaticPepper::none()),
        change_password::domain::password_policy::PasswordPolicy::default(),
        ProtectionSettings::default(),
        system_clock(),
    )
}

pub fn context(request_id: &str) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_string();
    context
}

/// Sets attributes of the demo user's item directly (as provisioning or another writer would).
pub async fn set_attributes(
    sdk: &SdkConfig,
    table: &str,
    values: &[(&str, aws_sdk_dynamodb::types::AttributeValue)],
) {
    let mut request = Client::new(sdk).update_item().table_name(table).key(
        "UserId",
        aws_sdk_dynamodb::types::AttributeValue::S(DEMO_SUB.into()),
    );
    let mut sets = Vec::new();
    for (i, (name, value)) in values.iter().enumerate() {
        sets.push(format!("#a{i} = :v{i}"));
        request = request
            .expression_attribute_names(format!("#a{i}"), *name)
            .expression_attribute_values(format!(":v{i}"), value.clone());
    }
    request
        .update_expression(format!("SET {}", sets.join(", ")))
        .send()
        .await
        .unwrap();
}

/// What the change `request_id` to version 1 left on the demo item (the notice checks the
/// event against it).
pub async fn committed_version_1(sdk: &aws_config::SdkConfig, table: &str, request_id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    set_attributes(
        sdk,
        table,
        &[
            ("PasswordVersion", AttributeValue::N("1".into())),
            (
                "LastPasswordChange",
                AttributeValue::M(std::collections::HashMap::from([
                    (
                        "RequestId".to_string(),
                        AttributeValue::S(request_id.into()),
                    ),
                    (
                        "SourceIp".to_string(),
                        AttributeValue::S("203.0.113.10".into()),
                    ),
                    (
                        "UserAgent".to_string(),
                        AttributeValue::S("Mozilla/5.0".into()),
                    ),
                    ("At".to_string(), AttributeValue::N("1764288000".into())),
                ])),
            ),
        ],
    )
    .await;
}

/// The raw DynamoDB item.
pub async fn item(
    sdk: &SdkConfig,
    table: &str,
    user_id: &str,
) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    Client::new(sdk)
        .get_item()
        .table_name(table)
        .key(
            "UserId",
            aws_sdk_dynamodb::types::AttributeValue::S(user_id.into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default()
}

pub fn s(
    item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

pub fn n(
    item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A response as API Gateway / ALB would read it.
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Answer {
    pub fn from_lambda(response: &Value) -> Answer {
        let status = response["statusCode"].as_u64().expect("statusCode") as u16;
        let mut headers = HashMap::new();
        if let Some(h) = response.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                headers.insert(
                    k.to_ascii_lowercase(),
                    v.as_str().unwrap_or_default().to_string(),
                );
            }
        }
        if let Some(h) = response.get("multiValueHeaders").and_then(Value::as_object) {
            for (k, v) in h {
                let joined: Vec<&str> = v
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                headers.insert(k.to_ascii_lowercase(), joined.join(","));
            }
        }
        let text = response["body"].as_str().unwrap_or_default();
        let body = serde_json::from_str(text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn error_codes(&self) -> Vec<String> {
        self.body["Errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["Code"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An envelope of `status` with exactly `code` as its error, and for 429 and 503 a
    /// `Retry-After` (SPEC §4).
    pub fn assert_code(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        self.assert_envelope();
        assert_eq!(self.error_codes(), vec![code.to_string()], "{}", self.body);
        if status == 429 || status == 503 {
            assert!(
                self.header("retry-after")
                    .is_some_and(|r| r.parse::<u64>().is_ok()),
                "Retry-After: {:?}",
                self.header("retry-after")
            );
        }
    }

    /// Checks the envelope's shape (SPEC §4) whatever the outcome.
    pub fn assert_envelope(&self) {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{:?}",
            self.headers
        );
        assert!(
            self.body["Errors"].is_array() && self.body["Warnings"].is_array(),
            "{}",
            self.body
        );
        assert!(self.body["Success"].is_boolean());
        assert!(self.body["Data"]["PasswordChanged"].is_boolean());
        for item in self.body["Errors"]
            .as_array()
            .unwrap()
            .iter()
            .chain(self.body["Warnings"].as_array().unwrap())
        {
            for key in [
                "Code", "Message", "Target", "Field", "Metadata", "Type", "Severity",
            ] {
                assert!(item.get(key).is_some(), "item lacks {key}: {item}");
            }
            if let Some(meta) = item["Metadata"].as_object() {
                assert!(meta.values().all(Value::is_string), "{item}");
            }
        }
    }

    /// Checks an RFC 9457 problem.
    pub fn assert_problem(&self, status: u16, request_id: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["type"].is_string()
                && self.body["title"].is_string()
                && self.body["detail"].is_string()
        );
        assert!(
            self.body["instance"]
                .as_str()
                .unwrap()
                .ends_with("/api/workspace/account/change-password")
                || status == 404
        );
        assert_eq!(self.body["traceId"], request_id);
    }
}

pub async fn invoke(app: &Arc<App>, event: Value, request_id: &str) -> Answer {
    let response = app
        .handle_event(event, context(request_id))
        .await
        .expect("an HTTP response");
    Answer::from_lambda(&response)
}

pub fn load_event(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Creates a Secrets Manager secret holding `value`; returns its id.
pub async fn create_secret(sdk: &SdkConfig, name: &str, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
    name.to_string()
}

/// A JWT signed with HS256 under `key`.
pub fn sign_hs256(key: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("sign")
}

/// Now, in epoch seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A fresh table with the seeded demo user, and the app on it.
pub async fn setup() -> (SdkConfig, String, Arc<App>) {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let app = app(&sdk, &table).await;
    (sdk, table, app)
}
