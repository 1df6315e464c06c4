//! change-password: the AWS Lambda that lets a signed-in workspace user change their password.
//!
//! The tree shows the architecture; dependencies point inward:
//! - [`domain`]: the policy, hashing, the change use case, the store and pepper ports. Nothing
//!   of Lambda, HTTP or AWS.
//! - [`auth`]: who is calling (authorizer context, token verification, JWKS); uses `domain`.
//! - [`edge`]: the Lambda/HTTP edge (event in, response out, metrics); uses `auth` and `domain`.
//! - [`aws`]: the DynamoDB store, secrets, Cognito and SDK clients; implements `domain`'s ports.
//! - [`web`]: outbound HTTPS that is not AWS (the issuer's JWKS, the breached-password range
//!   API); implements `domain`'s breached-password port.
//! - [`config`], [`logging`], [`telemetry`] (traces over OTLP), and [`app`], the wiring done
//!   once at cold start.

pub mod app;
pub mod auth;
pub mod aws;
pub mod config;
pub mod domain;
pub mod edge;
pub mod logging;
pub mod telemetry;
pub mod web;
