//! The change use case on the in-memory store: every rule, in SPEC §4 order.

#[path = "support/scripted_store.rs"]
mod scripted_store;
#[path = "support/store_contract.rs"]
mod store_contract;

use change_password::domain::account::{AccountRecord, AccountStatus, AccountType};
use change_password::domain::account_store::InMemoryAccountStore;
use change_password::domain::breached::{
    BreachedPasswords, LookupFailed, LookupFuture, WhenUnavailable,
};
use change_password::domain::change_password::{
    ChangeError, ChangePasswordService, ChangeRequest, Changed, Clock, ProtectionSettings,
    RefreshTokens,
};
use change_password::domain::issue::{Field, codes};
use change_password::domain::password_hashing::{
    Argon2Hasher, Argon2Settings, HashingError, PasswordHashing, PepperKeys,
};
use change_password::domain::password_policy::PasswordPolicy;
use change_password::domain::pepper::StaticPepper;
use change_password::domain::sessions::{
    IssuedAt, RefreshTokenRevoker, RequestOrigin, RevokeFailed, RevokeFuture, SessionIds,
    TokenFacts,
};
use scripted_store::{CommitScript, ScriptedStore};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use unicode_normalization::UnicodeNormalization;

const USER: &str = "user-1";
const CURRENT: &str = "correct horse battery staple";
const NEW: &str = "violet-Harbor-Lantern-42";

/// argon2 with small parameters, counting every call.
struct CountingHasher {
    inner: Argon2Hasher,
    calls: AtomicUsize,
    /// When above 0, a verify waits (5 s at most) until that many calls have started.
    gate: AtomicUsize,
}

impl PasswordHashing for CountingHasher {
    fn hash(&self, password: &str, pepper: &PepperKeys) -> Result<String, HashingError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.hash(password, pepper)
    }
    fn verify(&self, password: &str, phc: &str, pepper: &PepperKeys) -> Result<bool, HashingError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.calls.load(Ordering::SeqCst) < self.gate.load(Ordering::SeqCst)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.inner.verify(password, phc, pepper)
    }
}

struct Fixture {
    store: Arc<InMemoryAccountStore>,
    hasher: Arc<CountingHasher>,
    service: ChangePasswordService<InMemoryAccountStore>,
    now: Arc<AtomicI64>,
    /// Seconds the clock moves on after each reading (0: it stands still).
    tick: Arc<AtomicI64>,
}

fn small() -> Argon2Settings {
    Argon2Settings {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    }
}

fn fixture_with(protection: ProtectionSettings, pepper: PepperKeys) -> Fixture {
    let store = Arc::new(InMemoryAccountStore::new());
    let hasher = Arc::new(CountingHasher {
        inner: Argon2Hasher::new(small()),
        calls: AtomicUsize::new(0),
        gate: AtomicUsize::new(0),
    });
    let now = Arc::new(AtomicI64::new(1_800_000_000));
    let tick = Arc::new(AtomicI64::new(0));
    let (clock_now, clock_tick) = (now.clone(), tick.clone());
    let clock: Clock = Arc::new(move || {
        let at = clock_now.fetch_add(clock_tick.load(Ordering::SeqCst), Ordering::SeqCst);
        time::OffsetDateTime::from_unix_timestamp(at).unwrap()
    });
    let pepper = Arc::new(pepper);
    let mut record = AccountRecord::new_user(USER, hasher.inner.hash(CURRENT, &pepper).unwrap());
    record.email = Some("jane.doe@example.com".into());
    record.username = Some("janedoe".into());
    store.put(record);
    let service = ChangePasswordService::new(
        store.clone(),
        hasher.clone(),
        Arc::new(StaticPepper(pepper)),
        PasswordPolicy::default(),
        protection,
        clock,
    );
    Fixture {
        store,
        hasher,
        service,
        now,
        tick,
    }
}

fn fixture() -> Fixture {
    fixture_with(ProtectionSettings::default(), PepperKeys::none())
}

/// A request of a caller a Lambda authorizer vouched for (so that a change does not revoke the
/// next request's token; the tests of revocation set the token themselves).
fn req(current: Option<&str>, new: Option<&str>) -> ChangeRequest {
    ChangeRequest {
        current_password: current.map(String::from),
        new_password: new.map(String::from),
        token: TokenFacts {
            issued_at: IssuedAt::VouchedByAuthorizer,
            ..TokenFacts::default()
        },
        ..ChangeRequest::default()
    }
}

fn invalid_codes(err: ChangeError) -> Vec<&'static str> {
    match err {
        ChangeError::Invalid(issues) => issues.iter().map(|i| i.code).collect(),
        other => panic!("expected validation errors, got {other:?}"),
    }
}

#[tokio::test]
async fn change_succeeds_and_stores_a_verifying_argon2id_hash() {
    let f = fixture();
    let before = f.store.get(USER).unwrap();
    let changed = f
        .service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    assert_eq!(changed.new_version, 1);
    let after = f.store.get(USER).unwrap();
    let hash = after.password_hash.clone().unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
    assert!(
        f.hasher
            .inner
            .verify(NEW, &hash, &PepperKeys::none())
            .unwrap()
    );
    assert_eq!(after.password_version, Some(1));
    assert_eq!(after.password_history, vec![before.password_hash.unwrap()]);
    assert!(after.password_changed_at.unwrap().ends_with('Z'));
    // Other attributes are untouched.
    assert_eq!(after.email, before.email);
    assert_eq!(after.username, before.username);
}

#[tokio::test]
async fn nfc_is_stored_and_legacy_nfkc_hashes_keep_verifying() {
    let f = fixture();
    // A hash stored before NFC was the rule: over the NFKC form, where the ligature U+FB01
    // "ﬁ" became "fi". NFC keeps the ligature, so the NFC form fails and the NFKC form
    // verifies: still one attempt.
    let mut record = f.store.get(USER).unwrap();
    record.password_hash = Some(
        f.hasher
            .inner
            .hash("fine horse battery staple", &PepperKeys::none())
            .unwrap(),
    );
    f.store.put(record);
    // The new password is sent decomposed ("e" + combining acute), which NFC composes.
    let composed = "viol\u{E9}t-Harbor-Lantern-42";
    let decomposed = "viole\u{301}t-Harbor-Lantern-42";
    assert_eq!(decomposed.nfc().collect::<String>(), composed);
    f.service
        .change(
            USER,
            req(Some("\u{FB01}ne horse battery staple"), Some(decomposed)),
        )
        .await
        .unwrap();
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 0);
    // The new hash is over the NFC form (checked by an independent argon2 implementation).
    let hash = f.store.get(USER).unwrap().password_hash.unwrap();
    assert!(rust_argon2::verify_encoded(&hash, composed.as_bytes()).unwrap());
    assert!(!rust_argon2::verify_encoded(&hash, decomposed.as_bytes()).unwrap());
    // NFC is not NFKC: full-width letters are other characters, kept as sent.
    let wide = "\u{FF56}\u{FF49}\u{FF4F}\u{FF4C}\u{FF45}\u{FF54}-Harbor-Lantern-42";
    f.service
        .change(USER, req(Some(decomposed), Some(wide)))
        .await
        .unwrap();
    let hash = f.store.get(USER).unwrap().password_hash.unwrap();
    assert!(rust_argon2::verify_encoded(&hash, wide.as_bytes()).unwrap());
}

#[tokio::test]
async fn passwords_are_never_trimmed() {
    let f = fixture();
    let err = f
        .service
        .change(USER, req(Some(&format!(" {CURRENT}")), Some(NEW)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChangeError::CurrentPasswordIncorrect { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_fields_are_all_reported_without_argon2_or_counting() {
    let f = fixture();
    let codes_seen = invalid_codes(
        f.service
            .change(USER, req(None, Some("")))
            .await
            .unwrap_err(),
    );
    assert_eq!(codes_seen, vec![codes::REQUIRED, codes::REQUIRED]);
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), 0);
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 0);
}

#[tokio::test]
async fn every_rule_on_the_new_password_is_reported_together() {
    let f = fixture();
    // Short and the username itself, and the current password is also wrong: the
    // validation errors win and the wrong current password is never checked or counted.
    let err = f
        .service
        .change(USER, req(Some("wrong"), Some("JaneDoe")))
        .await
        .unwrap_err();
    let ChangeError::Invalid(issues) = err else {
        panic!("{err:?}")
    };
    let seen: Vec<_> = issues.iter().map(|i| i.code).collect();
    assert_eq!(
        seen,
        vec![codes::PASSWORD_TOO_SHORT, codes::PASSWORD_BLOCKLISTED]
    );
    assert!(
        issues[1]
            .metadata
            .contains(&("List", "Identifier".to_string()))
    );
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), 0);
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.failed_attempts, 0);
    assert_eq!(record.password_version, None);
}

#[tokio::test]
async fn unchanged_password_is_a_validation_error() {
    let f = fixture();
    let seen = invalid_codes(
        f.service
            .change(USER, req(Some(CURRENT), Some(CURRENT)))
            .await
            .unwrap_err(),
    );
    assert!(seen.contains(&codes::PASSWORD_UNCHANGED), "{seen:?}");
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn input_issues_from_the_adapter_are_reported_at_validation() {
    let f = fixture();
    let request = ChangeRequest {
        input_issues: vec![change_password::domain::issue::Issue::validation(
            codes::INVALID_REQUEST_BODY,
            None,
            "bad",
        )],
        ..ChangeRequest::default()
    };
    let seen = invalid_codes(f.service.change(USER, request).await.unwrap_err());
    assert_eq!(seen, vec![codes::INVALID_REQUEST_BODY]);
}

#[tokio::test]
async fn wrong_current_password_counts_and_locks_at_the_threshold() {
    let f = fixture();
    for remaining in (1..=4).rev() {
        match f
            .service
            .change(USER, req(Some("not the password"), Some(NEW)))
            .await
            .unwrap_err()
        {
            ChangeError::CurrentPasswordIncorrect { remaining_attempts } => {
                assert_eq!(remaining_attempts, Some(remaining))
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 4);
    // The fifth wrong attempt locks.
    let err = f
        .service
        .change(USER, req(Some("not the password"), Some(NEW)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChangeError::AccountLocked { retry_after: 900 }),
        "{err:?}"
    );
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.locked_until, Some(1_800_000_900));
    // While locked, even the right password is refused, with no argon2 work at all.
    let calls = f.hasher.calls.load(Ordering::SeqCst);
    f.now.fetch_add(100, Ordering::SeqCst);
    let err = f
        .service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChangeError::AccountLocked { retry_after: 800 }),
        "{err:?}"
    );
    assert_eq!(
        f.hasher.calls.load(Ordering::SeqCst),
        calls,
        "a locked account must cost no argon2"
    );
    // After the lock, the right password works and resets the counter.
    f.now.fetch_add(800, Ordering::SeqCst);
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    let record = f.store.get(USER).unwrap();
    assert_eq!((record.failed_attempts, record.locked_until), (0, None));
}

#[tokio::test]
async fn success_resets_the_failure_counter() {
    let f = fixture();
    f.service
        .change(USER, req(Some("nope nope nope"), Some(NEW)))
        .await
        .unwrap_err();
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 1);
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 0);
}

#[tokio::test]
async fn lockout_threshold_zero_turns_it_off() {
    let f = fixture_with(
        ProtectionSettings {
            lockout_threshold: 0,
            ..ProtectionSettings::default()
        },
        PepperKeys::none(),
    );
    for _ in 0..7 {
        let err = f
            .service
            .change(USER, req(Some("nope nope"), Some(NEW)))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ChangeError::CurrentPasswordIncorrect {
                    remaining_attempts: None
                }
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn reused_passwords_are_refused_with_the_history_depth() {
    let f = fixture();
    let passwords = [
        "first-Quartz-Meadow-81",
        "second-Velvet-Canyon-27",
        "third-Amber-Glacier-64",
    ];
    let mut current = CURRENT.to_string();
    for p in passwords {
        f.service
            .change(USER, req(Some(&current), Some(p)))
            .await
            .unwrap();
        current = p.to_string();
    }
    // The original and the first are in the history.
    for old in [CURRENT, passwords[0], passwords[1]] {
        match f
            .service
            .change(USER, req(Some(&current), Some(old)))
            .await
            .unwrap_err()
        {
            ChangeError::PasswordReused { depth } => assert_eq!(depth, 5),
            other => panic!("{old}: {other:?}"),
        }
    }
    let history = f.store.get(USER).unwrap().password_history;
    assert_eq!(history.len(), 3);
}

#[tokio::test]
async fn history_is_capped_at_its_depth() {
    let f = fixture_with(
        ProtectionSettings {
            history_depth: 2,
            ..ProtectionSettings::default()
        },
        PepperKeys::none(),
    );
    let passwords = [
        "first-Quartz-Meadow-81",
        "second-Velvet-Canyon-27",
        "third-Amber-Glacier-64",
    ];
    let mut current = CURRENT.to_string();
    for p in passwords {
        f.service
            .change(USER, req(Some(&current), Some(p)))
            .await
            .unwrap();
        current = p.to_string();
    }
    assert_eq!(f.store.get(USER).unwrap().password_history.len(), 2);
    // Three changes ago is out of the window of two: allowed again.
    f.service
        .change(USER, req(Some(&current), Some(CURRENT)))
        .await
        .unwrap();
}

#[tokio::test]
async fn history_zero_keeps_nothing() {
    let f = fixture_with(
        ProtectionSettings {
            history_depth: 0,
            ..ProtectionSettings::default()
        },
        PepperKeys::none(),
    );
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    assert!(f.store.get(USER).unwrap().password_history.is_empty());
    f.service
        .change(USER, req(Some(NEW), Some(CURRENT)))
        .await
        .unwrap();
}

#[tokio::test]
async fn account_states() {
    let f = fixture();
    assert!(matches!(
        f.service
            .change("nobody", req(Some(CURRENT), Some(NEW)))
            .await,
        Err(ChangeError::AccountNotFound)
    ));
    let mut record = f.store.get(USER).unwrap();
    record.account_type = AccountType::Service;
    f.store.put(record.clone());
    assert!(matches!(
        f.service.change(USER, req(Some(CURRENT), Some(NEW))).await,
        Err(ChangeError::ServiceAccount)
    ));
    record.account_type = AccountType::User;
    record.status = AccountStatus::Disabled;
    f.store.put(record);
    assert!(matches!(
        f.service.change(USER, req(Some(CURRENT), Some(NEW))).await,
        Err(ChangeError::AccountDisabled)
    ));
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn weaker_or_other_variant_hashes_are_upgraded_on_change() {
    let f = fixture();
    let weak = argon2_legacy(CURRENT);
    // The precondition: the stored hash is outdated for the configured parameters.
    assert!(change_password::domain::password_hashing::is_outdated(
        &weak,
        &small()
    ));
    let mut record = f.store.get(USER).unwrap();
    record.password_hash = Some(weak.clone());
    f.store.put(record);
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    // The upgrade, on what was stored: argon2id with the configured parameters, no longer
    // outdated, verifying the new password; the argon2i hash went to the history.
    let after = f.store.get(USER).unwrap();
    let hash = after.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{hash}");
    assert!(!change_password::domain::password_hashing::is_outdated(
        &hash,
        &small()
    ));
    assert!(rust_argon2::verify_encoded(&hash, NEW.as_bytes()).unwrap());
    assert_eq!(after.password_history, vec![weak]);
}

/// An argon2i hash with other parameters, as another system would have stored it.
fn argon2_legacy(password: &str) -> String {
    let config = rust_argon2::Config {
        variant: rust_argon2::Variant::Argon2i,
        mem_cost: 64,
        time_cost: 3,
        lanes: 1,
        ..rust_argon2::Config::default()
    };
    rust_argon2::hash_encoded(password.as_bytes(), b"legacysalt16byte", &config).unwrap()
}

#[tokio::test]
async fn pepper_rotation_end_to_end() {
    let k1 = PepperKeys::new(
        "k1",
        HashMap::from([("k1".into(), b"pepper-one-32-bytes-long-enough!".to_vec())]),
    )
    .unwrap();
    let f = fixture_with(ProtectionSettings::default(), k1);
    // Hashed under k1 (the fixture used it for the stored hash).
    let stored = f.store.get(USER).unwrap().password_hash.unwrap();
    assert!(stored.contains("keyid="));
    // k2 becomes current; the user can still change, and the new hash uses k2.
    let k2 = PepperKeys::new(
        "k2",
        HashMap::from([
            ("k1".into(), b"pepper-one-32-bytes-long-enough!".to_vec()),
            ("k2".into(), b"pepper-two-32-bytes-long-enough!".to_vec()),
        ]),
    )
    .unwrap();
    let service = ChangePasswordService::new(
        f.store.clone(),
        f.hasher.clone(),
        Arc::new(StaticPepper(Arc::new(k2.clone()))),
        PasswordPolicy::default(),
        ProtectionSettings::default(),
        Arc::new(time::OffsetDateTime::now_utc),
    );
    service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    let hash = f.store.get(USER).unwrap().password_hash.unwrap();
    // "k2" in PHC B64 (no padding) is "azI".
    assert!(hash.contains(",keyid=azI$"), "{hash}");
    assert!(f.hasher.inner.verify(NEW, &hash, &k2).unwrap());
}

#[tokio::test]
async fn concurrent_changes_have_exactly_one_winner() {
    let f = Arc::new(fixture());
    let mut tasks = Vec::new();
    for i in 0..6 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let new = format!("racer-{i}-Violet-Harbor-Lantern");
            (
                new.clone(),
                f.service.change(USER, req(Some(CURRENT), Some(&new))).await,
            )
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (new, result) = t.await.unwrap();
        match result {
            Ok(_) => winners.push(new),
            // Racers reserve an attempt each before argon2: with six racers and five attempts,
            // the fifth reservation locks the account, pending until its verify ends. A racer
            // that asks meanwhile is told attempts are in flight (429); one whose write meets
            // the lock (until the right password lifts it) is told it is locked.
            Err(
                ChangeError::Conflict
                | ChangeError::CurrentPasswordIncorrect { .. }
                | ChangeError::AccountLocked { .. }
                | ChangeError::AttemptsInFlight { .. },
            ) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.password_version, Some(1));
    assert!(
        f.hasher
            .inner
            .verify(
                &winners[0],
                &record.password_hash.unwrap(),
                &PepperKeys::none()
            )
            .unwrap()
    );
}

/// The service on a store whose first write is applied but its answer lost, or (with
/// `reread_fails`) refused with every read after it failing.
fn lost_answer_service(
    reread_fails: bool,
) -> (
    Arc<Argon2Hasher>,
    Arc<ScriptedStore>,
    ChangePasswordService<ScriptedStore>,
) {
    let hasher = Arc::new(Argon2Hasher::new(small()));
    let script = match reread_fails {
        true => CommitScript::RefusedThenUnreadable,
        false => CommitScript::FirstAnswerLost,
    };
    let store = Arc::new(ScriptedStore::new(
        script,
        AccountRecord::new_user(USER, hasher.hash(CURRENT, &PepperKeys::none()).unwrap()),
    ));
    let service = ChangePasswordService::new(
        store.clone(),
        hasher.clone(),
        Arc::new(StaticPepper::none()),
        PasswordPolicy::default(),
        ProtectionSettings::default(),
        Arc::new(time::OffsetDateTime::now_utc),
    );
    (hasher, store, service)
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_still_a_success() {
    let (hasher, store, service) = lost_answer_service(false);
    let changed = service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    assert_eq!(changed.new_version, 1);
    let hash = store.inner.get(USER).unwrap().password_hash.unwrap();
    assert!(hasher.verify(NEW, &hash, &PepperKeys::none()).unwrap());
}

#[tokio::test]
async fn a_lost_write_whose_outcome_cannot_be_read_is_a_503_not_a_409() {
    let (_, store, service) = lost_answer_service(true);
    let err = service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::Unavailable(_)), "{err:?}");
    assert_eq!(store.inner.get(USER).unwrap().password_version, None);
}

async fn wrong(f: &Fixture) -> ChangeError {
    f.service
        .change(USER, req(Some("not the password"), Some(NEW)))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_burst_of_wrong_guesses_runs_at_most_the_threshold_of_verifies() {
    let f = Arc::new(fixture());
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move { wrong(&f).await }));
    }
    let mut incorrect = 0;
    let mut locked = 0;
    for t in tasks {
        match t.await.unwrap() {
            ChangeError::CurrentPasswordIncorrect { .. } => incorrect += 1,
            // Locked, or refused for seconds while the lock awaited the last verify.
            ChangeError::AccountLocked { .. } | ChangeError::AttemptsInFlight { .. } => locked += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        f.hasher.calls.load(Ordering::SeqCst),
        5,
        "one verify per attempt"
    );
    // Those of the first four whose argon2 ended after the fifth took the last attempt see the
    // lock (below); how many did depends on the scheduling.
    assert_eq!(incorrect + locked, 12);
    assert!(incorrect <= 4, "{incorrect} answered 400");
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.locked_until, Some(1_800_000_900));
    assert_eq!(record.failed_attempts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_in_flight_when_the_lock_is_set_answer_429_not_400() {
    let f = Arc::new(fixture());
    // Every verify waits until five have started: all five attempts are taken, and the lock
    // set, while the first four guesses are still in argon2.
    f.hasher.gate.store(5, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move { wrong(&f).await }));
    }
    let mut full_locks = 0;
    for t in tasks {
        match t.await.unwrap() {
            ChangeError::AccountLocked { retry_after } => {
                assert_eq!(retry_after, 900);
                full_locks += 1;
            }
            // Answered while the lock still awaited the verify of the attempt that set it.
            ChangeError::AttemptsInFlight { retry_after } => assert!(retry_after <= 10),
            other => panic!("a guess answered {other:?} while the account was locked"),
        }
    }
    assert!(full_locks >= 1, "the attempt that set the lock answers it");
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), 5);
    assert_eq!(
        f.store.get(USER).unwrap().lock_pending_until,
        None,
        "confirmed"
    );
    let record = f.store.get(USER).unwrap();
    assert_eq!(
        (record.failed_attempts, record.locked_until),
        (0, Some(1_800_000_900))
    );
}

#[tokio::test]
async fn remaining_attempts_count_the_attempts_others_took_meanwhile() {
    let f = Arc::new(fixture());
    // Three wrong guesses at once, each verify held until all three have started: each
    // answers with what is left after all three, not after its own.
    f.hasher.gate.store(3, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move { wrong(&f).await }));
    }
    for t in tasks {
        match t.await.unwrap() {
            ChangeError::CurrentPasswordIncorrect { remaining_attempts } => {
                assert_eq!(remaining_attempts, Some(2))
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 3);
}

#[tokio::test]
async fn a_right_password_on_the_last_attempt_lifts_the_lock_it_set() {
    let f = fixture();
    for _ in 0..4 {
        wrong(&f).await;
    }
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    let record = f.store.get(USER).unwrap();
    assert_eq!((record.failed_attempts, record.locked_until), (0, None));
    assert_eq!(record.password_version, Some(1));
}

#[tokio::test]
async fn a_right_password_clears_the_count_even_when_the_change_stops_on_reuse() {
    let f = fixture();
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    for _ in 0..3 {
        wrong(&f).await;
    }
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 3);
    let err = f
        .service
        .change(USER, req(Some(NEW), Some(CURRENT)))
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::PasswordReused { .. }), "{err:?}");
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 0);
}

#[tokio::test]
async fn a_retried_change_answers_already_changed_and_counts_nothing() {
    for history_depth in [5, 0] {
        let f = fixture_with(
            ProtectionSettings {
                history_depth,
                ..ProtectionSettings::default()
            },
            PepperKeys::none(),
        );
        f.service
            .change(USER, req(Some(CURRENT), Some(NEW)))
            .await
            .unwrap();
        wrong(&f).await;
        let before = f.store.get(USER).unwrap();
        assert_eq!(before.failed_attempts, 1);
        f.now.fetch_add(599, Ordering::SeqCst);
        let retried = f
            .service
            .change(USER, req(Some(CURRENT), Some(NEW)))
            .await
            .unwrap();
        assert!(retried.retried);
        assert_eq!(retried.new_version, 1);
        let codes: Vec<_> = retried.warnings.iter().map(|w| w.code).collect();
        assert!(
            codes.contains(&codes::PASSWORD_ALREADY_CHANGED),
            "{codes:?}"
        );
        assert_eq!(
            f.store.get(USER).unwrap(),
            before,
            "nothing written, nothing counted"
        );
        // Ten minutes after the change, it is a wrong password like any other.
        f.now.fetch_add(1, Ordering::SeqCst);
        let err = f
            .service
            .change(USER, req(Some(CURRENT), Some(NEW)))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ChangeError::CurrentPasswordIncorrect {
                    remaining_attempts: Some(3)
                }
            ),
            "history {history_depth}: {err:?}"
        );
    }
}

#[tokio::test]
async fn only_the_same_change_is_a_retry() {
    let f = fixture();
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    // The previous password with another new one: a wrong current password, counted.
    let err = f
        .service
        .change(USER, req(Some(CURRENT), Some("another-Quokka-Harbour-77")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChangeError::CurrentPasswordIncorrect {
                remaining_attempts: Some(4)
            }
        ),
        "{err:?}"
    );
    // The retry of the last attempt that locks gives the attempt back and lifts the lock.
    for _ in 0..3 {
        wrong(&f).await;
    }
    let retried = f
        .service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    assert!(retried.retried);
    let record = f.store.get(USER).unwrap();
    assert_eq!((record.failed_attempts, record.locked_until), (4, None));
}

#[tokio::test]
async fn a_hash_of_an_unnormalised_password_verifies_within_one_attempt() {
    // Imported from a system that hashed the password as typed: decomposed ("e" + combining
    // acute), which NFC (and NFKC) compose.
    let raw = "cafe\u{301} horse battery staple";
    assert_ne!(
        change_password::domain::password_policy::normalize(raw),
        raw
    );
    let f = fixture();
    let mut record = f.store.get(USER).unwrap();
    record.password_hash = Some(f.hasher.inner.hash(raw, &PepperKeys::none()).unwrap());
    f.store.put(record);
    // A wrong password typed the same way: both forms are tried, one attempt is counted.
    let err = f
        .service
        .change(
            USER,
            req(Some("wronge\u{301} horse battery staple"), Some(NEW)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChangeError::CurrentPasswordIncorrect {
                remaining_attempts: Some(4)
            }
        ),
        "{err:?}"
    );
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), 2);
    f.service
        .change(USER, req(Some(raw), Some(NEW)))
        .await
        .unwrap();
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.failed_attempts, 0);
    assert!(
        f.hasher
            .inner
            .verify(NEW, &record.password_hash.unwrap(), &PepperKeys::none())
            .unwrap()
    );
}

fn with_token(current: &str, new: &str, iat: IssuedAt, jti: &str) -> ChangeRequest {
    use change_password::domain::sessions::SessionIds;
    ChangeRequest {
        token: TokenFacts {
            issued_at: iat,
            session: SessionIds {
                jti: Some(jti.into()),
                ..SessionIds::default()
            },
            ..TokenFacts::default()
        },
        ..req(Some(current), Some(new))
    }
}

#[tokio::test]
async fn after_a_change_older_tokens_are_refused_but_the_changing_session() {
    use change_password::domain::sessions::IssuedAt::{At, Unknown, VouchedByAuthorizer};
    let f = fixture();
    let changed_at = f.now.load(Ordering::SeqCst);
    f.service
        .change(
            USER,
            with_token(CURRENT, NEW, At(changed_at - 60), "session-a"),
        )
        .await
        .unwrap();
    let marker = f.store.get(USER).unwrap().revocation.unwrap();
    assert_eq!(marker.tokens_valid_after, changed_at);
    assert_eq!(marker.session.jti.as_deref(), Some("session-a"));
    f.now.fetch_add(5, Ordering::SeqCst);
    let other = "yet-another-Quokka-77";
    // Another session's token from before the change: refused before any argon2 or count.
    let calls = f.hasher.calls.load(Ordering::SeqCst);
    let err = f
        .service
        .change(
            USER,
            with_token(NEW, other, At(changed_at - 1), "session-b"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::TokenRevoked), "{err:?}");
    let err = f
        .service
        .change(USER, with_token(NEW, other, Unknown, "session-b"))
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::TokenRevoked), "{err:?}");
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), calls);
    assert_eq!(f.store.get(USER).unwrap().failed_attempts, 0);
    // A token issued since, a Lambda authorizer's word, and the changing session pass.
    for (iat, jti) in [
        (At(changed_at), "session-c"),
        (VouchedByAuthorizer, "session-d"),
        (At(changed_at - 60), "session-a"),
    ] {
        let err = f
            .service
            .change(USER, with_token("wrong one", other, iat, jti))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ChangeError::CurrentPasswordIncorrect { .. }),
            "{iat:?} {jti}: {err:?}"
        );
    }
}

#[tokio::test]
async fn tokens_valid_after_is_the_time_of_the_write_not_of_the_request() {
    use change_password::domain::sessions::IssuedAt::At;
    let f = fixture();
    // Every reading of the clock is a second later than the one before.
    f.tick.store(1, Ordering::SeqCst);
    let started = f.now.load(Ordering::SeqCst);
    f.service
        .change(
            USER,
            with_token(CURRENT, NEW, At(started - 60), "session-a"),
        )
        .await
        .unwrap();
    let last_reading = f.now.load(Ordering::SeqCst) - 1;
    assert!(last_reading > started, "the clock was read more than once");
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.revocation.unwrap().tokens_valid_after, last_reading);
    let changed_at = time::OffsetDateTime::from_unix_timestamp(last_reading)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(
        record.password_changed_at.as_deref(),
        Some(changed_at.as_str())
    );
    // A token another session obtained while the change was under way is refused.
    f.tick.store(0, Ordering::SeqCst);
    let err = f
        .service
        .change(
            USER,
            with_token(NEW, "yet-another-Quokka-77", At(started), "session-b"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::TokenRevoked), "{err:?}");
}

#[tokio::test]
async fn unchanged_is_judged_after_nfc_in_both_directions() {
    // The same password composed and decomposed: NFC makes them one.
    let composed = "caf\u{E9} horse battery staple";
    let decomposed = "cafe\u{301} horse battery staple";
    assert_ne!(composed, decomposed);
    assert_eq!(decomposed.nfc().collect::<String>(), composed);
    for (current, new) in [(composed, decomposed), (decomposed, composed)] {
        let f = fixture();
        let seen = invalid_codes(
            f.service
                .change(USER, req(Some(current), Some(new)))
                .await
                .unwrap_err(),
        );
        assert!(
            seen.contains(&codes::PASSWORD_UNCHANGED),
            "{current:?} -> {new:?}: {seen:?}"
        );
        // A validation error: no argon2, nothing counted or written.
        assert_eq!(f.hasher.calls.load(Ordering::SeqCst), 0);
        let record = f.store.get(USER).unwrap();
        assert_eq!((record.failed_attempts, record.password_version), (0, None));
    }
}

#[tokio::test]
async fn a_wrong_current_password_wins_over_a_reused_new_one() {
    let f = fixture();
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    // CURRENT is now in the history; the current password sent is wrong. Reuse is judged only
    // after a right current password (SPEC §4 steps 6, 7), so the wrong password is the answer,
    // and it counts.
    let err = f
        .service
        .change(USER, req(Some("not the password"), Some(CURRENT)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChangeError::CurrentPasswordIncorrect {
                remaining_attempts: Some(4)
            }
        ),
        "{err:?}"
    );
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.failed_attempts, 1);
    assert_eq!(record.password_version, Some(1));
    // The same new password with the right current one is refused as reused: the history
    // really holds it, so the answer above is a choice of order, not an absence of reuse.
    let err = f
        .service
        .change(USER, req(Some(NEW), Some(CURRENT)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChangeError::PasswordReused { depth: 5 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stored_hash_that_cannot_be_verified_is_a_500_that_counts_no_attempt() {
    let f = fixture();
    let mut record = f.store.get(USER).unwrap();
    record.password_hash = Some(
        "$argon2id$v=19$m=262145,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
            .into(),
    );
    f.store.put(record);
    for _ in 0..6 {
        let err = f
            .service
            .change(USER, req(Some(CURRENT), Some(NEW)))
            .await
            .unwrap_err();
        assert!(matches!(err, ChangeError::Internal(_)), "{err:?}");
    }
    let record = f.store.get(USER).unwrap();
    assert_eq!((record.failed_attempts, record.locked_until), (0, None));
}

#[tokio::test]
async fn the_retry_check_runs_the_same_verifies_whatever_the_new_password_is() {
    // Within 10 minutes of a change, a wrong current password also checks whether the
    // request is a retry; how many argon2 runs that takes must not tell whether
    // `NewPassword` is the current password.
    let f = fixture();
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    let runs = |new: &'static str| {
        let f = &f;
        async move {
            let before = f.hasher.calls.load(Ordering::SeqCst);
            let err = f
                .service
                .change(USER, req(Some("a wrong guess here"), Some(new)))
                .await
                .unwrap_err();
            assert!(
                matches!(err, ChangeError::CurrentPasswordIncorrect { .. }),
                "{err:?}"
            );
            f.hasher.calls.load(Ordering::SeqCst) - before
        }
    };
    let right_new = runs(NEW).await;
    let other_new = runs("some-other-Quokka-91").await;
    assert_eq!(right_new, other_new);
    assert_eq!(
        right_new, 3,
        "the current password, then both retry verifies"
    );
}

/// A wrong current password now: when, and what it answered.
async fn guess(f: &Fixture) -> (i64, ChangeError) {
    let now = f.now.load(Ordering::SeqCst);
    let r = f
        .service
        .change(USER, req(Some("wrong guess"), Some(NEW)))
        .await;
    (now, r.unwrap_err())
}

fn with_sign_in(current: &str, new: &str, auth_time: Option<i64>) -> ChangeRequest {
    ChangeRequest {
        token: TokenFacts {
            auth_time,
            ..req(None, None).token
        },
        ..req(Some(current), Some(new))
    }
}

#[tokio::test]
async fn locks_double_and_failures_count_in_a_row_across_them_up_to_a_hard_lock() {
    let f = fixture_with(
        ProtectionSettings {
            history_depth: 0,
            lockout_threshold: 2,
            lockout_seconds: 100,
            max_failures: 7,
        },
        PepperKeys::none(),
    );
    // Three windows of two: each lock twice as long as the one before.
    for expected_lock in [100, 200, 400] {
        let (_, first) = guess(&f).await;
        assert!(
            matches!(
                first,
                ChangeError::CurrentPasswordIncorrect {
                    remaining_attempts: Some(1)
                }
            ),
            "{first:?}"
        );
        let (_, second) = guess(&f).await;
        assert!(
            matches!(second, ChangeError::AccountLocked { retry_after } if retry_after == expected_lock),
            "{expected_lock}: {second:?}"
        );
        // While locked, nothing is counted and no argon2 runs.
        let calls = f.hasher.calls.load(Ordering::SeqCst);
        assert!(matches!(
            guess(&f).await.1,
            ChangeError::AccountLocked { .. }
        ));
        assert_eq!(f.hasher.calls.load(Ordering::SeqCst), calls);
        f.now.fetch_add(expected_lock as i64, Ordering::SeqCst);
    }
    let record = f.store.get(USER).unwrap();
    assert_eq!((record.consecutive_failures, record.lock_count), (6, 3));
    // The seventh wrong password in a row hard-locks: a new sign-in is required.
    let (at, seventh) = guess(&f).await;
    assert!(
        matches!(seventh, ChangeError::SignInRequired { since: 0 }),
        "{seventh:?}"
    );
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.sign_in_required_after, Some(at));
    assert_eq!(record.consecutive_failures, 7);
    // Even the right password, with a token from before, is refused before any argon2 work.
    let calls = f.hasher.calls.load(Ordering::SeqCst);
    f.now.fetch_add(30, Ordering::SeqCst);
    for auth_time in [None, Some(at - 1000), Some(at)] {
        let err = f
            .service
            .change(USER, with_sign_in(CURRENT, NEW, auth_time))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ChangeError::SignInRequired { since: 30 }),
            "{err:?}"
        );
    }
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), calls);
    // A sign-in after the hard lock lifts it, and every count starts again.
    f.service
        .change(USER, with_sign_in(CURRENT, NEW, Some(at + 1)))
        .await
        .unwrap();
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.sign_in_required_after, None);
    assert_eq!(
        (
            record.consecutive_failures,
            record.lock_count,
            record.failed_attempts
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_right_password_ends_the_failures_in_a_row() {
    let f = fixture_with(
        ProtectionSettings {
            history_depth: 0,
            lockout_threshold: 3,
            lockout_seconds: 100,
            max_failures: 4,
        },
        PepperKeys::none(),
    );
    for _ in 0..2 {
        f.service
            .change(USER, req(Some("wrong guess"), Some(NEW)))
            .await
            .unwrap_err();
    }
    assert_eq!(f.store.get(USER).unwrap().consecutive_failures, 2);
    f.service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    let record = f.store.get(USER).unwrap();
    assert_eq!(
        (record.consecutive_failures, record.failed_attempts),
        (0, 0)
    );
    // Four more in a row are needed for a hard lock: three give a lock, not a hard lock.
    for _ in 0..3 {
        f.service
            .change(USER, req(Some("wrong guess"), Some(DEMO_LIKE)))
            .await
            .unwrap_err();
    }
    let record = f.store.get(USER).unwrap();
    assert_eq!(record.sign_in_required_after, None);
    assert!(record.locked_until.is_some());
}

const DEMO_LIKE: &str = "amber-Quokka-Harbour-77";

#[tokio::test]
async fn once_a_newer_sign_in_lifted_a_hard_lock_older_sessions_stay_out_until_a_change() {
    let f = fixture_with(
        ProtectionSettings {
            history_depth: 0,
            lockout_threshold: 5,
            lockout_seconds: 100,
            max_failures: 2,
        },
        PepperKeys::none(),
    );
    guess(&f).await;
    let (at, second) = guess(&f).await;
    assert!(
        matches!(second, ChangeError::SignInRequired { .. }),
        "{second:?}"
    );
    // The owner signs in again and lifts it, but mistypes the current password.
    let err = f
        .service
        .change(USER, with_sign_in("mistyped", NEW, Some(at + 5)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChangeError::CurrentPasswordIncorrect { .. }),
        "{err:?}"
    );
    assert_eq!(f.store.get(USER).unwrap().sign_in_required_after, None);
    // A session from before the hard lock gets no new guesses (no argon2 runs for it).
    let calls = f.hasher.calls.load(Ordering::SeqCst);
    for auth_time in [None, Some(at - 100), Some(at)] {
        let err = f
            .service
            .change(USER, with_sign_in("another guess", NEW, auth_time))
            .await
            .unwrap_err();
        assert!(matches!(err, ChangeError::SignInRequired { .. }), "{err:?}");
    }
    assert_eq!(f.hasher.calls.load(Ordering::SeqCst), calls);
    // The newer session changes the password; from then on the floor is gone.
    f.service
        .change(USER, with_sign_in(CURRENT, NEW, Some(at + 5)))
        .await
        .unwrap();
    assert_eq!(f.store.get(USER).unwrap().sign_in_floor, None);
}

#[tokio::test]
async fn the_in_memory_store_keeps_the_store_contract() {
    let store = InMemoryAccountStore::new();
    store.put(AccountRecord::new_user(USER, "$argon2id$h"));
    store_contract::locks_pend_then_hold_double_and_end_in_a_hard_lock(&store, USER, 1_800_000_000)
        .await;
    let store = InMemoryAccountStore::new();
    store.put(AccountRecord::new_user(USER, "$argon2id$h"));
    store_contract::a_released_attempt_lifts_only_the_lock_it_set(&store, USER, 1_800_000_000)
        .await;
    let store = InMemoryAccountStore::new();
    store.put(AccountRecord::new_user(USER, "$argon2id$h"));
    store_contract::a_commit_needs_the_record_as_read_and_no_lock(
        &store,
        USER,
        "$argon2id$h",
        1_800_000_000,
    )
    .await;
}

#[tokio::test]
async fn the_write_carries_the_changing_session_its_origin_and_its_issuer() {
    let (_, store, service) = lost_answer_service(false);
    let mut request = req(Some(CURRENT), Some(NEW));
    request.token.session = SessionIds {
        jti: Some("jti-1".into()),
        origin_jti: Some("origin-1".into()),
        sid: Some("sid-1".into()),
    };
    request.token.issuer = Some("https://issuer.example".into());
    request.origin = RequestOrigin::new("req-9", "203.0.113.9", "Agent/9.0");
    service.change(USER, request.clone()).await.unwrap();
    let written = store.written.lock().unwrap()[0].clone();
    assert_eq!(written.session, request.token.session);
    assert_eq!(written.origin, request.origin);
    assert_eq!(written.issuer.as_deref(), Some("https://issuer.example"));
}

#[tokio::test]
async fn a_mistyped_field_is_reported_once_not_also_as_required() {
    let f = fixture();
    let mistyped = |field| {
        change_password::domain::issue::Issue::validation(
            codes::INVALID_REQUEST_BODY,
            Some(field),
            "must be a string",
        )
    };
    let request = ChangeRequest {
        new_password: Some(NEW.into()),
        input_issues: vec![mistyped(Field::CurrentPassword)],
        ..req(None, None)
    };
    let err = f.service.change(USER, request).await.unwrap_err();
    assert_eq!(invalid_codes(err), vec![codes::INVALID_REQUEST_BODY]);
    // A missing field beside it is still required.
    let request = ChangeRequest {
        input_issues: vec![mistyped(Field::CurrentPassword)],
        ..req(None, None)
    };
    let err = f.service.change(USER, request).await.unwrap_err();
    assert_eq!(
        invalid_codes(err),
        vec![codes::INVALID_REQUEST_BODY, codes::REQUIRED]
    );
}

#[test]
fn a_debug_print_of_a_request_never_holds_a_password() {
    let printed = format!("{:?}", req(Some(CURRENT), Some(NEW)));
    assert!(printed.contains("<redacted>"), "{printed}");
    assert!(
        !printed.contains(CURRENT) && !printed.contains(NEW),
        "{printed}"
    );
}

/// A breach corpus that answers `answer` for every password.
struct Corpus(Result<u64, LookupFailed>);

impl BreachedPasswords for Corpus {
    fn occurrences(&self, _: &str) -> LookupFuture {
        let answer = self.0.clone();
        Box::pin(async move { answer })
    }
}

fn with_corpus(f: Fixture, answer: Result<u64, LookupFailed>, when: WhenUnavailable) -> Fixture {
    Fixture {
        service: f
            .service
            .with_breached_passwords(Arc::new(Corpus(answer)), when),
        ..f
    }
}

#[tokio::test]
async fn a_breached_password_is_reported_with_every_other_validation_error() {
    let f = with_corpus(fixture(), Ok(12), WhenUnavailable::Accept);
    let err = f
        .service
        .change(USER, req(None, Some("short")))
        .await
        .unwrap_err();
    let codes_seen = invalid_codes(err);
    assert!(
        codes_seen.contains(&codes::PASSWORD_BREACHED),
        "{codes_seen:?}"
    );
    assert!(codes_seen.contains(&codes::REQUIRED), "{codes_seen:?}");
    let err = f
        .service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap_err();
    assert_eq!(invalid_codes(err), vec![codes::PASSWORD_BREACHED]);
    assert_eq!(f.store.get(USER).unwrap().password_version, None);
}

#[tokio::test]
async fn an_unreachable_corpus_refuses_or_warns_as_configured() {
    let down = || Err(LookupFailed("down".into()));
    let f = with_corpus(fixture(), down(), WhenUnavailable::Refuse);
    let err = f
        .service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::Unavailable(_)), "{err:?}");
    assert_eq!(f.store.get(USER).unwrap().password_version, None);
    let f = with_corpus(fixture(), down(), WhenUnavailable::Accept);
    let changed = f
        .service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    let warned: Vec<_> = changed.warnings.iter().map(|w| w.code).collect();
    assert_eq!(warned, vec![codes::BREACHED_PASSWORD_CHECK_UNAVAILABLE]);
}

/// A refresh-token revoker that answers as told, or never; counts its calls and keeps the user
/// name it was given.
struct Revoker {
    answer: Option<Result<(), String>>,
    calls: AtomicUsize,
    username: std::sync::Mutex<Option<String>>,
}

impl RefreshTokenRevoker for Revoker {
    fn revoke<'a>(&'a self, _user_id: &'a str, username: Option<&'a str>) -> RevokeFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.username.lock().unwrap() = username.map(String::from);
        let answer = self.answer.clone();
        Box::pin(async move {
            match answer {
                Some(answer) => answer.map_err(RevokeFailed),
                None => std::future::pending().await,
            }
        })
    }
}

async fn change_with_revoker(answer: Option<Result<(), String>>) -> (Changed, Arc<Revoker>) {
    let revoker = Arc::new(Revoker {
        answer,
        calls: AtomicUsize::new(0),
        username: std::sync::Mutex::new(None),
    });
    let f = fixture();
    let service = f.service.with_refresh_token_revoker(revoker.clone());
    let mut request = req(Some(CURRENT), Some(NEW));
    request.token.username = Some("demo".into());
    let changed = service.change(USER, request).await.unwrap();
    (changed, revoker)
}

#[tokio::test]
async fn refresh_tokens_are_revoked_after_the_change_and_a_failure_never_undoes_it() {
    let (changed, revoker) = change_with_revoker(Some(Ok(()))).await;
    assert_eq!(changed.refresh_tokens, RefreshTokens::Revoked);
    assert_eq!(revoker.calls.load(Ordering::SeqCst), 1);
    assert_eq!(revoker.username.lock().unwrap().as_deref(), Some("demo"));
    let (changed, _) = change_with_revoker(Some(Err("denied".into()))).await;
    assert!(
        matches!(&changed.refresh_tokens, RefreshTokens::RevocationFailed(why) if why.contains("denied")),
        "{:?}",
        changed.refresh_tokens
    );
    // Without a revoker they are kept.
    let f = fixture();
    let changed = f
        .service
        .change(USER, req(Some(CURRENT), Some(NEW)))
        .await
        .unwrap();
    assert_eq!(changed.refresh_tokens, RefreshTokens::Kept);
}

#[tokio::test(start_paused = true)]
async fn a_revocation_that_never_answers_is_given_up_after_its_timeout() {
    // Tokio's clock is paused: the timeout passes as soon as nothing else is left to run.
    let (changed, _) = change_with_revoker(None).await;
    assert_eq!(
        changed.refresh_tokens,
        RefreshTokens::RevocationFailed("timed out".into())
    );
}
