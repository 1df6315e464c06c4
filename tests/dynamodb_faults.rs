//! DynamoDB faults through the whole handler: throttling, 500s, a server that never answers,
//! refused connections. Every one is a 503 `ServiceUnavailable` with `Retry-After`, nothing is
//! written, and the same handler serves the next request once DynamoDB is back.

mod support;

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASS: u8 = 0;
const THROTTLE: u8 = 1;
const ERROR_500: u8 = 2;
const HANG: u8 = 3;

/// A proxy in front of moto that injects the current fault into each request.
struct FaultProxy {
    url: String,
    mode: Arc<AtomicU8>,
    /// Requests let through to moto before the mode applies.
    passes: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl FaultProxy {
    async fn start(upstream: String) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(PASS));
        let requests = Arc::new(AtomicUsize::new(0));
        let passes = Arc::new(AtomicUsize::new(0));
        let (m, r, p) = (mode.clone(), requests.clone(), passes.clone());
        let upstream = upstream.trim_start_matches("http://").to_string();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (m, r, p, upstream) = (m.clone(), r.clone(), p.clone(), upstream.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while let Some(request) =
                        support::http1::read_request(&mut socket, &mut buf).await
                    {
                        let request = request.raw;
                        r.fetch_add(1, Ordering::SeqCst);
                        let pass = p
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        let reply = match if pass { PASS } else { m.load(Ordering::SeqCst) } {
                            THROTTLE => error_reply(
                                400,
                                "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                                "Rate exceeded",
                            ),
                            ERROR_500 => error_reply(
                                500,
                                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                "Internal error",
                            ),
                            HANG => {
                                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                                return;
                            }
                            _ => {
                                // Forward to moto on a fresh connection; one request per connection.
                                let Ok(mut up) = TcpStream::connect(&upstream).await else {
                                    return;
                                };
                                let text = String::from_utf8_lossy(&request)
                                    .replace("keep-alive", "close");
                                if up.write_all(text.as_bytes()).await.is_err() {
                                    return;
                                }
                                let mut response = Vec::new();
                                let _ = up.read_to_end(&mut response).await;
                                let _ = socket.write_all(&response).await;
                                return;
                            }
                        };
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FaultProxy {
            url,
            mode,
            passes,
            requests,
        }
    }
}

fn error_reply(status: u16, kind: &str, message: &str) -> String {
    let body = json!({"__type": kind, "message": message}).to_string();
    format!(
        "HTTP/1.1 {status} Error\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: fault\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn event(current: &str) -> serde_json::Value {
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": DEMO_NEW}).to_string());
    e
}

#[tokio::test]
async fn every_fault_is_a_503_and_the_handler_recovers() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let proxy = FaultProxy::start(std::env::var("AWS_ENDPOINT_URL").unwrap()).await;
    let handler = handler_at_endpoint(&sdk, &proxy.url, &table);
    for (mode, name) in [
        (THROTTLE, "throttling"),
        (ERROR_500, "HTTP 500"),
        (HANG, "no answer"),
    ] {
        proxy.mode.store(mode, Ordering::SeqCst);
        let before = proxy.requests.load(Ordering::SeqCst);
        let response = handler
            .handle_event(event(DEMO_CURRENT), context(name))
            .await
            .unwrap();
        let a = Answer::from_lambda(&response);
        assert_eq!(a.status, 503, "{name}: {}", a.body);
        assert_eq!(a.error_codes(), vec!["ServiceUnavailable"], "{name}");
        assert_eq!(a.header("retry-after"), Some("1"), "{name}");
        let tries = proxy.requests.load(Ordering::SeqCst) - before;
        assert!(tries >= 1, "{name}: the SDK tried");
        if mode != HANG {
            // Standard retry mode: up to 3 attempts, within the 2 s operation timeout.
            assert!((2..=3).contains(&tries), "{name}: {tries} attempts");
        }
    }
    // Nothing was written by any of the above.
    let item = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&item, "PasswordVersion"), None);
    assert_eq!(n(&item, "FailedPasswordAttempts"), None);
    // DynamoDB is back: the same handler works.
    proxy.mode.store(PASS, Ordering::SeqCst);
    let a = Answer::from_lambda(
        &handler
            .handle_event(event(DEMO_CURRENT), context("ok"))
            .await
            .unwrap(),
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn wrong_password_count_during_throttling_is_a_503_not_a_lost_count() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let proxy = FaultProxy::start(std::env::var("AWS_ENDPOINT_URL").unwrap()).await;
    let handler = handler_at_endpoint(&sdk, &proxy.url, &table);
    // Let the read through, then throttle the count update.
    proxy.passes.store(1, Ordering::SeqCst);
    proxy.mode.store(THROTTLE, Ordering::SeqCst);
    let a = Answer::from_lambda(
        &handler
            .handle_event(event("not the password"), context("r"))
            .await
            .unwrap(),
    );
    a.assert_code(503, "ServiceUnavailable");
    assert!(
        proxy.requests.load(Ordering::SeqCst) >= 3,
        "the read passed and the count was tried"
    );
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        None
    );
}

#[tokio::test]
async fn a_throttled_write_is_a_503_and_writes_nothing() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let proxy = FaultProxy::start(std::env::var("AWS_ENDPOINT_URL").unwrap()).await;
    let handler = handler_at_endpoint(&sdk, &proxy.url, &table);
    // The read, the reservation and the clear pass; the conditional UpdateItem never gets
    // through.
    proxy.passes.store(3, Ordering::SeqCst);
    proxy.mode.store(ERROR_500, Ordering::SeqCst);
    let a = Answer::from_lambda(
        &handler
            .handle_event(event(DEMO_CURRENT), context("r"))
            .await
            .unwrap(),
    );
    a.assert_code(503, "ServiceUnavailable");
    let item = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&item, "PasswordVersion"), None);
    assert!(
        rust_argon2::verify_encoded(&s(&item, "PasswordHash").unwrap(), DEMO_CURRENT.as_bytes())
            .unwrap()
    );
}

#[tokio::test]
async fn a_write_left_without_an_answer_is_a_503_never_a_409() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let proxy = FaultProxy::start(std::env::var("AWS_ENDPOINT_URL").unwrap()).await;
    let handler = handler_at_endpoint(&sdk, &proxy.url, &table);
    // The read, the reservation and the clear pass; the write and everything after it hang.
    proxy.passes.store(3, Ordering::SeqCst);
    proxy.mode.store(HANG, Ordering::SeqCst);
    let a = Answer::from_lambda(
        &handler
            .handle_event(event(DEMO_CURRENT), context("r"))
            .await
            .unwrap(),
    );
    a.assert_code(503, "ServiceUnavailable");
    assert_eq!(a.error_codes(), vec!["ServiceUnavailable"]);
    assert_eq!(a.header("retry-after"), Some("1"));
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        None
    );
}
