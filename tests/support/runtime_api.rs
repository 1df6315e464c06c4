//! A small Lambda Runtime API emulator: the real `change-password` binary polls it for events,
//! exactly as it polls Lambda, so tests can drive the whole process (several at once).
#![allow(dead_code)]

use serde_json::Value;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc, oneshot};

/// The environment of a function process against the DynamoDB-API server of the test run:
/// the SDK's endpoint and credentials, the table, and `extra`.
pub fn aws_vars(table: &str, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut vars: Vec<(&'static str, String)> = [
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    .into_iter()
    .map(|k| (k, std::env::var(k).unwrap()))
    .collect();
    vars.push(("AWS_EC2_METADATA_DISABLED", "true".into()));
    vars.push(("USERS_TABLE", table.into()));
    for (k, v) in extra {
        vars.push((Box::leak(k.to_string().into_boxed_str()), v.to_string()));
    }
    vars
}

/// Everything a child process writes to `pipe`, once it closes.
pub async fn drain(mut pipe: impl tokio::io::AsyncRead + Unpin) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = String::new();
    let _ = pipe.read_to_string(&mut text).await;
    text
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Invocation {
    Response(Value),
    Error(Value),
}

/// The trace header of an invocation unless the test gives another: a sampled X-Ray trace.
pub const DEFAULT_TRACE: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<(String, Value, String)>>,
    pending: std::sync::Mutex<HashMap<String, oneshot::Sender<Invocation>>>,
    first_poll: std::sync::Mutex<Option<Instant>>,
    /// `next` polls received: a process polls once it has started.
    polls: AtomicUsize,
    init_errors: std::sync::Mutex<Vec<String>>,
}

pub struct RuntimeApi {
    pub address: String,
    sender: mpsc::UnboundedSender<(String, Value, String)>,
    shared: Arc<Shared>,
    counter: AtomicUsize,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(receiver),
            pending: std::sync::Mutex::new(HashMap::new()),
            first_poll: std::sync::Mutex::new(None),
            polls: AtomicUsize::new(0),
            init_errors: std::sync::Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve_connection(socket, s.clone()));
            }
        });
        RuntimeApi {
            address,
            sender,
            shared,
            counter: AtomicUsize::new(0),
        }
    }

    /// Queues `event` and waits for the function's answer (or `None` after `limit`).
    pub async fn invoke(&self, event: Value, limit: Duration) -> Option<Invocation> {
        self.invoke_traced(event, DEFAULT_TRACE, limit).await
    }

    /// [`Self::invoke`] with `trace` as the invocation's `Lambda-Runtime-Trace-Id`.
    pub async fn invoke_traced(
        &self,
        event: Value,
        trace: &str,
        limit: Duration,
    ) -> Option<Invocation> {
        let id = format!("req-{}", self.counter.fetch_add(1, Ordering::SeqCst));
        let (tx, rx) = oneshot::channel();
        self.shared.pending.lock().unwrap().insert(id.clone(), tx);
        self.sender.send((id, event, trace.to_string())).ok()?;
        tokio::time::timeout(limit, rx).await.ok()?.ok()
    }

    /// When the first `next` poll arrived.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.shared.first_poll.lock().unwrap()
    }

    /// Waits until `count` `next` polls have arrived (that many processes started), for at
    /// most `limit`; whether they did.
    pub async fn polled(&self, count: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.shared.polls.load(Ordering::SeqCst) < count {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    pub fn init_errors(&self) -> Vec<String> {
        self.shared.init_errors.lock().unwrap().clone()
    }

    /// Starts the real binary against this emulator with `vars` (plus the Lambda ones).
    pub fn spawn_function(&self, vars: &[(&str, String)]) -> tokio::process::Child {
        // CHANGE_PASSWORD_BIN runs another build of the function instead (to compare a change
        // against an earlier build with the same test).
        let binary = std::env::var("CHANGE_PASSWORD_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_change-password").to_string());
        self.spawn(&binary, vars)
    }

    /// Starts the real token-authorizer binary against this emulator.
    pub fn spawn_authorizer(&self, vars: &[(&str, String)]) -> tokio::process::Child {
        self.spawn(env!("CARGO_BIN_EXE_token-authorizer"), vars)
    }

    /// Starts the real change-notice binary against this emulator.
    pub fn spawn_change_notice(&self, vars: &[(&str, String)]) -> tokio::process::Child {
        self.spawn(env!("CARGO_BIN_EXE_change-notice"), vars)
    }

    /// Starts the real security-event binary (the pipe's enrichment) against this emulator.
    pub fn spawn_security_event(&self, vars: &[(&str, String)]) -> tokio::process::Child {
        self.spawn(env!("CARGO_BIN_EXE_security-event"), vars)
    }

    fn spawn(&self, binary: &str, vars: &[(&str, String)]) -> tokio::process::Child {
        let mut command = tokio::process::Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "change-password")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/change-password")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in vars {
            command.env(k, v);
        }
        command.spawn().expect("the function binary starts")
    }
}

async fn serve_connection(mut socket: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    while let Some(request) = super::http1::read_request(&mut socket, &mut buf).await {
        let (method, path, body) = (request.method, request.path, request.body);
        let reply = if method == "GET" && path.ends_with("/runtime/invocation/next") {
            shared
                .first_poll
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
            shared.polls.fetch_add(1, Ordering::SeqCst);
            let next = shared.events.lock().await.recv().await;
            let Some((id, event, trace)) = next else {
                return;
            };
            let body = event.to_string();
            let deadline = (std::time::SystemTime::now() + Duration::from_secs(10))
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:change-password\r\n\
                 Lambda-Runtime-Trace-Id: {trace}\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        } else if method == "POST" && path.contains("/runtime/invocation/") {
            let id = path.split('/').rev().nth(1).unwrap_or_default().to_string();
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let outcome = if path.ends_with("/response") {
                Invocation::Response(value)
            } else {
                Invocation::Error(value)
            };
            if let Some(tx) = shared.pending.lock().unwrap().remove(&id) {
                let _ = tx.send(outcome);
            }
            "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_string()
        } else if method == "POST" && path.ends_with("/runtime/init/error") {
            shared
                .init_errors
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).to_string());
            "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_string()
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
        };
        if socket.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}
