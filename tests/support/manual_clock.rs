//! A monotonic clock the test moves, for the token checks' ages and hold-backs (the JWKS cache,
//! the revocation marker's TTL): time passes when the test says, not when the machine gets to it.

use change_password::app::TokenTiming;
use change_password::auth::clock::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct ManualClock {
    start: Instant,
    elapsed_ms: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            start: Instant::now(),
            elapsed_ms: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl ManualClock {
    /// The clock to hand to the code under test.
    pub fn clock(&self) -> Clock {
        let (start, elapsed) = (self.start, self.elapsed_ms.clone());
        Arc::new(move || start + Duration::from_millis(elapsed.load(Ordering::SeqCst)))
    }

    pub fn advance(&self, by: Duration) {
        self.elapsed_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    /// SPEC's times, on this clock.
    pub fn timing(&self) -> TokenTiming {
        TokenTiming {
            clock: self.clock(),
            ..TokenTiming::default()
        }
    }
}

/// SPEC's times, except that token-authorizer reads the marker for every event.
pub fn marker_read_every_time() -> TokenTiming {
    TokenTiming {
        marker_ttl: Duration::ZERO,
        ..TokenTiming::default()
    }
}
