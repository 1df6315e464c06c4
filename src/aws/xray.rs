//! X-Ray subsegments for the AWS SDK calls. With active tracing, Lambda records the function's
//! own segment; the calls inside it (DynamoDB, Secrets Manager, Cognito) appear only when the
//! code reports them. This SDK interceptor times each operation, retries included, and sends
//! its subsegment to the X-Ray daemon over UDP, as the X-Ray SDKs of other languages do.
//!
//! It runs only where Lambda provides a daemon (`AWS_XRAY_DAEMON_ADDRESS`) and only for an
//! invocation whose trace header (`_X_AMZN_TRACE_ID`, set by lambda_runtime for each
//! invocation) says `Sampled=1`. A subsegment names the service, the operation, the region,
//! the AWS request id and the HTTP status: never a key, an attribute or a value.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::{Value, json};
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable Lambda sets to the daemon's address (`host:port`, or
/// `tcp:host:port udp:host:port`).
pub const DAEMON_ADDRESS_VAR: &str = "AWS_XRAY_DAEMON_ADDRESS";
/// The invocation's trace header, as lambda_runtime sets it.
pub const TRACE_HEADER_VAR: &str = "_X_AMZN_TRACE_ID";

/// The SDK interceptor; cheap to clone (one socket for every client).
#[derive(Debug, Clone)]
pub struct XrayInterceptor {
    socket: Arc<UdpSocket>,
    region: String,
}

impl XrayInterceptor {
    /// The interceptor when Lambda provides a daemon; `None` otherwise (or when its address
    /// cannot be used, which is logged: tracing must never stop the function).
    pub fn from_env(region: Option<&str>) -> Option<Self> {
        let address = std::env::var(DAEMON_ADDRESS_VAR).ok()?;
        let udp = udp_address(&address)?;
        let socket = UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.connect(udp).map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s));
        match socket {
            Ok(socket) => Some(XrayInterceptor {
                socket: Arc::new(socket),
                region: region.unwrap_or_default().to_string(),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "the X-Ray daemon cannot be reached; no subsegments");
                None
            }
        }
    }

    fn send(&self, document: &Value) {
        let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{document}");
        // UDP to a local daemon: a datagram that cannot be sent is dropped, never waited for.
        let _ = self.socket.send(datagram.as_bytes());
    }
}

/// The UDP part of the daemon's address.
fn udp_address(address: &str) -> Option<&str> {
    let address = address.trim();
    match address
        .split_whitespace()
        .find_map(|p| p.strip_prefix("udp:"))
    {
        Some(udp) => Some(udp),
        None if !address.contains(' ') && !address.starts_with("tcp:") => Some(address),
        None => None,
    }
}

/// The parts of a trace header a subsegment needs, when the invocation is sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampledTrace {
    pub root: String,
    pub parent: String,
}

/// Reads `Root=1-...;Parent=...;Sampled=1`; `None` unless sampled with both ids present.
pub fn sampled_trace(header: &str) -> Option<SampledTrace> {
    let field = |name: &str| {
        header
            .split(';')
            .filter_map(|part| part.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    };
    if field("Sampled").as_deref() != Some("1") {
        return None;
    }
    Some(SampledTrace {
        root: field("Root").filter(|r| r.starts_with("1-"))?,
        parent: field("Parent").filter(|p| p.len() == 16)?,
    })
}

/// When the operation started (epoch seconds), and under which trace.
#[derive(Debug, Clone)]
struct Started {
    at: f64,
    trace: SampledTrace,
}

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn subsegment_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = epoch_seconds().to_bits().to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "XrayInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let trace = std::env::var(TRACE_HEADER_VAR)
            .ok()
            .and_then(|h| sampled_trace(&h));
        if let Some(trace) = trace {
            cfg.interceptor_state().store_put(Started {
                at: epoch_seconds(),
                trace,
            });
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(started) = cfg.load::<Started>() else {
            return Ok(());
        };
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("AWS", "Unknown"), |m| (m.service(), m.name()));
        let response = context.response();
        let status = response.map(|r| r.status().as_u16());
        let header = |name: &str| {
            response
                .and_then(|r| r.headers().get(name))
                .unwrap_or_default()
        };
        let failed = matches!(context.output_or_error(), Some(Err(_)));
        let error_type = header("x-amzn-errortype");
        let mut document = json!({
            "name": service,
            "id": subsegment_id(),
            "trace_id": started.trace.root,
            "parent_id": started.trace.parent,
            "start_time": started.at,
            "end_time": epoch_seconds(),
            "type": "subsegment",
            "namespace": "aws",
            "aws": {
                "operation": operation,
                "region": self.region,
                "request_id": header("x-amzn-requestid"),
            },
        });
        if let Some(status) = status {
            document["http"] = json!({"response": {"status": status}});
        }
        match status {
            Some(s) if s >= 500 => document["fault"] = json!(true),
            Some(s) if s >= 400 => {
                document["error"] = json!(true);
                if s == 429 || error_type.contains("Throttl") || error_type.contains("Exceeded") {
                    document["throttle"] = json!(true);
                }
            }
            None if failed => document["fault"] = json!(true),
            _ => {}
        }
        self.send(&document);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sampled_traces_with_both_ids_are_reported() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(
            sampled_trace(header),
            Some(SampledTrace {
                root: "1-5759e988-bd862e3fe1be46a994272793".into(),
                parent: "53995c3f42cd8ad8".into(),
            })
        );
        assert_eq!(
            sampled_trace(&header.replace("Sampled=1", "Sampled=0")),
            None
        );
        assert_eq!(
            sampled_trace("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            None
        );
        assert_eq!(sampled_trace(""), None);
    }

    #[test]
    fn the_daemon_address_may_name_tcp_and_udp() {
        assert_eq!(
            udp_address("169.254.79.129:2000"),
            Some("169.254.79.129:2000")
        );
        assert_eq!(
            udp_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"),
            Some("127.0.0.2:2001")
        );
        assert_eq!(udp_address("tcp:127.0.0.1:2000"), None);
    }
}
