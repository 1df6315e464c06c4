//! The change notice's use case on the in-memory notice store, with a mailer that records what
//! it sends (and fails when told): one mail per address, exactly once per change, in the words
//! the account holds; older, forged and foreign events send nothing; a failed send gives its
//! claim back and the retry sends only what is missing. The real binary against moto and SES is
//! `tests/change_notice.rs`.

#[path = "support/notice_store_contract.rs"]
mod notice_store_contract;

use change_password::domain::account_store::StoreError;
use change_password::domain::change_notice::message::{NoticeMessage, NoticeSettings};
use change_password::domain::change_notice::store::InMemoryNoticeStore;
use change_password::domain::change_notice::{
    CLAIM_SECONDS, ChangeNotifier, EpochClock, LastChange, MailError, Mailer, NoticeError,
    NoticeState, NoticeStore, Outcome,
};
use change_password::domain::security_event::CommittedChange;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const USER: &str = "user-1";
const T: i64 = 1_800_000_000;

/// Records every mail; the `fail_at`-th send (1-based, 0: none) fails.
#[derive(Clone, Default)]
struct Outbox {
    sent: Arc<Mutex<Vec<(String, NoticeMessage)>>>,
    attempts: Arc<AtomicUsize>,
    fail_at: Arc<AtomicUsize>,
}

impl Mailer for Outbox {
    async fn send(&self, to: &str, message: &NoticeMessage) -> Result<(), MailError> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            return Err(MailError("refused".into()));
        }
        self.sent
            .lock()
            .unwrap()
            .push((to.to_string(), message.clone()));
        Ok(())
    }
}

impl Outbox {
    fn to(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(a, _)| a.clone())
            .collect()
    }
}

/// The account's own last change, as `change-password` wrote it.
fn last_change() -> LastChange {
    LastChange {
        request_id: "req-7".into(),
        source_ip: "203.0.113.7".into(),
        user_agent: "Agent/1.0".into(),
        at: T,
    }
}

/// The event of version `version` with request id `request_id`, as the bus delivers it.
fn event(version: u64, request_id: &str) -> CommittedChange {
    CommittedChange {
        user_id: USER.into(),
        password_version: version,
        at: T,
        request_id: request_id.into(),
        source_ip: "203.0.113.7".into(),
        user_agent: "Agent/1.0".into(),
        issuer: None,
    }
}

/// What another delivery does between this one's read and its claim.
#[derive(Clone, Copy)]
enum Race {
    /// Claims and sends the address.
    SendsIt,
    /// Sends every address and closes the notice.
    FinishesTheNotice,
    /// A later change's notice starts.
    LaterChangeStarts,
}

/// The in-memory store, shared by the notifier and the test (which plays other deliveries):
/// records every claim, and runs a [`Race`] before the first.
#[derive(Clone)]
struct Shared {
    store: Arc<InMemoryNoticeStore>,
    claims: Arc<Mutex<Vec<(String, i64, i64)>>>,
    race: Arc<Mutex<Option<Race>>>,
}

impl NoticeStore for Shared {
    async fn state(&self, user_id: &str) -> Result<Option<NoticeState>, StoreError> {
        self.store.state(user_id).await
    }
    async fn start(&self, user_id: &str, version: u64) -> Result<(), StoreError> {
        self.store.start(user_id, version).await
    }
    async fn claim(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.claims
            .lock()
            .unwrap()
            .push((address.to_string(), now, until));
        let race = self.race.lock().unwrap().take();
        match race {
            Some(Race::SendsIt) => {
                self.store
                    .claim(user_id, version, address, now, until)
                    .await?;
                self.store.sent(user_id, version, address, now).await?;
            }
            Some(Race::FinishesTheNotice) => self.store.finish(user_id, version).await?,
            Some(Race::LaterChangeStarts) => self.store.start(user_id, version + 1).await?,
            None => {}
        }
        self.store
            .claim(user_id, version, address, now, until)
            .await
    }
    async fn release(&self, user_id: &str, version: u64, address: &str) -> Result<(), StoreError> {
        self.store.release(user_id, version, address).await
    }
    async fn sent(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.store.sent(user_id, version, address, now).await
    }
    async fn finish(&self, user_id: &str, version: u64) -> Result<(), StoreError> {
        self.store.finish(user_id, version).await
    }
}

struct World {
    notifier: ChangeNotifier<Shared, Outbox>,
    shared: Shared,
    store: Arc<InMemoryNoticeStore>,
    outbox: Outbox,
    now: Arc<AtomicI64>,
}

fn world(addresses: &[&str]) -> World {
    let store = Arc::new(InMemoryNoticeStore::with_account(
        USER,
        addresses,
        3,
        last_change(),
    ));
    let outbox = Outbox::default();
    let now = Arc::new(AtomicI64::new(T + 5));
    let n = now.clone();
    let clock: EpochClock = Arc::new(move || n.load(Ordering::SeqCst));
    let settings = NoticeSettings {
        help_url: "https://example.com/help".into(),
        contact: "security@example.com".into(),
    };
    let shared = Shared {
        store: store.clone(),
        claims: Arc::default(),
        race: Arc::default(),
    };
    World {
        notifier: ChangeNotifier::new(shared.clone(), outbox.clone(), settings, clock),
        shared,
        store,
        outbox,
        now,
    }
}

#[tokio::test]
async fn every_address_is_mailed_once_and_a_redelivery_sends_nothing() {
    let w = world(&["Ana@Example.com", "bob@example.net", "ana@example.com"]);
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::Sent {
            sent: 2,
            already: 0
        }
    );
    assert_eq!(w.outbox.to(), ["ana@example.com", "bob@example.net"]);
    let state = w.store.state(USER).await.unwrap().unwrap();
    assert_eq!((state.sent_version, state.deliveries), (Some(3), None));
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::AlreadySent
    );
    assert_eq!(w.outbox.to().len(), 2);
}

#[tokio::test]
async fn the_mail_says_what_the_account_holds_not_what_the_event_says() {
    let w = world(&["ana@example.com"]);
    let mut forged_words = event(3, "req-7");
    forged_words.source_ip = "198.51.100.99".into();
    forged_words.user_agent = "Visit evil".into();
    forged_words.at = T - 86_400;
    w.notifier.deliver(&forged_words).await.unwrap();
    let (_, message) = w.outbox.sent.lock().unwrap()[0].clone();
    let told = NoticeMessage::for_change(
        &event(3, "req-7"),
        &NoticeSettings {
            help_url: "https://example.com/help".into(),
            contact: "security@example.com".into(),
        },
    );
    assert_eq!(message, told);
}

#[tokio::test]
async fn older_forged_and_foreign_events_send_and_record_nothing() {
    let w = world(&["ana@example.com"]);
    assert_eq!(
        w.notifier.deliver(&event(2, "req-7")).await.unwrap(),
        Outcome::Superseded
    );
    for forged in [
        event(3, "req-other"),
        event(4, "req-7"),
        event(u64::MAX, "req-7"),
    ] {
        assert!(
            matches!(
                w.notifier.deliver(&forged).await,
                Err(NoticeError::NotTheAccountsChange)
            ),
            "{forged:?}"
        );
    }
    let mut foreign = event(3, "req-7");
    foreign.user_id = "someone-else".into();
    assert_eq!(
        w.notifier.deliver(&foreign).await.unwrap(),
        Outcome::NoAccount
    );
    assert!(w.outbox.to().is_empty());
    let state = w.store.state(USER).await.unwrap().unwrap();
    assert_eq!((state.sent_version, state.deliveries), (None, None));
    // The account's own change still goes out.
    assert!(matches!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::Sent { sent: 1, .. }
    ));
}

#[tokio::test]
async fn a_failed_send_gives_its_claim_back_and_the_retry_sends_only_what_is_missing() {
    let w = world(&["ana@example.com", "bob@example.net", "cy@example.org"]);
    w.outbox.fail_at.store(2, Ordering::SeqCst);
    assert!(matches!(
        w.notifier.deliver(&event(3, "req-7")).await,
        Err(NoticeError::Mail(_))
    ));
    let progress = w
        .store
        .state(USER)
        .await
        .unwrap()
        .unwrap()
        .deliveries
        .unwrap();
    assert_eq!(progress.sent, ["ana@example.com"]);
    assert!(progress.claims.is_empty(), "{:?}", progress.claims);
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::Sent {
            sent: 2,
            already: 1
        }
    );
    assert_eq!(
        w.outbox.to(),
        ["ana@example.com", "bob@example.net", "cy@example.org"]
    );
}

#[tokio::test]
async fn an_address_claimed_by_another_delivery_waits_until_its_claim_ends() {
    let w = world(&["ana@example.com"]);
    w.store.start(USER, 3).await.unwrap();
    let now = T + 5;
    w.store
        .claim(USER, 3, "ana@example.com", now, now + CLAIM_SECONDS)
        .await
        .unwrap();
    // Up to the claim's last second, another delivery is sending it.
    w.now.store(now + CLAIM_SECONDS, Ordering::SeqCst);
    assert!(matches!(
        w.notifier.deliver(&event(3, "req-7")).await,
        Err(NoticeError::InProgressElsewhere)
    ));
    assert!(w.outbox.to().is_empty());
    // Past it, that delivery is taken to have died: this one sends.
    w.now.store(now + CLAIM_SECONDS + 1, Ordering::SeqCst);
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::Sent {
            sent: 1,
            already: 0
        }
    );
}

#[tokio::test]
async fn an_address_another_delivery_sent_is_not_sent_again() {
    let w = world(&["ana@example.com", "bob@example.net"]);
    w.store.start(USER, 3).await.unwrap();
    w.store
        .claim(USER, 3, "bob@example.net", T, T + CLAIM_SECONDS)
        .await
        .unwrap();
    w.store.sent(USER, 3, "bob@example.net", T).await.unwrap();
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::Sent {
            sent: 1,
            already: 1
        }
    );
    assert_eq!(w.outbox.to(), ["ana@example.com"]);
}

#[tokio::test]
async fn a_notice_finished_elsewhere_or_a_later_one_under_way_sends_nothing() {
    let w = world(&["ana@example.com"]);
    w.store.start(USER, 3).await.unwrap();
    w.store.finish(USER, 3).await.unwrap();
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::AlreadySent
    );
    let w = world(&["ana@example.com"]);
    w.store.start(USER, 4).await.unwrap();
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::Superseded
    );
    assert!(w.outbox.to().is_empty());
}

#[tokio::test]
async fn an_account_without_an_address_is_closed_without_a_mail() {
    let w = world(&["not-an-address"]);
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::NoAddress
    );
    assert_eq!(
        w.store.state(USER).await.unwrap().unwrap().sent_version,
        Some(3)
    );
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::AlreadySent
    );
}

/// A store whose every write fails for another reason than its condition.
struct Broken(Arc<InMemoryNoticeStore>);

impl NoticeStore for Broken {
    async fn state(&self, user_id: &str) -> Result<Option<NoticeState>, StoreError> {
        self.0.state(user_id).await
    }
    async fn start(&self, _: &str, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn claim(&self, _: &str, _: u64, _: &str, _: i64, _: i64) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn release(&self, _: &str, _: u64, _: &str) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn sent(&self, _: &str, _: u64, _: &str, _: i64) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn finish(&self, _: &str, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn a_store_that_cannot_be_written_fails_the_delivery_without_a_mail() {
    let w = world(&["ana@example.com"]);
    let broken = ChangeNotifier::new(
        Broken(w.store.clone()),
        w.outbox.clone(),
        NoticeSettings {
            help_url: "https://example.com/help".into(),
            contact: "security@example.com".into(),
        },
        Arc::new(|| T),
    );
    assert!(matches!(
        broken.deliver(&event(3, "req-7")).await,
        Err(NoticeError::Store(StoreError::Unavailable(_)))
    ));
    assert!(w.outbox.to().is_empty());
}

#[tokio::test]
async fn each_address_is_claimed_for_120_s_from_now() {
    let w = world(&["ana@example.com", "bob@example.net"]);
    w.notifier.deliver(&event(3, "req-7")).await.unwrap();
    let now = T + 5;
    assert_eq!(
        *w.shared.claims.lock().unwrap(),
        [
            ("ana@example.com".to_string(), now, now + CLAIM_SECONDS),
            ("bob@example.net".to_string(), now, now + CLAIM_SECONDS)
        ]
    );
    assert_eq!(CLAIM_SECONDS, 120);
}

#[tokio::test]
async fn an_address_another_delivery_sends_meanwhile_is_left_to_it() {
    for (race, what) in [
        (Race::SendsIt, "sent the address"),
        (Race::FinishesTheNotice, "finished the notice"),
        (Race::LaterChangeStarts, "a later change's notice started"),
    ] {
        let w = world(&["ana@example.com"]);
        *w.shared.race.lock().unwrap() = Some(race);
        let outcome = w.notifier.deliver(&event(3, "req-7")).await;
        assert!(
            matches!(outcome, Ok(Outcome::Sent { sent: 0, .. })),
            "{what}: {outcome:?}"
        );
        assert!(w.outbox.to().is_empty(), "{what}");
    }
}

#[tokio::test]
async fn the_in_memory_notice_store_keeps_the_store_contract() {
    let store = InMemoryNoticeStore::with_account(USER, &["ana@example.com"], 3, last_change());
    notice_store_contract::notices_start_once_claims_hold_and_finish_closes(&store, USER, 3).await;
}

#[tokio::test]
async fn a_notice_an_older_change_left_unfinished_does_not_hold_up_the_newer_one() {
    let w = world(&["ana@example.com"]);
    w.store.start(USER, 2).await.unwrap();
    assert_eq!(
        w.notifier.deliver(&event(3, "req-7")).await.unwrap(),
        Outcome::Sent {
            sent: 1,
            already: 0
        }
    );
    assert_eq!(
        w.store.state(USER).await.unwrap().unwrap().sent_version,
        Some(3)
    );
}
