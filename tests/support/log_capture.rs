//! The process's log output, captured at TRACE as the JSON lines production writes: tests read
//! what was logged of a request (the secrets that must be absent, the cause of a 5xx).

use change_password::logging;
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

/// The process's one log capture, at TRACE: the subscriber is global, so every test of a
/// test binary writes into it.
pub fn capture() -> Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            logging::init_with(
                logging::env_filter(Some("TRACE"), None),
                false,
                capture.clone(),
            );
            capture
        })
        .clone()
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The request lines (`change-password request`) of `request_id`, parsed.
    pub fn request_lines(&self, request_id: &str) -> Vec<Value> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["request_id"] == request_id && l["message"] == "change-password request")
            .collect()
    }

    pub fn assert_absent(&self, secrets: &[&str]) {
        let logs = self.text();
        assert!(!logs.is_empty());
        for secret in secrets {
            assert!(
                !secret.is_empty() && !logs.contains(secret),
                "a secret ({secret}) reached the logs:\n{logs}"
            );
        }
    }
}
