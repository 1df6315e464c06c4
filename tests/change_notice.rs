//! change-notice (SPEC §7), the real binary against moto (DynamoDB and SES): each address of the
//! account gets exactly one notice per change, with several processes racing over redeliveries
//! of one event; a redelivered or older event sends nothing; SES refusing fails the invocation
//! and its retry sends only what is missing; an account without an address is not an error; no
//! secret in any mail or log.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use change_password::domain::security_event::CommittedChange;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::runtime_api::{Invocation, RuntimeApi, aws_vars, drain};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SENDER: &str = "security-notices@example.com";
const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";

fn tag() -> String {
    format!(
        "{}{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    )
}

/// What a committed change to `version` by request `request_id` leaves on the item.
fn last_change(version: u64, request_id: &str) -> AttributeValue {
    AttributeValue::M(HashMap::from([
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
            AttributeValue::S("Mozilla/5.0 <b>Firefox</b>".into()),
        ),
        (
            "At".to_string(),
            AttributeValue::N((1_764_288_000 + version).to_string()),
        ),
    ]))
}

/// The account's next committed change: `version`, made by `request_id`.
async fn committed(
    sdk: &aws_config::SdkConfig,
    table: &str,
    user: &str,
    version: u64,
    request_id: &str,
) {
    aws_sdk_dynamodb::Client::new(sdk)
        .update_item()
        .table_name(table)
        .key("UserId", AttributeValue::S(user.into()))
        .update_expression("SET PasswordVersion = :v, LastPasswordChange = :l")
        .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        .expression_attribute_values(":l", last_change(version, request_id))
        .send()
        .await
        .unwrap();
}

/// An account with `Email` and `NotificationEmails` (either may be absent), whose last change
/// is version 2, made by `request_id`.
async fn seed(
    sdk: &aws_config::SdkConfig,
    table: &str,
    user: &str,
    email: Option<&str>,
    others: &[&str],
    request_id: &str,
) {
    let mut item = HashMap::from([
        ("UserId".to_string(), AttributeValue::S(user.into())),
        ("PasswordHash".to_string(), AttributeValue::S(HASH.into())),
        ("PasswordVersion".to_string(), AttributeValue::N("2".into())),
        ("LastPasswordChange".to_string(), last_change(2, request_id)),
        (
            "PasswordChangeEvent".to_string(),
            AttributeValue::N("2".into()),
        ),
    ]);
    if let Some(email) = email {
        item.insert("Email".into(), AttributeValue::S(email.into()));
    }
    if !others.is_empty() {
        item.insert(
            "NotificationEmails".into(),
            AttributeValue::L(
                others
                    .iter()
                    .map(|a| AttributeValue::S(a.to_string()))
                    .collect(),
            ),
        );
    }
    aws_sdk_dynamodb::Client::new(sdk)
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

async fn verify_sender(sdk: &aws_config::SdkConfig) {
    aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .unwrap();
}

/// The EventBridge event of the change to `version` of `user`.
fn event(user: &str, version: u64, request_id: &str) -> Value {
    let change = CommittedChange {
        user_id: user.into(),
        password_version: version,
        at: 1_764_288_000 + version as i64,
        request_id: request_id.into(),
        source_ip: "203.0.113.10".into(),
        user_agent: "Mozilla/5.0 <b>Firefox</b>".into(),
        issuer: Some("https://issuer.example".into()),
    };
    json!({"version": "0", "id": format!("ev-{request_id}"), "detail-type": "Password Changed",
        "source": "change-password", "account": "123456789012", "time": "2025-11-28T00:00:00Z",
        "region": "eu-west-1", "resources": [], "detail": change.to_set("urn:change-password:test")})
}

fn vars(table: &str, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut base = vec![
        ("NOTICE_FROM", SENDER),
        ("NOTICE_HELP_URL", "https://example.com/account-help"),
        ("NOTICE_CONTACT", "support@example.com"),
    ];
    base.extend_from_slice(extra);
    aws_vars(table, &base)
}

/// The mails moto's SES accepted for `address`: (subject, body) each.
async fn mails_to(address: &str) -> Vec<(String, String)> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut socket = TcpStream::connect(host).await.unwrap();
    socket
        .write_all(format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let body = text.split_once("\r\n\r\n").unwrap().1;
    let data: Value = serde_json::from_str(body).unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|to| to.iter().any(|a| a == address))
        })
        .map(|m| {
            assert_eq!(m["source"], SENDER);
            (
                m["subject"].as_str().unwrap().to_string(),
                m["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Invokes until the function answers without an error (as Lambda retries a failed
/// asynchronous invocation), at most `tries` times; the outcome of each try.
async fn invoke_until_done(api: &RuntimeApi, event: &Value, tries: usize) -> Vec<Invocation> {
    let mut seen = Vec::new();
    for _ in 0..tries {
        let outcome = api
            .invoke(event.clone(), Duration::from_secs(30))
            .await
            .expect("an answer");
        let done = matches!(outcome, Invocation::Response(_));
        seen.push(outcome);
        if done {
            break;
        }
    }
    seen
}

fn no_secret(text: &str) {
    for secret in [HASH, "$argon2", "Bearer", "eyJ"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_redeliveries_send_each_address_exactly_one_notice() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    verify_sender(&sdk).await;
    let t = tag();
    let user = format!("user-{t}");
    let (owner, phone, spare) = (
        format!("owner-{t}@example.com"),
        format!("phone-{t}@example.net"),
        format!("spare-{t}@example.org"),
    );
    // The owner's address again in other case, and one that is not an address at all.
    let owner_again = owner.to_uppercase();
    seed(
        &sdk,
        &table,
        &user,
        Some(&owner),
        &[&phone, &owner_again, "not an address", &spare],
        &format!("req-{t}"),
    )
    .await;

    let api = Arc::new(RuntimeApi::start().await);
    let mut children: Vec<_> = (0..3)
        .map(|_| api.spawn_change_notice(&vars(&table, &[])))
        .collect();
    // Six deliveries of the same event at once, on three processes; each retried until done.
    let e = event(&user, 2, &format!("req-{t}"));
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let (api, e) = (api.clone(), e.clone());
            tokio::spawn(async move { invoke_until_done(&api, &e, 5).await })
        })
        .collect();
    for racer in racers {
        let tries = racer.await.unwrap();
        assert!(
            matches!(tries.last(), Some(Invocation::Response(_))),
            "{tries:?}"
        );
        for t in &tries {
            if let Invocation::Error(e) = t {
                // The only failure a race may give: another delivery holds a claim.
                assert_eq!(e["errorType"], "NoticeInProgress", "{e}");
            }
        }
    }
    for address in [&owner, &phone, &spare] {
        let mails = mails_to(address).await;
        assert_eq!(mails.len(), 1, "{address}: {mails:?}");
        let (subject, body) = &mails[0];
        assert_eq!(subject, "Your password was changed");
        for needle in [
            "203.0.113.10",
            "https://example.com/account-help",
            "support@example.com",
            "UTC",
        ] {
            assert!(body.contains(needle), "{needle} missing: {body}");
        }
        assert!(
            body.contains("&lt;b&gt;Firefox&lt;/b&gt;"),
            "the agent is escaped: {body}"
        );
        no_secret(body);
    }
    let stored = item(&sdk, &table, &user).await;
    assert_eq!(n(&stored, "NoticeSentVersion"), Some(2));
    assert!(!stored.contains_key("NoticeDeliveries"), "progress dropped");
    assert!(
        !stored.contains_key("PasswordChangeEvent"),
        "no write of the notice re-publishes the event"
    );
    assert_eq!(s(&stored, "PasswordHash").as_deref(), Some(HASH));

    // A redelivery, and an older change's event, send nothing.
    for late in [e.clone(), event(&user, 1, &format!("req-old-{t}"))] {
        let Some(Invocation::Response(r)) = api.invoke(late, Duration::from_secs(30)).await else {
            panic!("no answer");
        };
        assert_eq!(r["outcome"], "AlreadySent");
    }
    for address in [&owner, &phone, &spare] {
        assert_eq!(mails_to(address).await.len(), 1, "{address}");
    }
    // A forged event (a version the account never had): refused, nothing sent or recorded.
    let Some(Invocation::Error(err)) = api
        .invoke(
            event(&user, 99, &format!("forged-{t}")),
            Duration::from_secs(30),
        )
        .await
    else {
        panic!("refused");
    };
    assert_eq!(err["errorType"], "NotAPasswordChangedEvent");
    assert_eq!(
        n(&item(&sdk, &table, &user).await, "NoticeSentVersion"),
        Some(2)
    );
    // The next change is told again.
    committed(&sdk, &table, &user, 3, &format!("req-next-{t}")).await;
    let next = event(&user, 3, &format!("req-next-{t}"));
    let Some(Invocation::Response(r)) = api.invoke(next, Duration::from_secs(30)).await else {
        panic!("no answer");
    };
    assert_eq!(
        r,
        json!({"outcome": "Sent", "sent": 3, "jti": format!("req-next-{t}")})
    );
    assert_eq!(mails_to(&owner).await.len(), 2);

    for child in &mut children {
        child.start_kill().unwrap();
    }
    for mut child in children {
        let (out, err) = (
            drain(child.stdout.take().unwrap()).await,
            drain(child.stderr.take().unwrap()).await,
        );
        no_secret(&out);
        no_secret(&err);
        assert!(!out.contains(&user), "the user id is not logged: {out}");
        assert!(
            !out.contains(&owner) && !out.contains(&phone),
            "no address logged: {out}"
        );
    }
}

#[tokio::test]
async fn an_account_without_an_address_is_counted_not_an_error() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    verify_sender(&sdk).await;
    let user = format!("user-{}", tag());
    seed(&sdk, &table, &user, None, &[], "req-none").await;
    let api = RuntimeApi::start().await;
    let mut child = api.spawn_change_notice(&vars(&table, &[]));
    let Some(Invocation::Response(r)) = api
        .invoke(event(&user, 2, "req-none"), Duration::from_secs(30))
        .await
    else {
        panic!("no answer");
    };
    assert_eq!(r["outcome"], "NoAddress");
    assert_eq!(
        n(&item(&sdk, &table, &user).await, "NoticeSentVersion"),
        Some(2)
    );
    // No account at all: not an error either.
    let Some(Invocation::Response(r)) = api
        .invoke(event("nobody-here", 1, "req-gone"), Duration::from_secs(30))
        .await
    else {
        panic!("no answer");
    };
    assert_eq!(r["outcome"], "NoAccount");
    child.start_kill().unwrap();
    let out = drain(child.stdout.take().unwrap()).await;
    assert!(out.contains("\"NoticeWithoutAddress\":1"), "counted: {out}");
    assert!(out.contains("\"NoticeAccountMissing\":1"), "counted: {out}");
}

#[tokio::test]
async fn an_event_that_is_not_a_password_change_fails_the_invocation() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let api = RuntimeApi::start().await;
    let _child = api.spawn_change_notice(&vars(&table, &[]));
    let mut other = event("u", 1, "r");
    other["source"] = json!("someone-else");
    let mut string_numbers = event("u", 1, "r");
    string_numbers["detail"]["change"]["password_version"] = json!("1");
    for e in [other, string_numbers, json!({})] {
        let Some(Invocation::Error(err)) = api.invoke(e, Duration::from_secs(30)).await else {
            panic!("an error");
        };
        assert_eq!(err["errorType"], "NotAPasswordChangedEvent");
    }
}

/// An SES endpoint in front of moto that refuses `SendEmail` to the addresses in `refuse`
/// (as SES's `MessageRejected`), and keeps every request body it saw.
struct SesGate {
    url: String,
    refuse: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl SesGate {
    async fn start() -> SesGate {
        let upstream = std::env::var("AWS_ENDPOINT_URL")
            .unwrap()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let refuse: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, s) = (refuse.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (r, s, upstream) = (r.clone(), s.clone(), upstream.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while let Some(request) =
                        support::http1::read_request(&mut socket, &mut buf).await
                    {
                        let body = String::from_utf8_lossy(&request.body).to_string();
                        s.lock().unwrap().push(body.clone());
                        let refused = r.lock().unwrap().iter().any(|a| body.contains(a.as_str()));
                        let response = if refused {
                            let msg = r#"{"message":"Email address is not verified."}"#;
                            format!(
                                "HTTP/1.1 400 Bad Request\r\nx-amzn-errortype: MessageRejected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{msg}",
                                msg.len()
                            )
                            .into_bytes()
                        } else {
                            let head_len = request.raw.len() - request.body.len();
                            let head =
                                String::from_utf8_lossy(&request.raw[..head_len]).to_string();
                            let mut forwarded: String = head
                                .trim_end_matches("\r\n")
                                .split("\r\n")
                                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                                .map(|l| format!("{l}\r\n"))
                                .collect();
                            forwarded.push_str("Connection: close\r\n\r\n");
                            let Ok(mut up) = TcpStream::connect(&upstream).await else {
                                return;
                            };
                            let _ = up.write_all(forwarded.as_bytes()).await;
                            let _ = up.write_all(&request.body).await;
                            let mut response = Vec::new();
                            let _ = up.read_to_end(&mut response).await;
                            response
                        };
                        if socket.write_all(&response).await.is_err() || !refused {
                            return;
                        }
                    }
                });
            }
        });
        SesGate { url, refuse, seen }
    }
}

#[tokio::test]
async fn ses_refusing_fails_the_invocation_and_the_retry_sends_only_what_is_missing() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    verify_sender(&sdk).await;
    let t = tag();
    let user = format!("user-{t}");
    let (owner, other) = (
        format!("owner-{t}@example.com"),
        format!("other-{t}@example.net"),
    );
    seed(
        &sdk,
        &table,
        &user,
        Some(&owner),
        &[&other],
        &format!("req-{t}"),
    )
    .await;
    let gate = SesGate::start().await;
    gate.refuse.lock().unwrap().push(other.clone());
    let api = RuntimeApi::start().await;
    let mut child = api.spawn_change_notice(&vars(
        &table,
        &[("AWS_ENDPOINT_URL_SESV2", gate.url.as_str())],
    ));
    let e = event(&user, 2, &format!("req-{t}"));

    let Some(Invocation::Error(err)) = api.invoke(e.clone(), Duration::from_secs(30)).await else {
        panic!("the invocation fails");
    };
    assert_eq!(err["errorType"], "NoticeNotSent");
    assert_eq!(
        mails_to(&owner).await.len(),
        1,
        "the first address was sent"
    );
    assert_eq!(mails_to(&other).await.len(), 0);
    let stored = item(&sdk, &table, &user).await;
    assert_eq!(n(&stored, "NoticeSentVersion"), None, "not done yet");

    // SES accepts again: the retry sends the missing address only.
    gate.refuse.lock().unwrap().clear();
    let Some(Invocation::Response(r)) = api.invoke(e.clone(), Duration::from_secs(30)).await else {
        panic!("the retry succeeds");
    };
    assert_eq!(r["sent"], 1);
    assert_eq!(mails_to(&owner).await.len(), 1);
    assert_eq!(mails_to(&other).await.len(), 1);
    assert_eq!(
        n(&item(&sdk, &table, &user).await, "NoticeSentVersion"),
        Some(2)
    );

    // Every request SES saw (text and HTML parts): no secret, the help page, no other link.
    let seen = gate.seen.lock().unwrap().clone();
    assert!(seen.len() >= 3);
    for body in &seen {
        no_secret(body);
        let request: Value = serde_json::from_str(body).unwrap();
        let simple = &request["Content"]["Simple"];
        let text = simple["Body"]["Text"]["Data"].as_str().unwrap();
        assert!(text.contains("https://example.com/account-help"));
        assert_eq!(text.matches("https://").count(), 1, "one link: {text}");
    }
    child.start_kill().unwrap();
    let (out, err) = (
        drain(child.stdout.take().unwrap()).await,
        drain(child.stderr.take().unwrap()).await,
    );
    assert!(out.contains("\"NoticeFailed\":1"), "{out}");
    no_secret(&out);
    no_secret(&err);
}
