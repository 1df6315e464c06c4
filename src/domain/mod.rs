//! The core: password policy, hashing, the change use case (SPEC §4 steps 3-8), and the ports
//! it needs (the account store, the pepper source). Nothing here names Lambda, HTTP or AWS.

pub mod account;
pub mod account_store;
pub mod breached;
pub mod change_notice;
pub mod change_password;
pub mod common_passwords;
pub mod hashing_tasks;
pub mod issue;
pub mod password_hashing;
pub mod password_policy;
pub mod pepper;
pub mod security_event;
pub mod sessions;
