//! Raw event bytes to a response, through the whole handler on the in-memory store.
//! Bytes that are JSON are the event; other bytes become the body of a sample HTTP API event
//! (plain, and base64-flagged). Whatever the input: no panic, and never a 5xx.
#![no_main]

use change_password::domain::account::AccountRecord;
use change_password::domain::account_store::InMemoryAccountStore;
use change_password::domain::change_password::{ChangePasswordService, ProtectionSettings, system_clock};
use change_password::edge::handler::Handler;
use change_password::domain::password_hashing::{Argon2Hasher, Argon2Settings, PasswordHashing, PepperKeys};
use change_password::domain::password_policy::PasswordPolicy;
use change_password::domain::pepper::StaticPepper;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

const USER: &str = "7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d";
const SAMPLE: &str = include_str!("../../events/apigw-http-jwt.json");

struct World {
    rt: tokio::runtime::Runtime,
    handler: Arc<Handler<InMemoryAccountStore>>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        // Small argon2 parameters: the fuzzer looks for crashes, not for hashing cost.
        let hasher = Arc::new(Argon2Hasher::new(Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 }));
        let store = Arc::new(InMemoryAccountStore::new());
        store.put(AccountRecord::new_user(USER, hasher.hash("correct horse battery staple", &PepperKeys::none()).unwrap()));
        let service = ChangePasswordService::new(
            store,
            hasher,
            Arc::new(StaticPepper::none()),
            PasswordPolicy::default(),
            ProtectionSettings { lockout_threshold: 0, ..ProtectionSettings::default() },
            system_clock(),
        );
        World {
            rt: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
            handler: Arc::new(Handler::new(service, None)),
        }
    })
}

fn check(event: Value) {
    let w = world();
    let mut context = lambda_runtime::Context::default();
    context.request_id = "fuzz".into();
    if let Ok(response) = w.rt.block_on(w.handler.handle_event(event, context)) {
        let status = response["statusCode"].as_u64().unwrap_or(0);
        assert!((200..500).contains(&status), "status {status}: {response}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Value>(data) {
        check(event);
    }
    let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
    event["isBase64Encoded"] = json!(false);
    event["body"] = json!(String::from_utf8_lossy(data));
    check(event.clone());
    event["isBase64Encoded"] = json!(true);
    check(event);
});
