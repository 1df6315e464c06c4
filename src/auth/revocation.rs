//! Whether a verified caller's token was revoked by a password change (SPEC §7), for callers
//! that see many requests of one user: the marker is read once per user and cached for at most
//! 30 s; with API Gateway's cache of the answer at 30 s or less, a change reaches every API
//! within a minute.

use crate::auth::principal::Principal;
use crate::domain::sessions::{MarkerSource, RevocationMarker};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a user's marker is trusted before it is read again.
pub const MARKER_TTL: Duration = Duration::from_secs(30);
/// Users whose marker is kept at once; past that the expired entries go, then all of them.
pub const MAX_CACHED_USERS: usize = 10_000;

/// What the marker says of a caller's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// Issued before the user's last password change, and not of the changing session.
    Revoked,
    /// The marker could not be read and none is cached: the caller is refused (fail closed).
    Unknown(String),
}

pub struct RevocationCheck<M> {
    source: M,
    ttl: Duration,
    max_users: usize,
    cache: Mutex<HashMap<String, (Instant, Option<RevocationMarker>)>>,
}

impl<M: MarkerSource> RevocationCheck<M> {
    pub fn new(source: M) -> Self {
        RevocationCheck {
            source,
            ttl: MARKER_TTL,
            max_users: MAX_CACHED_USERS,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Another time to trust a cached marker (at most [`MARKER_TTL`]; tests use less).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.min(MARKER_TTL);
        self
    }

    /// Another bound on the users kept at once (at least 1; tests fill a small one).
    pub fn with_max_users(mut self, max_users: usize) -> Self {
        self.max_users = max_users.max(1);
        self
    }

    pub async fn verdict(&self, principal: &Principal) -> Verdict {
        let marker = match self.cached(&principal.user_id) {
            Some(marker) => marker,
            // The entry's age counts from before the read was sent, so that a slow read does
            // not stretch how long a change takes to be seen.
            None => match (Instant::now(), self.source.marker(&principal.user_id).await) {
                (asked, Ok(marker)) => {
                    self.remember(&principal.user_id, asked, marker.clone());
                    marker
                }
                (_, Err(e)) => return Verdict::Unknown(e.to_string()),
            },
        };
        match marker {
            Some(marker) if marker.refuses(&principal.token) => Verdict::Revoked,
            _ => Verdict::Valid,
        }
    }

    fn cached(&self, user_id: &str) -> Option<Option<RevocationMarker>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(user_id)
            .filter(|(read, _)| read.elapsed() < self.ttl)
            .map(|(_, marker)| marker.clone())
    }

    fn remember(&self, user_id: &str, asked: Instant, marker: Option<RevocationMarker>) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.max_users {
            cache.retain(|_, (read, _)| read.elapsed() < self.ttl);
            if cache.len() >= self.max_users {
                cache.clear();
            }
        }
        cache.insert(user_id.to_string(), (asked, marker));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::PrincipalSource;
    use crate::domain::account_store::StoreError;
    use crate::domain::sessions::{IssuedAt, SessionIds, TokenFacts};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A marker source whose every read takes `delay` and is counted.
    struct SlowSource {
        delay: Duration,
        reads: AtomicUsize,
    }

    impl MarkerSource for &'static SlowSource {
        async fn marker(&self, _: &str) -> Result<Option<RevocationMarker>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            Ok(Some(RevocationMarker {
                tokens_valid_after: 1_000,
                session: SessionIds::default(),
            }))
        }
    }

    fn caller(iat: i64) -> Principal {
        Principal {
            user_id: "u-1".into(),
            source: PrincipalSource::BearerToken,
            token: TokenFacts {
                issued_at: IssuedAt::At(iat),
                ..TokenFacts::default()
            },
            kind: Default::default(),
        }
    }

    #[test]
    fn no_marker_is_trusted_for_longer_than_the_ttl() {
        let source: &'static SlowSource = Box::leak(Box::new(SlowSource {
            delay: Duration::ZERO,
            reads: AtomicUsize::new(0),
        }));
        let check = RevocationCheck::new(source).with_ttl(Duration::from_secs(3600));
        assert_eq!(check.ttl, MARKER_TTL);
    }

    #[tokio::test]
    async fn a_cached_marker_ages_from_when_it_was_asked_for() {
        let source: &'static SlowSource = Box::leak(Box::new(SlowSource {
            delay: Duration::from_millis(600),
            reads: AtomicUsize::new(0),
        }));
        let check = RevocationCheck::new(source).with_ttl(Duration::from_millis(800));
        assert_eq!(check.verdict(&caller(999)).await, Verdict::Revoked);
        assert_eq!(check.verdict(&caller(1_000)).await, Verdict::Valid);
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            1,
            "the second was cached"
        );
        // 300 ms after the answer, 900 ms after the question: older than the TTL.
        tokio::time::sleep(Duration::from_millis(300)).await;
        check.verdict(&caller(1_000)).await;
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
    }

    /// A source that answers a marker for "revoked-*" users and counts its reads.
    struct Markers {
        reads: AtomicUsize,
    }

    impl MarkerSource for Markers {
        async fn marker(&self, user_id: &str) -> Result<Option<RevocationMarker>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(user_id.starts_with("revoked").then(|| RevocationMarker {
                tokens_valid_after: 2_000,
                session: SessionIds::default(),
            }))
        }
    }

    fn user(id: &str) -> Principal {
        Principal {
            user_id: id.into(),
            ..caller(1_000)
        }
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_cap_and_an_evicted_marker_is_read_again() {
        let check = RevocationCheck::new(Markers {
            reads: AtomicUsize::new(0),
        })
        .with_max_users(2);
        let reads = |c: &RevocationCheck<Markers>| c.source.reads.load(Ordering::SeqCst);
        let size = |c: &RevocationCheck<Markers>| c.cache.lock().unwrap().len();
        assert_eq!(check.verdict(&user("revoked-a")).await, Verdict::Revoked);
        assert_eq!(check.verdict(&user("b")).await, Verdict::Valid);
        assert_eq!((reads(&check), size(&check)), (2, 2));
        // Cached within the TTL: no read.
        assert_eq!(check.verdict(&user("revoked-a")).await, Verdict::Revoked);
        assert_eq!(reads(&check), 2);
        // A third user: the cache is full of live entries, so it starts again.
        for (i, id) in ["c", "d", "e", "f"].into_iter().enumerate() {
            assert_eq!(check.verdict(&user(id)).await, Verdict::Valid);
            assert!(size(&check) <= 2, "bounded after {} more users", i + 1);
        }
        // "revoked-a" was evicted: its marker is read again, and still refuses the token.
        let before = reads(&check);
        assert_eq!(check.verdict(&user("revoked-a")).await, Verdict::Revoked);
        assert_eq!(reads(&check), before + 1);
        assert!(size(&check) <= 2);
    }
}
