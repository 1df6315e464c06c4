//! Whether a verified caller's token was revoked by a password change (SPEC §7), for callers
//! that see many requests of one user: the marker is read once per user and cached for at most
//! 30 s; with API Gateway's cache of the answer at 30 s or less, a change reaches every API
//! within a minute.

use crate::auth::clock::{Clock, system_clock};
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
    clock: Clock,
    cache: Mutex<HashMap<String, (Instant, Option<RevocationMarker>)>>,
}

impl<M: MarkerSource> RevocationCheck<M> {
    pub fn new(source: M) -> Self {
        RevocationCheck {
            source,
            ttl: MARKER_TTL,
            max_users: MAX_CACHED_USERS,
            clock: system_clock(),
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

    /// Another clock (tests move it instead of waiting for the TTL).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub async fn verdict(&self, principal: &Principal) -> Verdict {
        let marker = match self.cached(&principal.user_id) {
            Some(marker) => marker,
            // The entry's age counts from before the read was sent, so that a slow read does
            // not stretch how long a change takes to be seen.
            None => match ((self.clock)(), self.source.marker(&principal.user_id).await) {
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
        let now = (self.clock)();
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(user_id)
            .filter(|(read, _)| self.is_fresh(*read, now))
            .map(|(_, marker)| marker.clone())
    }

    fn remember(&self, user_id: &str, asked: Instant, marker: Option<RevocationMarker>) {
        let now = (self.clock)();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.max_users {
            cache.retain(|_, (read, _)| self.is_fresh(*read, now));
            if cache.len() >= self.max_users {
                cache.clear();
            }
        }
        cache.insert(user_id.to_string(), (asked, marker));
    }

    fn is_fresh(&self, read: Instant, now: Instant) -> bool {
        now.saturating_duration_since(read) < self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::PrincipalSource;
    use crate::domain::account_store::StoreError;
    use crate::domain::sessions::{IssuedAt, SessionIds, TokenFacts};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// A clock the test moves, in milliseconds from a fixed start.
    #[derive(Clone, Default)]
    struct TestClock(Arc<AtomicU64>);

    impl TestClock {
        fn clock(&self) -> Clock {
            let (start, offset) = (Instant::now(), self.0.clone());
            Arc::new(move || start + Duration::from_millis(offset.load(Ordering::SeqCst)))
        }
        fn advance(&self, by: Duration) {
            self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
        }
    }

    /// A marker source whose every read takes `delay` of the test's clock and is counted.
    struct SlowSource {
        clock: TestClock,
        delay: Duration,
        reads: AtomicUsize,
    }

    impl MarkerSource for &'static SlowSource {
        async fn marker(&self, _: &str) -> Result<Option<RevocationMarker>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.clock.advance(self.delay);
            Ok(Some(RevocationMarker {
                tokens_valid_after: 1_000,
                session: SessionIds::default(),
            }))
        }
    }

    fn slow_source(delay: Duration) -> &'static SlowSource {
        Box::leak(Box::new(SlowSource {
            clock: TestClock::default(),
            delay,
            reads: AtomicUsize::new(0),
        }))
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
        let check =
            RevocationCheck::new(slow_source(Duration::ZERO)).with_ttl(Duration::from_secs(3600));
        assert_eq!(check.ttl, MARKER_TTL);
    }

    #[tokio::test]
    async fn a_marker_is_read_again_once_it_is_exactly_the_ttl_old() {
        let source = slow_source(Duration::ZERO);
        let check = RevocationCheck::new(source).with_clock(source.clock.clock());
        assert_eq!(check.verdict(&caller(999)).await, Verdict::Revoked);
        source.clock.advance(MARKER_TTL - Duration::from_millis(1));
        assert_eq!(check.verdict(&caller(1_000)).await, Verdict::Valid);
        assert_eq!(source.reads.load(Ordering::SeqCst), 1, "still cached");
        source.clock.advance(Duration::from_millis(1));
        check.verdict(&caller(1_000)).await;
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            2,
            "read again at the TTL"
        );
    }

    #[tokio::test]
    async fn a_cached_marker_ages_from_when_it_was_asked_for() {
        // Every read takes 600 ms; the TTL is 800 ms.
        let source = slow_source(Duration::from_millis(600));
        let check = RevocationCheck::new(source)
            .with_ttl(Duration::from_millis(800))
            .with_clock(source.clock.clock());
        assert_eq!(check.verdict(&caller(999)).await, Verdict::Revoked);
        assert_eq!(check.verdict(&caller(1_000)).await, Verdict::Valid);
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            1,
            "the second was cached"
        );
        // 300 ms after the answer, 900 ms after the question: older than the TTL.
        source.clock.advance(Duration::from_millis(300));
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

    #[tokio::test]
    async fn a_full_cache_drops_its_expired_markers_before_its_live_ones() {
        let time = TestClock::default();
        let check = RevocationCheck::new(Markers {
            reads: AtomicUsize::new(0),
        })
        .with_max_users(2)
        .with_clock(time.clock());
        let reads = |c: &RevocationCheck<Markers>| c.source.reads.load(Ordering::SeqCst);
        check.verdict(&user("old")).await;
        time.advance(MARKER_TTL / 2);
        check.verdict(&user("revoked-live")).await;
        // "old" has expired, "revoked-live" has not: a third user takes the place of "old" only.
        time.advance(MARKER_TTL / 2);
        check.verdict(&user("new")).await;
        assert_eq!(reads(&check), 3);
        assert_eq!(check.cache.lock().unwrap().len(), 2);
        assert_eq!(check.verdict(&user("revoked-live")).await, Verdict::Revoked);
        assert_eq!(reads(&check), 3, "the live marker was kept");
    }
}
