//! Builds the handler from the configuration: the one wiring of adapters to the core, used by
//! `main.rs` at cold start and by the integration tests.

use crate::change_password::{ChangePasswordService, system_clock};
use crate::config::Config;
use crate::dynamodb_store::DynamoDbAccountStore;
use crate::lambda_handler::Handler;
use crate::password_hashing::Argon2Hasher;
use crate::pepper::{PepperSource, StaticPepper};
use crate::secrets_pepper::SecretsManagerPepper;
use aws_config::SdkConfig;
use std::sync::Arc;

pub type App = Handler<DynamoDbAccountStore>;

pub fn build(config: &Config, sdk: &SdkConfig) -> Arc<App> {
    let store = DynamoDbAccountStore::new(aws_sdk_dynamodb::Client::new(sdk), config.users_table.clone());
    let pepper: Arc<dyn PepperSource> = match &config.pepper_secret_id {
        Some(id) => Arc::new(SecretsManagerPepper::new(aws_sdk_secretsmanager::Client::new(sdk), id.clone())),
        None => Arc::new(StaticPepper::none()),
    };
    let service = ChangePasswordService::new(
        Arc::new(store),
        Arc::new(Argon2Hasher::new(config.argon2)),
        pepper,
        config.policy.clone(),
        config.protection.clone(),
        system_clock(),
    );
    Arc::new(Handler::new(service))
}
