//! The issuer's signing keys (JWKS): fetched on first need, cached for the life of the process,
//! refetched when a token names a key id that is not cached. Only a refetch that still lacked
//! the key id holds further unknown-id refetches back (for 10 s), as `aws-jwt-verify`'s penalty
//! box does: a key published after the cache was filled is accepted on its first use, and a
//! flood of made-up key ids costs the issuer one fetch per 10 s.

use crate::web::https::{self, HttpsClient};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a refetch that still lacked the key id holds further unknown-id refetches back.
pub const UNKNOWN_KID_PENALTY: Duration = Duration::from_secs(10);
/// Shortest interval between two attempts after a failed fetch.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
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
    last_failure: Option<Instant>,
    /// Until then, a key id that is not cached is unknown without a refetch.
    penalty_until: Option<Instant>,
}

pub struct JwksCache {
    url: http::Uri,
    penalty: Duration,
    client: HttpsClient,
    state: Mutex<State>,
    fetching: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub fn new(url: http::Uri) -> Result<Self, String> {
        let client = https::client()?;
        Ok(JwksCache {
            url,
            penalty: UNKNOWN_KID_PENALTY,
            client,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// Another penalty after a refetch that lacked the key id (tests of rotation).
    pub fn with_unknown_kid_penalty(mut self, penalty: Duration) -> Self {
        self.penalty = penalty;
        self
    }

    fn cached(&self, kid: Option<&str>) -> Option<Jwk> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let keys = state.keys.as_ref()?;
        match kid {
            Some(kid) => keys.find(kid).cloned(),
            // No key id: only unambiguous when exactly one key is published.
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        }
    }

    /// The key a token names, fetching or refetching the set when allowed.
    pub async fn key(&self, kid: Option<&str>) -> Result<Jwk, JwksError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let _one_fetch_at_a_time = self.fetching.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let now = Instant::now();
        {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state
                .last_failure
                .is_some_and(|t| now.duration_since(t) < RETRY_AFTER_FAILURE)
            {
                return Err(JwksError::Unavailable(
                    "the last fetch failed moments ago".into(),
                ));
            }
            if state.penalty_until.is_some_and(|until| now < until) {
                return Err(JwksError::UnknownKey);
            }
        }
        let fetched = self.fetch().await;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match fetched {
            Ok(set) => {
                state.keys = Some(set);
                state.last_failure = None;
            }
            Err(e) => {
                state.last_failure = Some(now);
                return Err(e);
            }
        }
        drop(state);
        match self.cached(kid) {
            Some(key) => Ok(key),
            None => {
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                state.penalty_until = Some(Instant::now() + self.penalty);
                Err(JwksError::UnknownKey)
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
