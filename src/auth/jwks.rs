//! The issuer's signing keys (JWKS): fetched on first need, cached for the life of the process,
//! refetched when a token names a key id that is not cached. Only a refetch that still lacked
//! the key id holds further unknown-id refetches back (for 10 s), as `aws-jwt-verify`'s penalty
//! box does: a key published after the cache was filled is accepted on its first use, and a
//! flood of made-up key ids costs the issuer one fetch per 10 s.

use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
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

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<bytes::Bytes>>;

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

/// Whether a JWKS URL is acceptable: https, or http to a loopback host (local runs, tests).
pub fn check_url(url: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(format!(
            "{url:?} must be https (http only for a loopback host)"
        )),
    }
}

impl JwksCache {
    pub fn new(url: http::Uri) -> Result<Self, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("no TLS root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
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
        let unavailable = |e: &dyn std::fmt::Display| JwksError::Unavailable(e.to_string());
        let fetch = async {
            let response = self
                .client
                .get(self.url.clone())
                .await
                .map_err(|e| unavailable(&e))?;
            if !response.status().is_success() {
                return Err(JwksError::Unavailable(format!(
                    "HTTP {}",
                    response.status()
                )));
            }
            let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map_err(|e| unavailable(&e))?
                .to_bytes();
            serde_json::from_slice::<JwkSet>(&body)
                .map_err(|e| unavailable(&format!("not a JWKS document: {e}")))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| JwksError::Unavailable("timed out".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn jwks_urls_must_be_https_except_on_loopback() {
        assert!(
            check_url("https://cognito-idp.eu-west-1.amazonaws.com/x/.well-known/jwks.json")
                .is_ok()
        );
        assert!(check_url("http://127.0.0.1:8080/jwks.json").is_ok());
        assert!(check_url("http://[::1]:8080/jwks.json").is_ok());
        assert!(check_url("http://localhost/jwks.json").is_ok());
        assert!(check_url("http://example.com/jwks.json").is_err());
        assert!(check_url("http://10.0.0.1/jwks.json").is_err());
        assert!(check_url("ftp://127.0.0.1/jwks.json").is_err());
        assert!(check_url("not a url").is_err());
    }
}
