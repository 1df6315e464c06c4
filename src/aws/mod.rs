//! The AWS adapters: the account and notice stores on DynamoDB, secrets from Secrets Manager,
//! the notice's email through SES, the table stream's records, and the SDK clients with their
//! timeouts, retries and a span per call.

pub mod clients;
pub mod cognito;
pub mod dynamodb_notices;
pub mod dynamodb_store;
pub mod sdk_spans;
pub mod secrets;
pub mod secrets_pepper;
pub mod ses_mailer;
pub mod stream_record;
