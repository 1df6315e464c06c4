//! What every implementation of the notice store port must do (`NoticeStore`, SPEC §7): run
//! against the DynamoDB adapter (`tests/dynamodb_store.rs`) and the in-memory store the notice's
//! use case is tested on (`tests/change_notice_core.rs`). The account must exist, with no
//! notice sent or under way; `v` is its password version.
#![allow(dead_code)]

use change_password::domain::account_store::StoreError;
use change_password::domain::change_notice::NoticeStore;

fn refused(result: Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::ConditionFailed))
}

/// A notice starts once, claims hold to their last second, a sent address is never claimed
/// again, and only the notice under way is finished.
pub async fn notices_start_once_claims_hold_and_finish_closes(
    store: &impl NoticeStore,
    user: &str,
    v: u64,
) {
    let (a, b, t) = ("ana@example.com", "bob@example.net", 1_800_000_000);
    // Nothing under way: no claim, no release, no sent.
    assert!(refused(store.claim(user, v, a, t, t + 120).await));
    assert!(refused(store.sent(user, v, a, t).await));
    store.start(user, v).await.unwrap();
    assert!(refused(store.start(user, v).await), "started once");
    assert!(
        refused(store.start(user, v - 1).await),
        "an older one cannot start"
    );
    // A claim holds to its last second, and is taken over after it; taking one over leaves
    // the claims on other addresses as they are.
    store.claim(user, v, a, t, t + 120).await.unwrap();
    store.claim(user, v, b, t + 100, t + 220).await.unwrap();
    assert!(refused(store.claim(user, v, a, t + 120, t + 240).await));
    store.claim(user, v, a, t + 121, t + 241).await.unwrap();
    assert!(refused(store.claim(user, v, b, t + 121, t + 241).await));
    store.release(user, v, b).await.unwrap();
    // Given back, it can be taken at once.
    store.release(user, v, a).await.unwrap();
    store.claim(user, v, a, t + 122, t + 242).await.unwrap();
    assert!(
        refused(store.claim(user, v + 1, b, t, t + 120).await),
        "not under way"
    );
    assert!(refused(store.release(user, v + 1, a).await));
    // Sent: never claimed again, even after the claim's end.
    store.sent(user, v, a, t + 123).await.unwrap();
    assert!(refused(store.claim(user, v, a, t + 999, t + 1119).await));
    let progress = store
        .state(user)
        .await
        .unwrap()
        .unwrap()
        .deliveries
        .unwrap();
    assert_eq!((progress.version, progress.sent), (v, vec![a.to_string()]));
    // Another address goes its own way.
    store.claim(user, v, b, t + 124, t + 244).await.unwrap();
    // Finished: the version is sent, the progress gone; it cannot start or finish again.
    store.finish(user, v).await.unwrap();
    let state = store.state(user).await.unwrap().unwrap();
    assert_eq!((state.sent_version, state.deliveries), (Some(v), None));
    assert!(refused(store.start(user, v).await));
    assert!(refused(store.finish(user, v).await));
    // A later version starts; the earlier one cannot finish over it.
    store.start(user, v + 1).await.unwrap();
    assert!(refused(store.finish(user, v).await));
    store.finish(user, v + 1).await.unwrap();
    assert_eq!(
        store.state(user).await.unwrap().unwrap().sent_version,
        Some(v + 1)
    );
}
