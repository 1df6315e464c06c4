//! The release binary as Lambda runs it, under the Runtime API emulator of the tests:
//! cold start (process start to the first poll of the Runtime API) and peak RSS over real
//! password changes against moto. Run through `make bench` (it starts moto).

// runtime_api.rs reads requests with `super::http1`.
#[path = "../tests/support/http1.rs"]
mod http1;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use runtime_api::{Invocation, RuntimeApi};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const USER: &str = "7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d";

/// An OTLP/HTTP endpoint on loopback that accepts every export (the traces' cost, measured
/// without a collector's).
async fn otlp_sink() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            let reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                            if socket.write_all(reply.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    url
}

/// [`vars`], with traces exported to `otlp` when given.
fn vars_with(table: &str, otlp: Option<&str>) -> Vec<(&'static str, String)> {
    let mut v = vars(table);
    if let Some(url) = otlp {
        v.push(("OTEL_EXPORTER_OTLP_ENDPOINT", url.to_string()));
    }
    v
}

fn vars(table: &str) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = [
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    .into_iter()
    .filter_map(|k| std::env::var(k).ok().map(|v| (k, v)))
    .collect();
    v.push(("USERS_TABLE", table.to_string()));
    v.push(("AWS_EC2_METADATA_DISABLED", "true".into()));
    v.push(("PASSWORD_HISTORY", "0".into()));
    v
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("process: benchmark");
        return;
    }
    // `cargo bench` passes --bench; `cargo test` runs this once as a smoke test, smaller.
    let full = std::env::args().any(|a| a == "--bench");
    let (starts_n, changes_n) = if full { (20, 20) } else { (3, 2) };
    // Cold start: spawn, config, clients, handler, first poll. No AWS call is made at init.
    // Without traces, and with an OTLP endpoint configured (the traces' set-up at cold start).
    let sink = otlp_sink().await;
    for otlp in [None, Some(sink.as_str())] {
        let suffix = if otlp.is_some() { "_with_otlp" } else { "" };
        let mut starts = Vec::new();
        for _ in 0..starts_n {
            let api = RuntimeApi::start().await;
            let began = Instant::now();
            let mut child = api.spawn_function(&vars_with("users", otlp));
            while api.first_poll().is_none() {
                tokio::time::sleep(Duration::from_micros(200)).await;
                assert!(began.elapsed() < Duration::from_secs(10), "no first poll");
            }
            starts.push(
                api.first_poll()
                    .unwrap()
                    .duration_since(began)
                    .as_secs_f64()
                    * 1000.0,
            );
            child.kill().await.unwrap();
        }
        println!(
            "cold_start_to_first_poll_ms{suffix} median {:.1} min {:.1} max {:.1} (n={})",
            median(starts.clone()),
            starts.iter().cloned().fold(f64::MAX, f64::min),
            starts.iter().cloned().fold(0.0, f64::max),
            starts.len()
        );
    }

    // Peak RSS over 20 real changes (moto as the table), default argon2 parameters.
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") else {
        println!("peak_rss: skipped (no AWS_ENDPOINT_URL; run through `make bench`)");
        return;
    };
    let table = format!("bench-{}", std::process::id());
    let sdk = change_password::aws::clients::load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("UserId")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("UserId")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    use change_password::domain::password_hashing::PasswordHashing;
    let hasher = change_password::domain::password_hashing::Argon2Hasher::new(Default::default());
    let record = change_password::domain::account::AccountRecord::new_user(
        USER,
        hasher
            .hash("pw-0-Violet-Harbor-Lantern", &Default::default())
            .unwrap(),
    );
    change_password::aws::dynamodb_store::put_record(&client, &table, &record)
        .await
        .unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/apigw-http-lambda-authorizer.json"
    ))
    .unwrap();
    for otlp in [None, Some(sink.as_str())] {
        let suffix = if otlp.is_some() { "_with_otlp" } else { "" };
        let (child, latencies) = changes(&table, &text, changes_n, otlp).await;
        let pid = child.id().unwrap();
        let mut latencies = latencies;
        // The first request after the cold start pays the lazy initialisation (the SDK's first
        // connection and credentials, the first argon2 arena); it is reported on its own.
        let first = latencies.remove(0);
        println!(
            "first_request_ms_after_cold_start{suffix} {first:.1} (argon2 verify + hash + 4 moto calls, plus lazy initialisation)"
        );
        if !latencies.is_empty() {
            println!(
                "request_ms_against_moto{suffix} median {:.1} (n={}; warm: argon2 verify + hash + GetItem, 3 UpdateItem)",
                median(latencies.clone()),
                latencies.len()
            );
        }
        println!(
            "peak_rss_kib{suffix} {} (VmHWM after {changes_n} changes; endpoint {endpoint})",
            peak_rss_kib(pid).unwrap_or(0)
        );
        drop(child);
        // The next round starts from the same password again.
        change_password::aws::dynamodb_store::put_record(&client, &table, &record)
            .await
            .unwrap();
    }
    first_requests_in_the_default_configuration(&client, &table, if full { 10 } else { 1 }).await;
}

/// `n` changes in a row on a fresh process (traces exported to `otlp` when given): the process
/// and each change's latency.
async fn changes(
    table: &str,
    text: &str,
    n: usize,
    otlp: Option<&str>,
) -> (tokio::process::Child, Vec<f64>) {
    let api = RuntimeApi::start().await;
    let child = api.spawn_function(&vars_with(table, otlp));
    let mut latencies = Vec::new();
    for i in 0..n {
        let mut e: Value = serde_json::from_str(text).unwrap();
        e["body"] = json!(json!({"CurrentPassword": format!("pw-{i}-Violet-Harbor-Lantern"), "NewPassword": format!("pw-{}-Violet-Harbor-Lantern", i + 1)}).to_string());
        let began = Instant::now();
        match api.invoke(e, Duration::from_secs(20)).await {
            Some(Invocation::Response(r)) => assert_eq!(r["statusCode"], 200, "{r}"),
            other => panic!("{other:?}"),
        }
        latencies.push(began.elapsed().as_secs_f64() * 1000.0);
    }
    std::mem::forget(api);
    (child, latencies)
}

/// The first request after a cold start as people run the function: the default history of 5,
/// full; a pepper from Secrets Manager; a bearer token the function verifies against a JWKS
/// it fetches (a function URL). So the first request pays every lazy initialisation: the SDK's
/// first connections and credentials, the pepper secret, the JWKS, the first argon2 arena.
async fn first_requests_in_the_default_configuration(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    cold_starts: usize,
) {
    use base64::Engine;
    use change_password::domain::password_hashing::PasswordHashing;
    let sdk = change_password::aws::clients::load().await;
    let pepper_id = format!("bench-pepper-{}", std::process::id());
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&pepper_id)
        .secret_string(json!({"CurrentKeyId": "k1", "Keys": {"k1": key}}).to_string())
        .send()
        .await
        .unwrap();
    let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/rsa-1.key.pem"
        ))
        .unwrap(),
    )
    .unwrap();
    let issuer = serve_jwks(&signing_key).await;
    // The stored hashes carry no pepper key id (they verify without one): each change then
    // fetches the pepper for its new hash.
    let hasher = change_password::domain::password_hashing::Argon2Hasher::new(Default::default());
    let none = Default::default();
    let mut record = change_password::domain::account::AccountRecord::new_user(
        USER,
        hasher.hash("first-Violet-Harbor-Lantern", &none).unwrap(),
    );
    record.password_history = (0..5)
        .map(|i| {
            hasher
                .hash(&format!("an-old-Password-{i}-Heron"), &none)
                .unwrap()
        })
        .collect();
    record.password_version = Some(5);
    let mut vars = vars(table);
    vars.retain(|(k, _)| *k != "PASSWORD_HISTORY");
    vars.push(("PEPPER_SECRET_ID", pepper_id));
    vars.push(("JWT_ISSUER", issuer.clone()));
    let mut firsts = Vec::new();
    for i in 0..cold_starts {
        change_password::aws::dynamodb_store::put_record(client, table, &record)
            .await
            .unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("bench-rsa-1".into());
        let claims = json!({"sub": USER, "username": "bench", "token_use": "access", "iss": issuer,
                            "iat": now, "auth_time": now, "exp": now + 600, "jti": format!("bench-{i}")});
        let token = jsonwebtoken::encode(&header, &claims, &signing_key).unwrap();
        let mut e: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/events/function-url.json"
            ))
            .unwrap(),
        )
        .unwrap();
        e["headers"]["authorization"] = json!(format!("Bearer {token}"));
        e["isBase64Encoded"] = json!(false);
        e["body"] = json!(
            json!({"CurrentPassword": "first-Violet-Harbor-Lantern",
                                 "NewPassword": format!("next-{i}-Violet-Harbor-Lantern")})
            .to_string()
        );
        let api = RuntimeApi::start().await;
        let mut child = api.spawn_function(&vars);
        while api.first_poll().is_none() {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let began = Instant::now();
        match api.invoke(e, Duration::from_secs(20)).await {
            Some(Invocation::Response(r)) => assert_eq!(r["statusCode"], 200, "{r}"),
            other => panic!("{other:?}"),
        }
        firsts.push(began.elapsed().as_secs_f64() * 1000.0);
        child.kill().await.unwrap();
    }
    println!(
        "first_request_ms_default_configuration median {:.1} min {:.1} max {:.1} (n={}; history 5 full: 7 argon2, pepper from Secrets Manager, JWKS fetched for a bearer token, GetItem and 3 UpdateItem against moto)",
        median(firsts.clone()),
        firsts.iter().cloned().fold(f64::MAX, f64::min),
        firsts.iter().cloned().fold(0.0, f64::max),
        firsts.len()
    );
}

/// A JWKS endpoint on loopback with the public half of `key`; returns the issuer URL (the
/// function fetches `<issuer>/.well-known/jwks.json`).
async fn serve_jwks(key: &jsonwebtoken::EncodingKey) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut jwk =
        jsonwebtoken::jwk::Jwk::from_encoding_key(key, jsonwebtoken::Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("bench-rsa-1".into());
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    let body = serde_json::to_string(&jsonwebtoken::jwk::JwkSet { keys: vec![jwk] }).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    issuer
}
