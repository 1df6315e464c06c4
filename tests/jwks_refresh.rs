//! The JWKS cache refreshes its keys at least hourly (SPEC §6): a key the issuer removed stops
//! verifying within the hour, a failed refresh keeps the old keys, and an ageing set is
//! refreshed in the background while lookups go on answering. Time is an injected clock.

mod support;

use change_password::auth::jwks::{
    JwksCache, JwksError, MAX_AGE, REFRESH_AFTER, RETRY_AFTER_FAILURE, UNKNOWN_KID_PENALTY,
};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// A JWKS endpoint on loopback whose key ids the test sets, which can be made to fail.
struct Issuer {
    url: String,
    kids: Arc<Mutex<Vec<&'static str>>>,
    failing: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    async fn start(kids: &[&'static str]) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let kids = Arc::new(Mutex::new(kids.to_vec()));
        let failing = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (k, f, n) = (kids.clone(), failing.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (k, f, n) = (k.clone(), f.clone(), n.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while support::http1::read_request(&mut socket, &mut buf)
                        .await
                        .is_some()
                    {
                        n.fetch_add(1, Ordering::SeqCst);
                        let reply = if f.load(Ordering::SeqCst) {
                            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
                                .to_string()
                        } else {
                            let keys: Vec<String> = k
                                .lock()
                                .unwrap()
                                .iter()
                                .map(|kid| format!(r#"{{"kty":"RSA","kid":"{kid}","alg":"RS256","use":"sig","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}}"#))
                                .collect();
                            let body = format!(r#"{{"keys":[{}]}}"#, keys.join(","));
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                        };
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Issuer {
            url,
            kids,
            failing,
            fetches,
        }
    }

    fn publish(&self, kids: &[&'static str]) {
        *self.kids.lock().unwrap() = kids.to_vec();
    }
}

/// A cache on `issuer` whose clock the test moves.
fn cache(issuer: &Issuer) -> (JwksCache, Arc<AtomicU64>) {
    let base = Instant::now();
    let offset = Arc::new(AtomicU64::new(0));
    let o = offset.clone();
    let cache = JwksCache::new(issuer.url.parse().unwrap())
        .unwrap()
        .with_clock(Arc::new(move || {
            base + Duration::from_secs(o.load(Ordering::SeqCst))
        }));
    (cache, offset)
}

fn ok(r: Result<jsonwebtoken::jwk::Jwk, JwksError>) -> bool {
    r.is_ok()
}

#[tokio::test]
async fn a_removed_key_stops_verifying_within_the_hour() {
    let issuer = Issuer::start(&["old", "new"]).await;
    let (cache, clock) = cache(&issuer);
    assert!(ok(cache.key(Some("old")).await));
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1);
    // The issuer drops "old". Within the first 45 minutes the cached set answers, unasked.
    issuer.publish(&["new"]);
    clock.store(REFRESH_AFTER.as_secs() - 1, Ordering::SeqCst);
    assert!(ok(cache.key(Some("old")).await));
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1);
    // At the hour the set is fetched again before answering: "old" is gone.
    clock.store(MAX_AGE.as_secs(), Ordering::SeqCst);
    assert_eq!(cache.key(Some("old")).await, Err(JwksError::UnknownKey));
    assert!(ok(cache.key(Some("new")).await));
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_old_keys() {
    let issuer = Issuer::start(&["k1"]).await;
    let (cache, clock) = cache(&issuer);
    assert!(ok(cache.key(Some("k1")).await));
    issuer.failing.store(true, Ordering::SeqCst);
    clock.store(MAX_AGE.as_secs() + 60, Ordering::SeqCst);
    assert!(ok(cache.key(Some("k1")).await), "the old set stays in use");
    let tried = issuer.fetches.load(Ordering::SeqCst);
    assert_eq!(tried, 2, "one refresh was tried");
    // Not tried again at every lookup: after 5 s.
    assert!(ok(cache.key(Some("k1")).await));
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), tried);
    issuer.failing.store(false, Ordering::SeqCst);
    issuer.publish(&["k2"]);
    clock.fetch_add(6, Ordering::SeqCst);
    assert_eq!(cache.key(Some("k1")).await, Err(JwksError::UnknownKey));
    assert!(ok(cache.key(Some("k2")).await));
}

#[tokio::test]
async fn an_ageing_set_is_refreshed_in_the_background() {
    let issuer = Issuer::start(&["a"]).await;
    let (cache, clock) = cache(&issuer);
    assert!(ok(cache.key(Some("a")).await));
    issuer.publish(&["b"]);
    clock.store(REFRESH_AFTER.as_secs() + 1, Ordering::SeqCst);
    // Answered from the cached set; the refresh runs beside the lookup.
    assert!(ok(cache.key(Some("a")).await));
    for _ in 0..2000 {
        if issuer.fetches.load(Ordering::SeqCst) == 2 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 2);
    // Once refreshed, "a" is unknown (a refetch confirms it) and "b" is there.
    let mut refreshed = false;
    for _ in 0..2000 {
        if ok(cache.key(Some("b")).await) {
            refreshed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(refreshed);
    assert_eq!(cache.key(Some("a")).await, Err(JwksError::UnknownKey));
}

#[test]
fn the_refresh_ages_are_what_spec_promises() {
    // SPEC §6: refreshed at least every hour; in the background from 45 minutes.
    assert_eq!(MAX_AGE, Duration::from_secs(60 * 60));
    assert_eq!(REFRESH_AFTER, Duration::from_secs(45 * 60));
}

#[tokio::test]
async fn a_token_without_a_key_id_is_verified_only_when_one_key_is_published() {
    let issuer = Issuer::start(&["only"]).await;
    let (one, _) = cache(&issuer);
    assert!(ok(one.key(None).await));
    // With two keys published, no key id names neither.
    let issuer = Issuer::start(&["a", "b"]).await;
    let (cache, _) = cache(&issuer);
    assert_eq!(cache.key(None).await, Err(JwksError::UnknownKey));
    assert!(ok(cache.key(Some("b")).await));
}

#[tokio::test]
async fn after_a_failed_fetch_the_endpoint_is_asked_again_5_s_later_and_not_before() {
    let issuer = Issuer::start(&["k"]).await;
    issuer.failing.store(true, Ordering::SeqCst);
    let (cache, clock) = cache(&issuer);
    assert!(matches!(
        cache.key(Some("k")).await,
        Err(JwksError::Unavailable(_))
    ));
    issuer.failing.store(false, Ordering::SeqCst);
    clock.store(RETRY_AFTER_FAILURE.as_secs() - 1, Ordering::SeqCst);
    assert!(matches!(
        cache.key(Some("k")).await,
        Err(JwksError::Unavailable(_))
    ));
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "held back");
    clock.store(RETRY_AFTER_FAILURE.as_secs(), Ordering::SeqCst);
    assert!(ok(cache.key(Some("k")).await));
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unknown_key_id_holds_refetches_back_for_10_s_and_not_longer() {
    let issuer = Issuer::start(&["k1"]).await;
    let (cache, clock) = cache(&issuer);
    // The first fetch lacks "k2": the penalty starts.
    assert_eq!(cache.key(Some("k2")).await, Err(JwksError::UnknownKey));
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1);
    issuer.publish(&["k1", "k2"]);
    clock.store(UNKNOWN_KID_PENALTY.as_secs() - 1, Ordering::SeqCst);
    assert_eq!(cache.key(Some("k2")).await, Err(JwksError::UnknownKey));
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "held back");
    // A cached key id is not held back.
    assert!(ok(cache.key(Some("k1")).await));
    clock.store(UNKNOWN_KID_PENALTY.as_secs(), Ordering::SeqCst);
    assert!(ok(cache.key(Some("k2")).await));
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_key_set_is_read_up_to_256_kib_and_refused_past_it() {
    // Four RSA keys make about 1.9 KB; eight hundred, about 340 KB.
    let kids = |n: usize| -> Vec<&'static str> {
        (0..n)
            .map(|i| &*Box::leak(format!("key-{i}").into_boxed_str()))
            .collect()
    };
    let issuer = Issuer::start(&kids(4)).await;
    let (small, _) = cache(&issuer);
    assert!(ok(small.key(Some("key-3")).await));
    let issuer = Issuer::start(&kids(800)).await;
    let (cache, _) = cache(&issuer);
    assert!(matches!(
        cache.key(Some("key-3")).await,
        Err(JwksError::Unavailable(_))
    ));
}
