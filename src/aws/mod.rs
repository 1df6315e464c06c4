//! The AWS adapters: the account store on DynamoDB, secrets from Secrets Manager, and the SDK
//! clients with their timeouts, retries and X-Ray subsegments.

pub mod clients;
pub mod cognito;
pub mod dynamodb_store;
pub mod secrets;
pub mod secrets_pepper;
pub mod xray;
