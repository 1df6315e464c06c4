//! The issuer's signing keys (JWKS): fetched on first need, refetched when a token names a key
//! id that is not cached, and refreshed at least every hour (SPEC §6). Only a refetch that
//! still lacked the key id holds further unknown-id refetches back (for 10 s), as
//! `aws-jwt-verify`'s penalty box does: a key published after the cache was filled is accepted
//! on its first use, and a flood of made-up key ids costs the issuer one fetch per 10 s.
//!
//! Refresh: once the set is [`REFRESH_AFTER`] old, a lookup answers from it and refreshes it in
//! the background; a set [`MAX_AGE`] old is refreshed before it answers. A refresh that fails
//! keeps the old set (and is tried again after [`RETRY_AFTER_FAILURE`]), so an unreachable
//! issuer does not stop verification; a key the issuer removed stops verifying within the hour
//! of the last set fetched. A Lambda environment runs code only during invocations: "in the
//! background" is during one, without delaying its answer.

use crate::auth::clock::{Clock, system_clock};
use crate::web::https::{self, HttpsClient};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a refetch that still lacked the key id holds further unknown-id refetches back.
pub const UNKNOWN_KID_PENALTY: Duration = Duration::from_secs(10);
/// Shortest interval between two attempts after a failed fetch.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Age from which a lookup also refreshes the set, in the background.
pub const REFRESH_AFTER: Duration = Duration::from_secs(45 * 60);
/// Age at which the set is refreshed before a lookup answers.
pub const MAX_AGE: Duration = Duration::from_secs(60 * 60);
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Why no key could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The key id is not published (after a refetch when one was allowed).
    #[error("no key with this id is published")]
    UnknownKey,
    /// The JWKS endpoint could not be read.
    #[error("the JWKS endpoint is unavailable: {0}")]
    Unavailable(String),
}

#[derive(Default)]
struct State {
    keys: Option<JwkSet>,
    /// When the cached set was fetched.
    fetched_at: Option<Instant>,
    last_failure: Option<Instant>,
    /// Until then, a key id that is not cached is unknown without a refetch.
    penalty_until: Option<Instant>,
}

struct Inner {
    url: http::Uri,
    penalty: Duration,
    client: HttpsClient,
    clock: Clock,
    state: Mutex<State>,
    fetching: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
}

#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

/// How old the cached set is, as a lookup sees it.
enum Freshness {
    Fresh,
    /// Usable, but to be refreshed in the background.
    Ageing,
    /// Refreshed before it answers (kept if that fails).
    Expired,
    Missing,
}

impl JwksCache {
    pub fn new(url: http::Uri) -> Result<Self, String> {
        let client = https::client()?;
        Ok(JwksCache {
            inner: Arc::new(Inner {
                url,
                penalty: UNKNOWN_KID_PENALTY,
                client,
                clock: system_clock(),
                state: Mutex::new(State::default()),
                fetching: tokio::sync::Mutex::new(()),
                refreshing: AtomicBool::new(false),
            }),
        })
    }

    /// Another penalty after a refetch that lacked the key id (tests of rotation).
    pub fn with_unknown_kid_penalty(self, penalty: Duration) -> Self {
        self.rebuilt(|inner| inner.penalty = penalty)
    }

    /// Another clock (tests of the refresh).
    pub fn with_clock(self, clock: Clock) -> Self {
        self.rebuilt(|inner| inner.clock = clock)
    }

    fn rebuilt(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner)
            .unwrap_or_else(|_| panic!("configured before it is shared"));
        change(&mut inner);
        JwksCache {
            inner: Arc::new(inner),
        }
    }

    /// The key a token names, fetching, refetching or refreshing the set when allowed.
    pub async fn key(&self, kid: Option<&str>) -> Result<Jwk, JwksError> {
        match self.inner.freshness() {
            Freshness::Fresh => {
                if let Some(key) = self.inner.cached(kid) {
                    return Ok(key);
                }
            }
            Freshness::Ageing => {
                self.refresh_in_background();
                if let Some(key) = self.inner.cached(kid) {
                    return Ok(key);
                }
            }
            Freshness::Expired => {
                self.inner.refresh().await;
                if let Some(key) = self.inner.cached(kid) {
                    return Ok(key);
                }
            }
            Freshness::Missing => {}
        }
        self.inner.refetch_for(kid).await
    }

    fn refresh_in_background(&self) {
        if self.inner.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            inner.refresh().await;
            inner.refreshing.store(false, Ordering::SeqCst);
        });
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn freshness(&self) -> Freshness {
        let state = self.lock();
        let (Some(_), Some(at)) = (&state.keys, state.fetched_at) else {
            return Freshness::Missing;
        };
        let age = (self.clock)().saturating_duration_since(at);
        if age >= MAX_AGE {
            Freshness::Expired
        } else if age >= REFRESH_AFTER {
            Freshness::Ageing
        } else {
            Freshness::Fresh
        }
    }

    fn cached(&self, kid: Option<&str>) -> Option<Jwk> {
        let state = self.lock();
        let keys = state.keys.as_ref()?;
        match kid {
            Some(kid) => keys.find(kid).cloned(),
            // No key id: only unambiguous when exactly one key is published.
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        }
    }

    fn failed_moments_ago(&self, now: Instant) -> bool {
        self.lock()
            .last_failure
            .is_some_and(|t| now.saturating_duration_since(t) < RETRY_AFTER_FAILURE)
    }

    /// Fetches the set again, unless another fetch just did or one failed moments ago; a
    /// failure keeps the old set.
    async fn refresh(&self) {
        let _one_fetch_at_a_time = self.fetching.lock().await;
        if matches!(self.freshness(), Freshness::Fresh) || self.failed_moments_ago((self.clock)()) {
            return;
        }
        if let Err(e) = self.fetch_and_store().await {
            tracing::warn!(error = %e, "the JWKS refresh failed; the cached keys stay in use");
        }
    }

    /// A key id that is not cached: refetch, unless held back.
    async fn refetch_for(&self, kid: Option<&str>) -> Result<Jwk, JwksError> {
        let _one_fetch_at_a_time = self.fetching.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let now = (self.clock)();
        if self.failed_moments_ago(now) {
            return Err(JwksError::Unavailable(
                "the last fetch failed moments ago".into(),
            ));
        }
        if self.lock().penalty_until.is_some_and(|until| now < until) {
            return Err(JwksError::UnknownKey);
        }
        self.fetch_and_store().await?;
        match self.cached(kid) {
            Some(key) => Ok(key),
            None => {
                self.lock().penalty_until = Some((self.clock)() + self.penalty);
                Err(JwksError::UnknownKey)
            }
        }
    }

    async fn fetch_and_store(&self) -> Result<(), JwksError> {
        let started = (self.clock)();
        let fetched = self.fetch().await;
        let mut state = self.lock();
        match fetched {
            Ok(set) => {
                state.keys = Some(set);
                state.fetched_at = Some(started);
                state.last_failure = None;
                Ok(())
            }
            Err(e) => {
                state.last_failure = Some(started);
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, JwksError> {
        let request = http::Request::get(self.url.clone())
            .body(Default::default())
            .map_err(|e| JwksError::Unavailable(e.to_string()))?;
        let body = https::get(&self.client, request, MAX_JWKS_BYTES, FETCH_TIMEOUT)
            .await
            .map_err(JwksError::Unavailable)?;
        serde_json::from_slice::<JwkSet>(&body)
            .map_err(|e| JwksError::Unavailable(format!("not a JWKS document: {e}")))
    }
}
