//! The pepper from Secrets Manager, end to end: users hashed under k1, k2 becomes current, they
//! can still change their password and the new hash uses k2; Secrets Manager unavailable is a
//! 503 from which the function recovers by itself.

mod support;

use aws_sdk_secretsmanager::Client as Secrets;
use base64::Engine;
use change_password::aws::secrets_pepper::parse_pepper_secret;
use change_password::domain::password_hashing::PasswordHashing;
use serde_json::json;
use support::*;

const K1: &str = "cGVwcGVyLW9uZS0zMi1ieXRlcy1sb25nLWVub3VnaCE="; // test-only
const K2: &str = "cGVwcGVyLXR3by0zMi1ieXRlcy1sb25nLWVub3VnaCE="; // test-only

/// A stored `$argon2id$v=19$m=..,t=..,p=..,keyid=..$salt$tag` string, taken apart by hand (not by
/// the code under test).
struct Phc {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: Vec<u8>,
    tag: Vec<u8>,
}

impl Phc {
    fn parse(phc: &str) -> Phc {
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let parts: Vec<&str> = phc.split('$').collect();
        assert_eq!(parts[..3], ["", "argon2id", "v=19"], "{phc}");
        let param = |name: &str| -> u32 {
            parts[3]
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} missing from {phc}"))
                .parse()
                .unwrap()
        };
        Phc {
            memory_kib: param("m"),
            iterations: param("t"),
            parallelism: param("p"),
            salt: b64.decode(parts[4]).unwrap(),
            tag: b64.decode(parts[5]).unwrap(),
        }
    }

    /// The tag rust-argon2 computes for `password` with `secret` as argon2's secret input K.
    fn recompute(&self, password: &str, secret: &[u8]) -> Vec<u8> {
        let config = rust_argon2::Config {
            variant: rust_argon2::Variant::Argon2id,
            version: rust_argon2::Version::Version13,
            mem_cost: self.memory_kib,
            time_cost: self.iterations,
            lanes: self.parallelism,
            secret,
            ad: &[],
            hash_length: self.tag.len() as u32,
            ..rust_argon2::Config::default()
        };
        rust_argon2::hash_raw(password.as_bytes(), &self.salt, &config).unwrap()
    }
}

fn event(current: &str, new: &str) -> serde_json::Value {
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": new}).to_string());
    e
}

#[tokio::test]
async fn rotation_from_k1_to_k2() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let secret_id = format!("pepper-{table}");
    let v1 = json!({"CurrentKeyId": "k1", "Keys": {"k1": K1}}).to_string();
    Secrets::new(&sdk)
        .create_secret()
        .name(&secret_id)
        .secret_string(&v1)
        .send()
        .await
        .unwrap();
    // The user was provisioned under k1.
    let k1 = parse_pepper_secret(&v1).unwrap();
    let mut record = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    record.password_hash = Some(hasher().hash(DEMO_CURRENT, &k1).unwrap());
    change_password::aws::dynamodb_store::put_record(
        &aws_sdk_dynamodb::Client::new(&sdk),
        &table,
        &record,
    )
    .await
    .unwrap();

    let cfg = config(&table, &[("PEPPER_SECRET_ID", secret_id.as_str())]);
    let app = change_password::app::build(&cfg, &sdk).unwrap();
    let a = invoke(&app, event(DEMO_CURRENT, DEMO_NEW), "r1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let after_k1 = s(&item(&sdk, &table, DEMO_SUB).await, "PasswordHash").unwrap();
    assert!(after_k1.contains(",keyid=azE$"), "{after_k1}");
    // The key is really mixed in: an independent argon2 (rust-argon2) recomputes the stored tag
    // from the same password, salt and parameters with k1 as argon2's secret input, and gets
    // another tag without it (or with k2).
    let k1_bytes = base64::engine::general_purpose::STANDARD
        .decode(K1)
        .unwrap();
    let k2_bytes = base64::engine::general_purpose::STANDARD
        .decode(K2)
        .unwrap();
    let stored = Phc::parse(&after_k1);
    assert_eq!(
        stored.tag,
        stored.recompute(DEMO_NEW, &k1_bytes),
        "{after_k1}"
    );
    assert_ne!(stored.tag, stored.recompute(DEMO_NEW, b""), "{after_k1}");
    assert_ne!(
        stored.tag,
        stored.recompute(DEMO_NEW, &k2_bytes),
        "{after_k1}"
    );

    // k2 becomes current; a new cold start reads the new secret.
    let v2 = json!({"CurrentKeyId": "k2", "Keys": {"k1": K1, "k2": K2}}).to_string();
    Secrets::new(&sdk)
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(&v2)
        .send()
        .await
        .unwrap();
    let app = change_password::app::build(&cfg, &sdk).unwrap();
    let a = invoke(&app, event(DEMO_NEW, "amber-Quokka-Harbour-77"), "r2").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let after_k2 = s(&item(&sdk, &table, DEMO_SUB).await, "PasswordHash").unwrap();
    assert!(after_k2.contains(",keyid=azI$"), "{after_k2}");
    let k2 = parse_pepper_secret(&v2).unwrap();
    assert!(
        hasher()
            .verify("amber-Quokka-Harbour-77", &after_k2, &k2)
            .unwrap()
    );
    let stored = Phc::parse(&after_k2);
    assert_eq!(
        stored.tag,
        stored.recompute("amber-Quokka-Harbour-77", &k2_bytes)
    );
    assert_ne!(
        stored.tag,
        stored.recompute("amber-Quokka-Harbour-77", &k1_bytes)
    );
    // The k1 hash in the history still verifies (reuse detection across the rotation).
    let a = invoke(&app, event("amber-Quokka-Harbour-77", DEMO_NEW), "r3").await;
    assert_eq!(a.error_codes(), vec!["PasswordReused"], "{}", a.body);
}

#[tokio::test]
async fn secrets_manager_unavailable_is_503_then_recovers() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let secret_id = format!("pepper-late-{table}");
    let app = change_password::app::build(
        &config(&table, &[("PEPPER_SECRET_ID", secret_id.as_str())]),
        &sdk,
    )
    .unwrap();
    // The secret cannot be read yet.
    let a = invoke(&app, event(DEMO_CURRENT, DEMO_NEW), "r1").await;
    assert_eq!(a.status, 503, "{}", a.body);
    a.assert_envelope();
    assert_eq!(a.error_codes(), vec!["ServiceUnavailable"]);
    assert_eq!(a.body["Errors"][0]["Type"], 2);
    // SPEC §4: a 503 carries Retry-After (1 s, the function's figure for a dependency outage).
    assert_eq!(a.header("retry-after"), Some("1"), "{:?}", a.headers);
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        None
    );
    // Once it can, the same process serves the request: nothing to restart.
    let v1 = json!({"CurrentKeyId": "k1", "Keys": {"k1": K1}}).to_string();
    Secrets::new(&sdk)
        .create_secret()
        .name(&secret_id)
        .secret_string(&v1)
        .send()
        .await
        .unwrap();
    let a = invoke(&app, event(DEMO_CURRENT, DEMO_NEW), "r2").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        s(&item(&sdk, &table, DEMO_SUB).await, "PasswordHash")
            .unwrap()
            .contains("keyid=azE")
    );
}
