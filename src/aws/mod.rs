//! The AWS adapters: the account and notice stores on DynamoDB, secrets from Secrets Manager,
//! the notice's email through SES, the table stream's records, and the SDK clients with their
//! timeouts, retries and X-Ray subsegments.

pub mod clients;
pub mod cognito;
pub mod dynamodb_notices;
pub mod dynamodb_store;
pub mod secrets;
pub mod secrets_pepper;
pub mod ses_mailer;
pub mod stream_record;
pub mod xray;
