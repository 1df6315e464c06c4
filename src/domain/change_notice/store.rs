//! An in-memory notice store with the semantics of the DynamoDB one, for unit tests.

use super::{Deliveries, NoticeState, NoticeStore};
use crate::domain::account_store::StoreError;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct InMemoryNoticeStore {
    accounts: Mutex<HashMap<String, NoticeState>>,
}

impl InMemoryNoticeStore {
    /// An account whose last change is `last`, at `version`.
    pub fn with_account(
        user_id: &str,
        addresses: &[&str],
        version: u64,
        last: super::LastChange,
    ) -> Self {
        let store = Self::default();
        store.accounts.lock().unwrap().insert(
            user_id.to_string(),
            NoticeState {
                addresses: addresses.iter().map(|a| a.to_string()).collect(),
                password_version: version,
                last_change: Some(last),
                ..NoticeState::default()
            },
        );
        store
    }

    fn update(
        &self,
        user_id: &str,
        change: impl FnOnce(&mut NoticeState) -> bool,
    ) -> Result<(), StoreError> {
        let mut accounts = self.accounts.lock().unwrap();
        let state = accounts
            .get_mut(user_id)
            .ok_or(StoreError::ConditionFailed)?;
        if change(state) {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed)
        }
    }
}

fn under_way(state: &mut NoticeState, version: u64) -> Option<&mut Deliveries> {
    state.deliveries.as_mut().filter(|d| d.version == version)
}

impl NoticeStore for InMemoryNoticeStore {
    async fn state(&self, user_id: &str) -> Result<Option<NoticeState>, StoreError> {
        Ok(self.accounts.lock().unwrap().get(user_id).cloned())
    }

    async fn start(&self, user_id: &str, version: u64) -> Result<(), StoreError> {
        self.update(user_id, |s| {
            let free = s.sent_version.is_none_or(|v| v < version)
                && s.deliveries.as_ref().is_none_or(|d| d.version < version);
            if free {
                s.deliveries = Some(Deliveries {
                    version,
                    ..Deliveries::default()
                });
            }
            free
        })
    }

    async fn claim(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.update(user_id, |s| {
            let Some(d) = under_way(s, version) else {
                return false;
            };
            let claimed = d.claims.iter().any(|(a, end)| a == address && *end >= now);
            if d.sent.iter().any(|a| a == address) || claimed {
                return false;
            }
            d.claims.retain(|(a, _)| a != address);
            d.claims.push((address.to_string(), until));
            true
        })
    }

    async fn release(&self, user_id: &str, version: u64, address: &str) -> Result<(), StoreError> {
        self.update(user_id, |s| {
            under_way(s, version).is_some_and(|d| {
                d.claims.retain(|(a, _)| a != address);
                true
            })
        })
    }

    async fn sent(
        &self,
        user_id: &str,
        version: u64,
        address: &str,
        _now: i64,
    ) -> Result<(), StoreError> {
        self.update(user_id, |s| {
            under_way(s, version).is_some_and(|d| {
                d.claims.retain(|(a, _)| a != address);
                d.sent.push(address.to_string());
                true
            })
        })
    }

    async fn finish(&self, user_id: &str, version: u64) -> Result<(), StoreError> {
        self.update(user_id, |s| {
            let ok = s.sent_version.is_none_or(|v| v < version)
                && s.deliveries.as_ref().is_none_or(|d| d.version == version);
            if ok {
                s.sent_version = Some(version);
                s.deliveries = None;
            }
            ok
        })
    }
}
