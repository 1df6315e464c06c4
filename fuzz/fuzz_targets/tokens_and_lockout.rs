//! Raw event bytes to a response with the token verifier and the lockout on: bearer tokens
//! (header and query), authorizer claims and the attempt counter are all parsed and used.
//! Bytes that are JSON are the event; other bytes become a bearer token and a body of the
//! function URL sample. Whatever the input: no panic, and never a 500 (a 503 is allowed: a
//! token naming an RS256 key needs the JWKS, which is unreachable here by design).
#![no_main]

use change_password::auth::jwks::JwksCache;
use change_password::auth::token_verifier::{KeyFuture, SharedKeySource, TokenVerifier};
use change_password::domain::account::AccountRecord;
use change_password::domain::account_store::InMemoryAccountStore;
use change_password::domain::change_password::{ChangePasswordService, ProtectionSettings, system_clock};
use change_password::domain::password_hashing::{Argon2Hasher, Argon2Settings, PasswordHashing, PepperKeys};
use change_password::domain::password_policy::PasswordPolicy;
use change_password::domain::pepper::StaticPepper;
use change_password::edge::handler::Handler;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

const USER: &str = "7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d";
const SAMPLE: &str = include_str!("../../events/function-url.json");
/// The HS256 key of the seeds in corpus/tokens_and_lockout (a fuzzing fixture, nothing else).
const KEY: &[u8] = b"fuzzing-only-hs256-key-0123456789abcdef";

struct Key;

impl SharedKeySource for Key {
    fn key(&self) -> KeyFuture<'_> {
        Box::pin(async { Ok(Arc::new(KEY.to_vec())) })
    }
}

struct World {
    rt: tokio::runtime::Runtime,
    handler: Arc<Handler<InMemoryAccountStore>>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let hasher = Arc::new(Argon2Hasher::new(Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 }));
        let store = Arc::new(InMemoryAccountStore::new());
        store.put(AccountRecord::new_user(USER, hasher.hash("correct horse battery staple", &PepperKeys::none()).unwrap()));
        let service = ChangePasswordService::new(
            store,
            hasher,
            Arc::new(StaticPepper::none()),
            PasswordPolicy::default(),
            // The lockout on, with a lock short enough that the verify path stays reachable.
            ProtectionSettings { lockout_threshold: 3, lockout_seconds: 1, history_depth: 2 },
            system_clock(),
        );
        let jwks = JwksCache::new("http://127.0.0.1:9/jwks.json".parse().unwrap()).unwrap();
        let verifier = TokenVerifier::new(
            "https://issuer.example".into(),
            vec!["fuzz-client".into()],
            jwks,
            Some(Box::new(Key)),
        );
        World {
            rt: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
            handler: Arc::new(
                Handler::new(service, Some(verifier)).with_audience(vec!["fuzz-client".into()]),
            ),
        }
    })
}

fn check(event: Value) {
    let w = world();
    let mut context = lambda_runtime::Context::default();
    context.request_id = "fuzz".into();
    if let Ok(response) = w.rt.block_on(w.handler.handle_event(event, context)) {
        let status = response["statusCode"].as_u64().unwrap_or(0);
        assert!((200..500).contains(&status) || status == 503, "status {status}: {response}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Value>(data) {
        check(event);
        return;
    }
    let text = String::from_utf8_lossy(data);
    let (token, body) = text.split_once('\n').unwrap_or((&text, ""));
    let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
    event["isBase64Encoded"] = json!(false);
    event["body"] = json!(body);
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    check(event.clone());
    // The same token in the query string.
    event["headers"].as_object_mut().unwrap().remove("authorization");
    event["rawQueryString"] = json!(format!("access_token={token}"));
    event["queryStringParameters"] = json!({"access_token": token});
    check(event);
});
