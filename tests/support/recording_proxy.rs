//! A recording proxy in front of moto: forwards every request, records its `X-Amz-Target`
//! operation and JSON body, and can run a one-shot hook before forwarding the first request
//! that matches (to make a race happen at a chosen moment).
#![allow(dead_code)]

use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;
pub type Matcher = Box<dyn Fn(&str, &Value) -> bool + Send>;

/// One request the proxy saw: its `X-Amz-Target` operation (`GetItem`, ...) and JSON body.
#[derive(Clone, Debug)]
pub struct Seen {
    pub operation: String,
    pub body: Value,
}

/// Forwards every request to moto, records it, and runs a one-shot hook before forwarding the
/// first request that matches.
pub struct RecordingProxy {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    hook: Arc<Mutex<Option<(Matcher, Hook)>>>,
}

impl RecordingProxy {
    pub async fn start() -> RecordingProxy {
        let upstream = std::env::var("AWS_ENDPOINT_URL")
            .unwrap()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let hook: Arc<Mutex<Option<(Matcher, Hook)>>> = Arc::default();
        let (s, h) = (seen.clone(), hook.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (s, h, upstream) = (s.clone(), h.clone(), upstream.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let Some(request) = super::http1::read_request(&mut socket, &mut buf).await
                    else {
                        return;
                    };
                    let head_len = request.raw.len() - request.body.len();
                    let head = String::from_utf8_lossy(&request.raw[..head_len]).to_string();
                    let operation = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.trim()
                                .eq_ignore_ascii_case("x-amz-target")
                                .then(|| value.trim().rsplit('.').next().unwrap().to_string())
                        })
                        .unwrap_or_default();
                    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                    s.lock().unwrap().push(Seen {
                        operation: operation.clone(),
                        body: body.clone(),
                    });
                    let run = {
                        let mut slot = h.lock().unwrap();
                        match slot.as_ref() {
                            Some((matches, _)) if matches(&operation, &body) => {
                                slot.take().map(|(_, hook)| hook)
                            }
                            _ => None,
                        }
                    };
                    if let Some(hook) = run {
                        hook().await;
                    }
                    // One request per upstream connection, closed after the answer.
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
                    if up.write_all(forwarded.as_bytes()).await.is_err()
                        || up.write_all(&request.body).await.is_err()
                    {
                        return;
                    }
                    let mut response = Vec::new();
                    let _ = up.read_to_end(&mut response).await;
                    let _ = socket.write_all(&response).await;
                });
            }
        });
        RecordingProxy { url, seen, hook }
    }

    /// `sdk` with every AWS endpoint at the proxy. Built afresh: a copy of `sdk` would keep the
    /// environment's `AWS_ENDPOINT_URL`, which the clients prefer to an `endpoint_url` set on it.
    pub fn sdk(&self, sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        let mut builder = aws_config::SdkConfig::builder()
            .endpoint_url(&self.url)
            .behavior_version(aws_config::BehaviorVersion::latest());
        builder.set_region(sdk.region().cloned());
        builder.set_credentials_provider(sdk.credentials_provider());
        builder.set_timeout_config(sdk.timeout_config().cloned());
        builder.set_retry_config(sdk.retry_config().cloned());
        builder.set_sleep_impl(sdk.sleep_impl());
        builder.set_time_source(sdk.time_source());
        builder.set_http_client(sdk.http_client());
        builder.build()
    }

    pub fn before_first(&self, matches: Matcher, hook: Hook) {
        *self.hook.lock().unwrap() = Some((matches, hook));
    }

    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}
