//! Every example response in openapi.yaml is what the function really answers: for each one,
//! the request that produces it is sent, and the status, the `Code`s, `Type`, `Severity`,
//! `Field` and Metadata keys of every item (or a problem's `type`, `title` and `status`) must
//! equal the example's. Messages may differ.

mod support;

use change_password::domain::account::{AccountRecord, AccountType};
use change_password::domain::account_store::{
    AccountStore, Attempt, AttemptLimit, InMemoryAccountStore, PasswordChange, Reservation,
    StoreError,
};
use change_password::domain::change_password::{
    ChangePasswordService, ProtectionSettings, system_clock,
};
use change_password::domain::password_hashing::{
    Argon2Hasher, Argon2Settings, PasswordHashing, PepperKeys,
};
use change_password::domain::password_policy::PasswordPolicy;
use change_password::domain::pepper::StaticPepper;
use change_password::edge::handler::Handler;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use support::*;

/// openapi.yaml as JSON, through the venv's PyYAML.
fn openapi() -> Value {
    let venv =
        std::env::var("VENV").unwrap_or_else(|_| format!("{}/.venv", env!("CARGO_MANIFEST_DIR")));
    let output = std::process::Command::new(format!("{venv}/bin/python"))
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
            &format!("{}/openapi.yaml", env!("CARGO_MANIFEST_DIR")),
        ])
        .output()
        .expect("the venv's python (make venv) with PyYAML");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every example response: (status, example name, body).
fn examples(doc: &Value) -> Vec<(u16, String, Value)> {
    let responses = &doc["paths"]["/api/workspace/account/change-password"]["post"]["responses"];
    let mut out = Vec::new();
    for (status, response) in responses.as_object().unwrap() {
        let status: u16 = status.parse().unwrap();
        for (media, content) in response["content"].as_object().into_iter().flatten() {
            if let Some(example) = content.get("example") {
                out.push((status, media.clone(), example.clone()));
            }
            for (name, example) in content["examples"].as_object().into_iter().flatten() {
                out.push((status, name.clone(), example["value"].clone()));
            }
        }
    }
    out
}

/// What must match: per item, the code, type, severity, field and metadata keys.
fn shape(body: &Value) -> Value {
    if body.get("Errors").is_some() {
        let items = |key: &str| -> Vec<Value> {
            body[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let mut keys: Vec<&str> = i["Metadata"]
                        .as_object()
                        .map(|m| m.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    keys.sort();
                    json!([i["Code"], i["Type"], i["Severity"], i["Field"], keys])
                })
                .collect()
        };
        json!({"Success": body["Success"], "Errors": items("Errors"), "Warnings": items("Warnings")})
    } else {
        json!({"type": body["type"], "title": body["title"], "status": body["status"]})
    }
}

fn event(body: &str) -> Value {
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["body"] = json!(body);
    e
}

fn change(current: &str, new: &str) -> Value {
    event(&json!({"CurrentPassword": current, "NewPassword": new}).to_string())
}

/// A store on which another change always wins the race: the commit finds the record changed.
struct RaceLostStore(InMemoryAccountStore);

impl AccountStore for RaceLostStore {
    async fn load(&self, user_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.0.load(user_id).await
    }
    async fn reserve_attempt(
        &self,
        user_id: &str,
        limit: AttemptLimit,
    ) -> Result<Reservation, StoreError> {
        self.0.reserve_attempt(user_id, limit).await
    }
    async fn clear_attempts(&self, user_id: &str, attempt: Attempt) -> Result<(), StoreError> {
        self.0.clear_attempts(user_id, attempt).await
    }
    async fn release_attempt(&self, user_id: &str, attempt: Attempt) -> Result<(), StoreError> {
        self.0.release_attempt(user_id, attempt).await
    }
    async fn lift_hard_lock(&self, user_id: &str, since: i64) -> Result<(), StoreError> {
        self.0.lift_hard_lock(user_id, since).await
    }
    async fn confirm_lock(&self, user_id: &str, until: i64) -> Result<(), StoreError> {
        self.0.confirm_lock(user_id, until).await
    }
    async fn commit(&self, change: &PasswordChange) -> Result<(), StoreError> {
        let mut record = self.0.get(&change.user_id).unwrap();
        record.password_hash = Some("$argon2id$another-change-won".into());
        record.password_version = Some(record.password_version.unwrap_or(0) + 1);
        self.0.put(record);
        Err(StoreError::ConditionFailed)
    }
}

async fn race_lost() -> Answer {
    let hasher = Arc::new(Argon2Hasher::new(Argon2Settings {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    }));
    let store = RaceLostStore(InMemoryAccountStore::new());
    store.0.put(AccountRecord::new_user(
        DEMO_SUB,
        hasher.hash(DEMO_CURRENT, &PepperKeys::none()).unwrap(),
    ));
    let service = ChangePasswordService::new(
        Arc::new(store),
        hasher,
        Arc::new(StaticPepper::none()),
        PasswordPolicy::default(),
        ProtectionSettings::default(),
        system_clock(),
    );
    let handler = Arc::new(Handler::new(service, None));
    let response = handler
        .handle_event(change(DEMO_CURRENT, DEMO_NEW), context("race"))
        .await
        .unwrap();
    Answer::from_lambda(&response)
}

/// An app that verifies HS256 bearer tokens (key in Secrets Manager), and a token for the demo.
async fn with_tokens(
    sdk: &aws_config::SdkConfig,
    table: &str,
) -> (Arc<change_password::app::App>, String) {
    let key = "an-hs256-key-for-the-openapi-examples-test";
    let secret_id = create_secret(
        sdk,
        &format!("openapi-hs256-{}-{table}", std::process::id()),
        key,
    )
    .await;
    let issuer = "https://issuer.example";
    let app = change_password::app::build(
        &config(
            table,
            &[
                ("JWT_ISSUER", issuer),
                ("JWT_HS256_SECRET_ID", secret_id.as_str()),
            ],
        ),
        sdk,
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"sub": DEMO_SUB, "username": "demo", "token_use": "access",
                        "iss": issuer, "iat": now, "exp": now + 600});
    let token = sign_hs256(key, &claims);
    (app, token)
}

/// Sends the request that produces the example `name` of `status`.
async fn produce(status: u16, name: &str) -> Answer {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let app = app(&sdk, &table).await;
    let put = |record: AccountRecord| {
        let (sdk, table) = (sdk.clone(), table.clone());
        async move {
            change_password::aws::dynamodb_store::put_record(
                &aws_sdk_dynamodb::Client::new(&sdk),
                &table,
                &record,
            )
            .await
            .unwrap()
        }
    };
    match (status, name) {
        (200, "changed") => invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "r").await,
        (200, "changedWithWarning") => {
            let (app, token) = with_tokens(&sdk, &table).await;
            let mut e = load_event("function-url.json");
            e["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
            e["rawQueryString"] = json!(format!("access_token={token}"));
            e["queryStringParameters"] = json!({"access_token": token});
            e["body"] = json!(
                json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW}).to_string()
            );
            e["isBase64Encoded"] = json!(false);
            invoke(&app, e, "r").await
        }
        (200, "alreadyChanged") => {
            invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "first").await;
            invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "retry").await
        }
        (400, "Required") => invoke(&app, event("{}"), "r").await,
        (400, "PasswordTooShort") => invoke(&app, change(DEMO_CURRENT, "k7#Vq!2Lp9Z"), "r").await,
        (400, "PasswordBlocklisted") => {
            invoke(&app, change(DEMO_CURRENT, "qwertyuiopasdfgh"), "r").await
        }
        (400, "InvalidRequestBody") => invoke(&app, event("not json"), "r").await,
        (400, "CurrentPasswordIncorrect") => {
            invoke(&app, change("not the password", DEMO_NEW), "r").await
        }
        (400, "PasswordReused") => {
            invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "first").await;
            invoke(&app, change(DEMO_NEW, DEMO_CURRENT), "back").await
        }
        (401, _) => {
            let mut e = load_event("function-url.json");
            e["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
            invoke(&app, e, "r").await
        }
        (403, _) => {
            let mut record = seeded.clone();
            record.account_type = AccountType::Service;
            put(record).await;
            invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "r").await
        }
        (404, "application/json") => {
            let mut e = change(DEMO_CURRENT, DEMO_NEW);
            e["requestContext"]["authorizer"]["lambda"]["sub"] = json!("nobody-here");
            invoke(&app, e, "r").await
        }
        (404, _) => {
            let mut e = change(DEMO_CURRENT, DEMO_NEW);
            e["rawPath"] = json!("/api/workspace/account/other");
            invoke(&app, e, "r").await
        }
        (405, _) => {
            let mut e = change(DEMO_CURRENT, DEMO_NEW);
            e["requestContext"]["http"]["method"] = json!("GET");
            invoke(&app, e, "r").await
        }
        (409, _) => race_lost().await,
        (413, _) => {
            let big = "x".repeat(17 * 1024);
            invoke(&app, change(DEMO_CURRENT, &big), "r").await
        }
        (415, _) => {
            let mut e = change(DEMO_CURRENT, DEMO_NEW);
            e["headers"]["content-type"] = json!("text/plain");
            invoke(&app, e, "r").await
        }
        (429, _) => {
            for _ in 0..4 {
                invoke(&app, change("not the password", DEMO_NEW), "w").await;
            }
            invoke(&app, change("not the password", DEMO_NEW), "locks").await;
            invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "r").await
        }
        (500, _) => {
            let mut record = seeded.clone();
            // Over the bound on stored hashes: no argon2 runs, 500 InternalError.
            record.password_hash = Some(
                "$argon2id$v=19$m=262145,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
                    .into(),
            );
            put(record).await;
            invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "r").await
        }
        (503, _) => {
            let handler = handler_at_endpoint(&sdk, "http://127.0.0.1:9", &table);
            let response = handler
                .handle_event(change(DEMO_CURRENT, DEMO_NEW), context("r"))
                .await
                .unwrap();
            Answer::from_lambda(&response)
        }
        _ => panic!("openapi.yaml has an example ({status} {name}) this test cannot produce"),
    }
}

#[tokio::test]
async fn every_example_response_is_what_the_function_answers() {
    let doc = openapi();
    let examples = examples(&doc);
    assert!(examples.len() >= 20, "{} examples", examples.len());
    let mut mismatches = BTreeMap::new();
    for (status, name, example) in &examples {
        let answer = produce(*status, name).await;
        let (want, got) = (shape(example), shape(&answer.body));
        if answer.status != *status || want != got {
            mismatches.insert(
                format!("{status} {name}"),
                format!("answered {}: {got}\n  documented: {want}", answer.status),
            );
        }
    }
    assert!(
        mismatches.is_empty(),
        "examples that differ from the real answers:\n{}",
        mismatches
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_servers_name_every_front_door() {
    let doc = openapi();
    let urls: Vec<&str> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    for door in [
        "https://{apiId}.execute-api.{region}.amazonaws.com",
        "https://{apiId}.execute-api.{region}.amazonaws.com/{stage}",
        "https://{urlId}.lambda-url.{region}.on.aws",
    ] {
        assert!(urls.contains(&door), "{door} missing from {urls:?}");
    }
}
