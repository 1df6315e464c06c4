//! The monotonic time the token checks read: the JWKS cache's ages and hold-backs, and how
//! long a revocation marker is trusted. Injectable, so that tests move time instead of
//! waiting for it.

use std::sync::Arc;
use std::time::Instant;

/// A source of [`Instant`]s.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The process's monotonic clock.
pub fn system_clock() -> Clock {
    Arc::new(Instant::now)
}
