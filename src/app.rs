//! Builds the handler from the configuration: the one wiring of adapters to the core, used by
//! `main.rs` at cold start and by the integration tests.

use crate::auth::clock::{self, Clock};
use crate::auth::jwks::{JwksCache, UNKNOWN_KID_PENALTY};
use crate::auth::revocation::{MARKER_TTL, RevocationCheck};
use crate::auth::token_verifier::{
    KeyFuture, KeyProblem, SharedKeySource, TokenVerifier, parse_hs256_secret,
};
use crate::aws::clients;
use crate::aws::cognito::CognitoSignOut;
use crate::aws::dynamodb_store::DynamoDbAccountStore;
use crate::aws::secrets::CachedSecret;
use crate::aws::secrets_pepper::SecretsManagerPepper;
use crate::config::Config;
use crate::domain::change_password::{ChangePasswordService, system_clock};
use crate::domain::password_hashing::Argon2Hasher;
use crate::domain::pepper::{PepperSource, StaticPepper};
use crate::edge::authorizer::Authorizer;
use crate::edge::handler::Handler;
use crate::web::hibp::HibpRangeApi;
use aws_config::SdkConfig;
use std::sync::Arc;
use std::time::Duration;

pub type App = Handler<DynamoDbAccountStore>;

/// The clock the token checks read and how long they hold back: SPEC's times on the process's
/// clock in production; tests move a clock of their own instead of waiting.
#[derive(Clone)]
pub struct TokenTiming {
    pub clock: Clock,
    /// How long a JWKS refetch that lacked the key id holds further ones back.
    pub jwks_penalty: Duration,
    /// How long token-authorizer trusts a revocation marker it read (at most [`MARKER_TTL`]).
    pub marker_ttl: Duration,
}

impl Default for TokenTiming {
    fn default() -> Self {
        TokenTiming {
            clock: clock::system_clock(),
            jwks_penalty: UNKNOWN_KID_PENALTY,
            marker_ttl: MARKER_TTL,
        }
    }
}

/// Builds the handler. Fails only on what the configuration check cannot see (no TLS roots).
pub fn build(config: &Config, sdk: &SdkConfig) -> Result<Arc<App>, String> {
    build_with(config, sdk, &TokenTiming::default())
}

/// [`build`] with another [`TokenTiming`].
pub fn build_with(
    config: &Config,
    sdk: &SdkConfig,
    timing: &TokenTiming,
) -> Result<Arc<App>, String> {
    let store = DynamoDbAccountStore::new(clients::dynamodb(sdk), config.users_table.clone());
    let pepper: Arc<dyn PepperSource> = match &config.pepper_secret_id {
        Some(id) => Arc::new(SecretsManagerPepper::new(
            clients::secrets_manager(sdk),
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
    let service = match &config.cognito_user_pool_id {
        Some(pool) => service.with_refresh_token_revoker(Arc::new(CognitoSignOut::new(
            clients::cognito(sdk),
            pool.clone(),
        ))),
        None => service,
    };
    let service = match &config.breached_check {
        Some(url) => {
            service.with_breached_passwords(Arc::new(HibpRangeApi::new(url)?), config.breached_fail)
        }
        None => service,
    };
    let verifier = token_verifier(config, sdk, timing)?;
    Ok(Arc::new(
        Handler::new(service, verifier)
            .with_audience(config.tokens.audience.clone())
            .with_max_auth_age(config.max_auth_age),
    ))
}

/// The verifier of bearer tokens, when `JWT_ISSUER` is set (the same for both binaries).
pub fn token_verifier(
    config: &Config,
    sdk: &SdkConfig,
    timing: &TokenTiming,
) -> Result<Option<TokenVerifier>, String> {
    let tokens = &config.tokens;
    let (Some(issuer), Some(jwks_url)) = (&tokens.issuer, &tokens.jwks_url) else {
        return Ok(None);
    };
    let url = jwks_url
        .parse()
        .map_err(|_| format!("JWT_JWKS_URL {jwks_url:?} is not a URL"))?;
    let hs256 = tokens.hs256_secret_id.as_ref().map(|id| {
        Box::new(SecretKey(CachedSecret::new(
            clients::secrets_manager(sdk),
            id.clone(),
            parse_hs256_secret,
        ))) as Box<dyn SharedKeySource>
    });
    Ok(Some(TokenVerifier::new(
        issuer.clone(),
        tokens.audience.clone(),
        JwksCache::new(url)?
            .with_unknown_kid_penalty(timing.jwks_penalty)
            .with_clock(timing.clock.clone()),
        hs256,
    )))
}

pub type TokenAuthorizer = Authorizer<DynamoDbAccountStore>;

/// Builds `token-authorizer`: the same verifier, and the marker read from the users table.
pub fn build_authorizer(config: &Config, sdk: &SdkConfig) -> Result<TokenAuthorizer, String> {
    build_authorizer_with(config, sdk, &TokenTiming::default())
}

/// [`build_authorizer`] with another [`TokenTiming`].
pub fn build_authorizer_with(
    config: &Config,
    sdk: &SdkConfig,
    timing: &TokenTiming,
) -> Result<TokenAuthorizer, String> {
    let verifier = token_verifier(config, sdk, timing)?
        .ok_or("JWT_ISSUER is required: token-authorizer verifies every token itself")?;
    let store = DynamoDbAccountStore::new(clients::dynamodb(sdk), config.users_table.clone());
    Ok(Authorizer::new(
        verifier,
        RevocationCheck::new(store)
            .with_ttl(timing.marker_ttl)
            .with_clock(timing.clock.clone()),
    ))
}

/// The HS256 key from Secrets Manager, plugged into the verifier's port.
struct SecretKey(CachedSecret<Vec<u8>>);

impl SharedKeySource for SecretKey {
    fn key(&self) -> KeyFuture<'_> {
        Box::pin(async move {
            self.0.get().await.map_err(|e| match e.unusable {
                true => KeyProblem::Invalid(e.to_string()),
                false => KeyProblem::Unavailable(e.to_string()),
            })
        })
    }
}
