//! Criterion benchmarks: one argon2 hash, one verify, the whole handler on the in-memory store,
//! the handler's overhead without argon2, event parsing, and start-up (config and clients).
//!
//!     make bench     (prints the handler's time against two argon2-cffi hashes as a ratio)

use change_password::config::Config;
use change_password::domain::account::AccountRecord;
use change_password::domain::account_store::InMemoryAccountStore;
use change_password::domain::change_password::{
    ChangePasswordService, ProtectionSettings, system_clock,
};
use change_password::domain::password_hashing::{
    Argon2Hasher, Argon2Settings, PasswordHashing, PepperKeys,
};
use change_password::domain::password_policy::PasswordPolicy;
use change_password::domain::pepper::StaticPepper;
use change_password::edge::handler::Handler;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

const USER: &str = "7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d";
const A: &str = "correct horse battery staple";
const B: &str = "violet-Harbor-Lantern-42";

fn event(current: &str, new: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/apigw-http-lambda-authorizer.json"
    ))
    .unwrap();
    let mut e: Value = serde_json::from_str(&text).unwrap();
    e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": new}).to_string());
    e
}

fn context() -> lambda_runtime::Context {
    let mut c = lambda_runtime::Context::default();
    c.request_id = "bench".into();
    c
}

fn handler(
    settings: Argon2Settings,
) -> (
    Arc<Handler<InMemoryAccountStore>>,
    Arc<InMemoryAccountStore>,
) {
    let hasher = Arc::new(Argon2Hasher::new(settings));
    let store = Arc::new(InMemoryAccountStore::new());
    store.put(AccountRecord::new_user(
        USER,
        hasher.hash(A, &PepperKeys::none()).unwrap(),
    ));
    let service = ChangePasswordService::new(
        store.clone(),
        hasher,
        Arc::new(StaticPepper::none()),
        PasswordPolicy::default(),
        // No history, so that the benchmark can alternate between two passwords.
        ProtectionSettings {
            history_depth: 0,
            ..ProtectionSettings::default()
        },
        system_clock(),
    );
    (Arc::new(Handler::new(service, None)), store)
}

/// A fake of the breached-password range API on loopback: padding lines only, after `delay`.
fn slow_range_api(rt: &tokio::runtime::Runtime, delay: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let body: String = (1..=800).map(|i| format!("{i:035X}:0\r\n")).collect();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    url
}

type Fixture = (
    &'static str,
    Arc<Handler<InMemoryAccountStore>>,
    Arc<InMemoryAccountStore>,
    AccountRecord,
);

/// Handlers with the default protection (history 5) on a record whose history is full: the
/// breached check off, and on against a range API answering in 25 ms and in 50 ms.
fn full_history_handlers(rt: &tokio::runtime::Runtime, settings: Argon2Settings) -> Vec<Fixture> {
    let hasher = Arc::new(Argon2Hasher::new(settings));
    let none = PepperKeys::none();
    let mut record = AccountRecord::new_user(USER, hasher.hash(A, &none).unwrap());
    record.password_history = (0..5)
        .map(|i| {
            hasher
                .hash(&format!("an-old-Password-{i}-Heron"), &none)
                .unwrap()
        })
        .collect();
    record.password_version = Some(5);
    let mut out = Vec::new();
    for (name, answer_ms) in [
        ("hibp_off", None),
        ("hibp_on_25ms", Some(25)),
        ("hibp_on_50ms", Some(50)),
    ] {
        let store = Arc::new(InMemoryAccountStore::new());
        store.put(record.clone());
        let service = ChangePasswordService::new(
            store.clone(),
            hasher.clone(),
            Arc::new(StaticPepper::none()),
            PasswordPolicy::default(),
            ProtectionSettings::default(),
            system_clock(),
        );
        let service = if let Some(ms) = answer_ms {
            let url = slow_range_api(rt, std::time::Duration::from_millis(ms));
            service.with_breached_passwords(
                Arc::new(change_password::web::hibp::HibpRangeApi::new(&url).unwrap()),
                change_password::domain::breached::WhenUnavailable::Accept,
            )
        } else {
            service
        };
        out.push((
            name,
            Arc::new(Handler::new(service, None)),
            store,
            record.clone(),
        ));
    }
    out
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = Argon2Settings::default();
    let hasher = Argon2Hasher::new(settings);
    let none = PepperKeys::none();
    let stored = hasher.hash(A, &none).unwrap();

    let mut g = c.benchmark_group("argon2id_m19456_t2_p1");
    g.sample_size(30);
    g.bench_function("hash", |b| {
        b.iter(|| hasher.hash(black_box(A), &none).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| hasher.verify(black_box(A), &stored, &none).unwrap())
    });
    g.finish();

    // The whole request: parse, principal, read, rules, verify, hash, conditional write.
    let (h, _store) = handler(settings);
    let (ab, ba) = (event(A, B), event(B, A));
    let mut flip = false;
    let mut g = c.benchmark_group("handler");
    g.sample_size(30);
    g.bench_function("change_password_in_memory", |b| {
        b.iter(|| {
            flip = !flip;
            let e = if flip { ab.clone() } else { ba.clone() };
            let r = rt.block_on(h.handle_event(e, context())).unwrap();
            assert_eq!(r["statusCode"], 200);
        })
    });
    // Everything but argon2: a request refused at validation (after the read and the rules).
    let invalid = event(A, "short");
    g.bench_function("overhead_without_argon2", |b| {
        b.iter(|| {
            let r = rt
                .block_on(h.handle_event(invalid.clone(), context()))
                .unwrap();
            assert_eq!(r["statusCode"], 400);
        })
    });
    // The full path with argon2 made negligible (m=8 KiB, t=1: ~10 us per run): parse,
    // principal, read, zxcvbn and the other rules, two argon2 hand-offs, the conditional write.
    let (tiny, _tiny_store) = handler(Argon2Settings {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    });
    let mut flip_tiny = false;
    g.bench_function("overhead_full_path_tiny_argon2", |b| {
        b.iter(|| {
            flip_tiny = !flip_tiny;
            let e = if flip_tiny { ab.clone() } else { ba.clone() };
            let r = rt.block_on(tiny.handle_event(e, context())).unwrap();
            assert_eq!(r["statusCode"], 200);
        })
    });
    g.finish();

    // The configuration people run: the default history of 5, full (a change runs 7 argon2:
    // the current password, 5 old ones, the new hash), with the breached-password check off
    // and on against a range API answering in 25 ms (within argon2's time) and in 50 ms (a fake
    // on loopback). Each iteration
    // starts from the same record and changes to a password not seen before (so that neither
    // the history nor the range cache decides early).
    let full = full_history_handlers(&rt, settings);
    let mut g = c.benchmark_group("defaults_history5_full");
    g.sample_size(20);
    for (name, h, store, record) in &full {
        let mut i = 0u64;
        g.bench_function(*name, |b| {
            b.iter_batched(
                || {
                    store.put(record.clone());
                    i += 1;
                    event(A, &format!("violet-Harbor-Lantern-{i}"))
                },
                |e| {
                    let r = rt.block_on(h.handle_event(e, context())).unwrap();
                    assert_eq!(r["statusCode"], 200);
                    assert!(!r["body"].as_str().unwrap().contains("Unavailable"));
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("parts");
    let text = serde_json::to_string(&ab).unwrap();
    g.bench_function("event_parse_json", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&text)).unwrap())
    });
    // The argon2 share of `handler/overhead_full_path_tiny_argon2`: one hash and one verify
    // at m=8 KiB, t=1 through the pooled hasher (what that path runs besides its own work).
    g.bench_function("argon2_tiny_hash_and_verify", |b| {
        let hasher = Argon2Hasher::new(Argon2Settings {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        });
        let none = PepperKeys::none();
        let phc = hasher.hash(A, &none).unwrap();
        b.iter(|| {
            assert!(hasher.verify(black_box(A), &phc, &none).unwrap());
            hasher.hash(black_box(B), &none).unwrap()
        })
    });
    g.bench_function("password_policy_zxcvbn", |b| {
        let policy = PasswordPolicy::default();
        let ids = change_password::domain::password_policy::Identifiers {
            user_id: USER,
            email: Some("demo@example.com"),
            username: Some("demo"),
        };
        b.iter(|| policy.check(black_box(B), &ids))
    });
    // The CommonPasswords blocklist: one lookup (a binary search over 100,000 entries), a hit
    // and a miss, after the list was read once (what every request after the first pays).
    g.bench_function("blocklist_lookup_hit", |b| {
        use change_password::domain::common_passwords;
        assert!(common_passwords::contains("qwertyuiopasdfgh"));
        b.iter(|| common_passwords::contains(black_box("qwertyuiopasdfgh")))
    });
    g.bench_function("blocklist_lookup_miss", |b| {
        use change_password::domain::common_passwords;
        assert!(!common_passwords::contains("violet-harbor-lantern-42"));
        b.iter(|| common_passwords::contains(black_box("violet-harbor-lantern-42")))
    });
    g.bench_function("startup_config_and_clients", |b| {
        let vars: HashMap<&str, &str> = HashMap::from([("USERS_TABLE", "users")]);
        b.iter(|| {
            rt.block_on(async {
                let config = Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
                let sdk = change_password::aws::clients::load().await;
                change_password::app::build(&config, &sdk).unwrap()
            })
        })
    });
    g.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
