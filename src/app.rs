//! Builds the handler from the configuration: the one wiring of adapters to the core, used by
//! `main.rs` at cold start and by the integration tests.

use crate::change_password::{ChangePasswordService, system_clock};
use crate::config::Config;
use crate::dynamodb_store::DynamoDbAccountStore;
use crate::jwks::JwksCache;
use crate::lambda_handler::Handler;
use crate::password_hashing::Argon2Hasher;
use crate::pepper::{PepperSource, StaticPepper};
use crate::secrets::CachedSecret;
use crate::secrets_pepper::SecretsManagerPepper;
use crate::token_verifier::{TokenVerifier, parse_hs256_secret};
use aws_config::SdkConfig;
use std::sync::Arc;

pub type App = Handler<DynamoDbAccountStore>;

/// Builds the handler. Fails only on what the configuration check cannot see (no TLS roots).
pub fn build(config: &Config, sdk: &SdkConfig) -> Result<Arc<App>, String> {
    build_with_jwks_refetch(config, sdk, crate::jwks::REFETCH_INTERVAL)
}

/// [`build`] with another minimum interval between JWKS refetches.
pub fn build_with_jwks_refetch(
    config: &Config,
    sdk: &SdkConfig,
    jwks_refetch: std::time::Duration,
) -> Result<Arc<App>, String> {
    let store = DynamoDbAccountStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        config.users_table.clone(),
    );
    let pepper: Arc<dyn PepperSource> = match &config.pepper_secret_id {
        Some(id) => Arc::new(SecretsManagerPepper::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            id.clone(),
        )),
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
    let tokens = &config.tokens;
    let verifier = match (&tokens.issuer, &tokens.jwks_url) {
        (Some(issuer), Some(jwks_url)) => {
            let url = jwks_url
                .parse()
                .map_err(|_| format!("JWT_JWKS_URL {jwks_url:?} is not a URL"))?;
            let hs256 = tokens.hs256_secret_id.as_ref().map(|id| {
                CachedSecret::new(
                    aws_sdk_secretsmanager::Client::new(sdk),
                    id.clone(),
                    parse_hs256_secret,
                )
            });
            Some(TokenVerifier::new(
                issuer.clone(),
                tokens.audience.clone(),
                JwksCache::new(url)?.with_refetch_interval(jwks_refetch),
                hs256,
            ))
        }
        _ => None,
    };
    Ok(Arc::new(Handler::new(service, verifier)))
}
