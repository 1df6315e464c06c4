//! The AWS adapters: the account store on DynamoDB, secrets from Secrets Manager, and the SDK
//! clients with their timeouts and retries.

pub mod clients;
pub mod cognito;
pub mod dynamodb_store;
pub mod secrets;
pub mod secrets_pepper;
