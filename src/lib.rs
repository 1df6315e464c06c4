//! change-password: the AWS Lambda that lets a signed-in workspace user change their password.
//!
//! Core (no Lambda, no AWS): [`issue`], [`password_policy`], [`password_hashing`], [`pepper`],
//! [`account`], [`account_store`], [`change_password`].
//! Adapters: [`http_request`], [`http_response`], [`principal`], [`lambda_handler`],
//! [`dynamodb_store`], [`secrets`], [`secrets_pepper`], [`token_verifier`], [`jwks`], [`config`],
//! [`aws_clients`], [`logging`].
//! Wiring: [`app`].

pub mod account;
pub mod account_store;
pub mod app;
pub mod aws_clients;
pub mod change_password;
pub mod config;
pub mod dynamodb_store;
pub mod http_request;
pub mod http_response;
pub mod issue;
pub mod jwks;
pub mod lambda_handler;
pub mod logging;
pub mod metrics;
pub mod password_hashing;
pub mod password_policy;
pub mod pepper;
pub mod principal;
pub mod secrets;
pub mod secrets_pepper;
pub mod token_verifier;
