//! Traces (issue 22): the real binary against a local OTLP/HTTP receiver. The spans of a
//! sampled invocation share the trace id of its X-Ray header and hang under its parent id; one
//! CLIENT span per DynamoDB call, named for its operation; spans of the argon2 work; no secret
//! in any attribute; nothing exported for an unsampled invocation, nor without an endpoint.

mod support;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::runtime_api::{Invocation, RuntimeApi, aws_vars, drain};
use support::*;
use tokio::io::AsyncWriteExt;

const LIMIT: Duration = Duration::from_secs(20);
const SAMPLED: &str = "Root=1-6928e958-2c3d4e5f6a7b8c9d0e1f2a3b;Parent=53995c3f42cd8ad8;Sampled=1";
const UNSAMPLED: &str =
    "Root=1-6928e959-0a0b0c0d0e0f101112131415;Parent=1a2b3c4d5e6f7081;Sampled=0";

/// An OTLP/HTTP receiver on loopback: keeps every export request's spans.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<(String, ExportTraceServiceRequest)>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<(String, ExportTraceServiceRequest)>>> = Arc::default();
        let r = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while let Some(request) =
                        support::http1::read_request(&mut socket, &mut buf).await
                    {
                        let decoded = ExportTraceServiceRequest::decode(request.body.as_slice())
                            .expect("an OTLP protobuf export request");
                        r.lock().unwrap().push((request.path.clone(), decoded));
                        let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Receiver { url, requests }
    }

    fn spans(&self) -> Vec<Span> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, r)| r.resource_spans.iter())
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter().cloned())
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .map(|v| match v {
            AnyValue::StringValue(s) => s.clone(),
            AnyValue::IntValue(i) => i.to_string(),
            AnyValue::BoolValue(b) => b.to_string(),
            other => format!("{other:?}"),
        })
}

fn change_event() -> Value {
    let mut e = load_event("apigw-http-jwt.json");
    e["isBase64Encoded"] = json!(false);
    e["body"] =
        json!(json!({"CurrentPassword": DEMO_CURRENT, "NewPassword": DEMO_NEW}).to_string());
    e
}

#[tokio::test]
async fn a_sampled_invocation_exports_its_spans_under_the_x_ray_trace_and_an_unsampled_one_none() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    let seeded = seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let receiver = Receiver::start().await;
    let api = RuntimeApi::start().await;
    let mut child = api.spawn_function(&aws_vars(
        &table,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str())],
    ));

    // Unsampled: answered, nothing exported.
    let mut wrong = change_event();
    wrong["body"] =
        json!(json!({"CurrentPassword": "not it", "NewPassword": DEMO_NEW}).to_string());
    let Some(Invocation::Response(r)) = api.invoke_traced(wrong, UNSAMPLED, LIMIT).await else {
        panic!("no answer")
    };
    assert_eq!(r["statusCode"], 400);
    assert!(
        receiver.spans().is_empty(),
        "an unsampled invocation exported spans"
    );

    // Sampled: a change.
    let Some(Invocation::Response(r)) = api.invoke_traced(change_event(), SAMPLED, LIMIT).await
    else {
        panic!("no answer")
    };
    assert_eq!(r["statusCode"], 200, "{r}");
    let spans = receiver.spans();
    assert!(!spans.is_empty(), "nothing exported");
    let requests = receiver.requests.lock().unwrap().clone();
    assert!(
        requests.iter().all(|(path, _)| path == "/v1/traces"),
        "{requests:?}"
    );
    // Every span is of the X-Ray trace; the invocation's hangs under the header's parent.
    for span in &spans {
        assert_eq!(
            hex(&span.trace_id),
            "6928e9582c3d4e5f6a7b8c9d0e1f2a3b",
            "{}",
            span.name
        );
    }
    let root = spans
        .iter()
        .find(|s| s.name == "change-password")
        .expect("the invocation's span");
    assert_eq!(hex(&root.parent_span_id), "53995c3f42cd8ad8");
    assert_eq!(root.kind, 2, "SERVER");
    assert_eq!(attribute(root, "faas.trigger").as_deref(), Some("http"));
    assert!(attribute(root, "faas.invocation_id").is_some());
    // One CLIENT span per DynamoDB call: GetItem, the reservation, the clear, the change.
    let mut dynamodb: Vec<&str> = spans
        .iter()
        .filter(|s| attribute(s, "rpc.service").as_deref() == Some("DynamoDB"))
        .map(|s| {
            assert_eq!(s.kind, 3, "CLIENT");
            assert_eq!(attribute(s, "rpc.system").as_deref(), Some("aws-api"));
            assert_eq!(
                attribute(s, "http.response.status_code").as_deref(),
                Some("200")
            );
            assert_eq!(
                s.name,
                format!("DynamoDB.{}", attribute(s, "rpc.method").unwrap())
            );
            attribute(s, "rpc.method")
                .map(|m| {
                    if m == "GetItem" {
                        "GetItem"
                    } else {
                        "UpdateItem"
                    }
                })
                .unwrap()
        })
        .collect();
    dynamodb.sort();
    assert_eq!(
        dynamodb,
        vec!["GetItem", "UpdateItem", "UpdateItem", "UpdateItem"],
        "{spans:#?}"
    );
    let ids: std::collections::HashSet<Vec<u8>> = spans.iter().map(|s| s.span_id.clone()).collect();
    for s in spans.iter().filter(|s| s.name != "change-password") {
        assert!(
            ids.contains(&s.parent_span_id),
            "{} hangs under a span of the trace",
            s.name
        );
    }
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    for name in ["argon2.verify", "argon2.hash"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    // No secret anywhere in the export.
    let export = format!("{requests:?}");
    for secret in [
        DEMO_CURRENT,
        DEMO_NEW,
        "$argon2",
        seeded.password_hash.as_deref().unwrap(),
        DEMO_SUB,
    ] {
        assert!(!export.contains(secret), "{secret} exported");
    }
    child.start_kill().unwrap();
    let _ = drain(child.stdout.take().unwrap()).await;
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    // A receiver at the exporter's default address would see nothing either: no endpoint
    // configured, no exporter built.
    let api = RuntimeApi::start().await;
    let mut child = api.spawn_function(&aws_vars(&table, &[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]));
    let Some(Invocation::Response(r)) = api.invoke_traced(change_event(), SAMPLED, LIMIT).await
    else {
        panic!("no answer")
    };
    assert_eq!(r["statusCode"], 200, "{r}");
    child.start_kill().unwrap();
    let log = drain(child.stdout.take().unwrap()).await;
    assert!(!log.contains("spans exported"), "{log}");
}
