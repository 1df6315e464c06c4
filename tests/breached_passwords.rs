//! BREACHED_PASSWORD_CHECK=hibp (SPEC §4 step 5, §6) against a local fake of the range API:
//! a breached new password is a validation error that counts no attempt, only 5 hex digits of
//! the SHA-1 leave (padded), answers are cached per prefix, and both fail modes.

mod support;

use change_password::web::hibp::split_sha1;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BREACHED: &str = "Summer-Breach-2019-Password!";

/// A fake of `GET /range/<prefix>`: answers the suffixes it knows (plus padding lines with a
/// count of 0), or fails, or answers late; records every request as it arrived.
struct RangeApi {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    /// 0: answer; 1: HTTP 503; 2: answer after 1.5 s; 3: HTTP 200 with an empty body.
    mode: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
}

impl RangeApi {
    async fn start(known: &[(&str, u64)]) -> RangeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(AtomicUsize::new(0));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let known: Vec<(String, String, u64)> = known
            .iter()
            .map(|(password, count)| {
                let (prefix, suffix) = split_sha1(password);
                (prefix, suffix, *count)
            })
            .collect();
        let (r, m, d) = (requests.clone(), mode.clone(), delay_ms.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (r, m, d, known) = (r.clone(), m.clone(), d.clone(), known.clone());
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => raw.extend_from_slice(&buf[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&raw).to_string();
                    r.lock().unwrap().push(request.clone());
                    let path = request
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_string();
                    let prefix = path.trim_start_matches("/range/");
                    let mut body = String::new();
                    for (p, suffix, count) in &known {
                        if p == prefix {
                            body.push_str(&format!("{suffix}:{count}\r\n"));
                        }
                    }
                    for i in 0..5 {
                        body.push_str(&format!("{:035X}:0\r\n", i + 1));
                    }
                    let delay = d.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    let reply = match m.load(Ordering::SeqCst) {
                        1 => "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                        2 => {
                            tokio::time::sleep(Duration::from_millis(1500)).await;
                            ok(&body)
                        }
                        3 => ok(""),
                        _ => ok(&body),
                    };
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        RangeApi {
            url,
            requests,
            mode,
            delay_ms,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn setup(
    api: &RangeApi,
    fail: &str,
) -> (
    aws_config::SdkConfig,
    String,
    Arc<change_password::app::App>,
) {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let app = change_password::app::build(
        &config(
            &table,
            &[
                ("BREACHED_PASSWORD_CHECK", "hibp"),
                ("HIBP_API_URL", api.url.as_str()),
                ("BREACHED_PASSWORD_FAIL", fail),
            ],
        ),
        &sdk,
    )
    .unwrap();
    (sdk, table, app)
}

fn change(current: &str, new: &str) -> Value {
    let mut e = load_event("apigw-http-lambda-authorizer.json");
    e["body"] = json!(json!({"CurrentPassword": current, "NewPassword": new}).to_string());
    e
}

#[tokio::test]
async fn a_breached_new_password_is_a_validation_error_that_counts_nothing() {
    let api = RangeApi::start(&[(BREACHED, 52_310)]).await;
    let (sdk, table, app) = setup(&api, "open").await;
    let a = invoke(&app, change(DEMO_CURRENT, BREACHED), "r").await;
    assert_eq!(a.status, 400, "{}", a.body);
    a.assert_envelope();
    let e = &a.body["Errors"][0];
    assert_eq!(e["Code"], "PasswordBreached");
    assert_eq!(e["Type"], 0);
    assert_eq!(e["Severity"], 2);
    assert_eq!(e["Field"], "NewPassword");
    assert_eq!(e["Metadata"]["Occurrences"], "52310");
    let stored = item(&sdk, &table, DEMO_SUB).await;
    assert_eq!(n(&stored, "PasswordVersion"), None);
    assert_eq!(
        n(&stored, "FailedPasswordAttempts"),
        Some(0),
        "the right password cleared it"
    );
    // With other rule breaks, it is reported with them, and no attempt is even reserved.
    let short = "Zq9!";
    let api = RangeApi::start(&[(short, 7)]).await;
    let (sdk, table, app) = setup(&api, "open").await;
    let a = invoke(&app, change(DEMO_CURRENT, short), "r").await;
    assert_eq!(a.status, 400, "{}", a.body);
    let codes = a.error_codes();
    assert!(codes.contains(&"PasswordTooShort".to_string()), "{codes:?}");
    assert!(codes.contains(&"PasswordBreached".to_string()), "{codes:?}");
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        None
    );
}

#[tokio::test]
async fn a_clean_password_passes_and_only_five_hex_digits_leave_padded() {
    // The service's own suffix appears as a padding line with count 0: still clean.
    let api = RangeApi::start(&[(DEMO_NEW, 0)]).await;
    let (sdk, table, app) = setup(&api, "open").await;
    let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "r").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["Warnings"], json!([]));
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        Some(1)
    );
    let requests = api.requests();
    assert_eq!(requests.len(), 1);
    let (prefix, suffix) = split_sha1(DEMO_NEW);
    let request = &requests[0];
    let first_line = request.lines().next().unwrap();
    assert_eq!(first_line, format!("GET /range/{prefix} HTTP/1.1"));
    assert!(
        request
            .lines()
            .any(|l| l.eq_ignore_ascii_case("add-padding: true")),
        "{request}"
    );
    // Nothing else of the password or its hash is in the request.
    for secret in [
        suffix.as_str(),
        &suffix.to_lowercase(),
        DEMO_NEW,
        DEMO_CURRENT,
    ] {
        assert!(!request.contains(secret), "{request}");
    }
    let hex_run = request
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap();
    assert!(hex_run <= 5, "a longer hex run left: {request}");
}

#[tokio::test]
async fn answers_are_cached_per_prefix() {
    let api = RangeApi::start(&[(BREACHED, 3)]).await;
    let (_sdk, _table, app) = setup(&api, "open").await;
    for i in 0..3 {
        let a = invoke(&app, change(DEMO_CURRENT, BREACHED), &format!("r{i}")).await;
        assert_eq!(a.error_codes(), vec!["PasswordBreached"]);
    }
    assert_eq!(
        api.requests().len(),
        1,
        "one range request for three lookups"
    );
}

#[tokio::test]
async fn when_the_range_api_is_down_open_accepts_with_a_warning_and_closed_answers_503() {
    for mode in [1, 2, 3] {
        let api = RangeApi::start(&[]).await;
        api.mode.store(mode, Ordering::SeqCst);
        let (sdk, table, app) = setup(&api, "open").await;
        let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "open").await;
        assert_eq!(a.status, 200, "mode {mode}: {}", a.body);
        let w = &a.body["Warnings"][0];
        assert_eq!(w["Code"], "BreachedPasswordCheckUnavailable", "mode {mode}");
        assert_eq!(w["Severity"], 1);
        assert_eq!(
            n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
            Some(1)
        );

        let (sdk, table, app) = setup(&api, "closed").await;
        let a = invoke(&app, change(DEMO_CURRENT, DEMO_NEW), "closed").await;
        assert_eq!(a.status, 503, "mode {mode}: {}", a.body);
        assert_eq!(a.error_codes(), vec!["ServiceUnavailable"]);
        assert_eq!(a.header("retry-after"), Some("1"));
        let stored = item(&sdk, &table, DEMO_SUB).await;
        assert_eq!(n(&stored, "PasswordVersion"), None);
        assert_eq!(n(&stored, "FailedPasswordAttempts"), Some(0));
    }
}

#[tokio::test]
async fn a_wrong_current_password_with_a_breached_new_one_is_counted_as_wrong() {
    // The lookup runs alongside the verify; the verify ran and was wrong, so the attempt
    // counts and the answer is CurrentPasswordIncorrect.
    let api = RangeApi::start(&[(BREACHED, 9)]).await;
    let (sdk, table, app) = setup(&api, "open").await;
    let a = invoke(&app, change("not the password", BREACHED), "r").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.error_codes(), vec!["CurrentPasswordIncorrect"]);
    assert_eq!(a.body["Errors"][0]["Metadata"]["RemainingAttempts"], "4");
    assert_eq!(
        n(
            &item(&sdk, &table, DEMO_SUB).await,
            "FailedPasswordAttempts"
        ),
        Some(1)
    );
}

#[tokio::test]
async fn a_range_api_answering_in_50_ms_is_waited_for() {
    // What the 50 ms cost in latency is measured by benches/core.rs (BENCHMARKS.md).
    let api = RangeApi::start(&[(BREACHED, 1)]).await;
    api.delay_ms.store(50, Ordering::SeqCst);
    let (_sdk, _table, app) = setup(&api, "open").await;
    let a = invoke(&app, change(DEMO_CURRENT, BREACHED), "r").await;
    assert_eq!(a.error_codes(), vec!["PasswordBreached"]);
}
