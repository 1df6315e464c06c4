//! Bearer tokens verified by the function itself (SPEC §3 source 4, §6), as strictly as API
//! Gateway's JWT authorizer: an allow-list of algorithms (RS256/ES256 with JWKS keys, HS256 only
//! with the configured secret), `exp`/`nbf` with 60 s leeway, `iss` required and equal, `aud` or
//! `client_id` in the audience when one is set, `token_use = access` when present, `sub` required.

use crate::auth::jwks::{JwksCache, JwksError};
use crate::auth::principal::{self, Callers, Principal, PrincipalError, PrincipalSource};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub const LEEWAY_SECONDS: u64 = 60;

/// Why a token gave no principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFailure {
    /// 401 or 403: the token is refused.
    #[error(transparent)]
    Refused(#[from] PrincipalError),
    /// 503: the keys could not be had (JWKS or Secrets Manager down).
    #[error("token keys unavailable: {0}")]
    Unavailable(String),
}

/// The shortest HS256 key accepted: 256 bits, the hash's output size (RFC 7518 §3.2).
pub const MIN_HS256_KEY_BYTES: usize = 32;

/// The HS256 key: the secret's SecretString, as bytes, at least 32 of them.
pub fn parse_hs256_secret(secret: &str) -> Result<Vec<u8>, String> {
    if secret.len() < MIN_HS256_KEY_BYTES {
        return Err(format!(
            "the HS256 key has {} bytes; at least {MIN_HS256_KEY_BYTES} are required",
            secret.len()
        ));
    }
    Ok(secret.as_bytes().to_vec())
}

/// Why the HS256 key could not be had; the message never holds the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// The store of the key is unreachable now: worth retrying later.
    #[error("the HS256 key is unavailable: {0}")]
    Unavailable(String),
    /// The key is there but unusable (too short): a configuration error.
    #[error("the HS256 key is unusable: {0}")]
    Invalid(String),
}

pub type KeyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Arc<Vec<u8>>, KeyProblem>> + Send + 'a>>;

/// Where the HS256 key comes from: a port, so that `auth` does not know Secrets Manager.
pub trait SharedKeySource: Send + Sync {
    fn key(&self) -> KeyFuture<'_>;
}

pub struct TokenVerifier {
    issuer: String,
    audience: Vec<String>,
    jwks: JwksCache,
    hs256: Option<Box<dyn SharedKeySource>>,
}

impl TokenVerifier {
    pub fn new(
        issuer: String,
        audience: Vec<String>,
        jwks: JwksCache,
        hs256: Option<Box<dyn SharedKeySource>>,
    ) -> Self {
        TokenVerifier {
            issuer,
            audience,
            jwks,
            hs256,
        }
    }

    /// Loads the HS256 key at cold start, if one is configured: an unusable key is a
    /// configuration error; an unreachable one is tried again on first need.
    pub async fn preload(&self) -> Result<(), KeyProblem> {
        match &self.hs256 {
            Some(source) => match source.key().await {
                Err(KeyProblem::Invalid(why)) => Err(KeyProblem::Invalid(why)),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Verifies `token` and returns its caller.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenFailure> {
        self.verify_for(token, Callers::Users).await
    }

    /// [`Self::verify`], for the given kind of callers (token-authorizer lets machines in).
    pub async fn verify_for(
        &self,
        token: &str,
        callers: Callers,
    ) -> Result<Principal, TokenFailure> {
        let invalid = || TokenFailure::Refused(PrincipalError::InvalidToken);
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let key = match header.alg {
            Algorithm::RS256 | Algorithm::ES256 => {
                let jwk = match self.jwks.key(header.kid.as_deref()).await {
                    Ok(jwk) => jwk,
                    Err(JwksError::UnknownKey) => return Err(invalid()),
                    Err(JwksError::Unavailable(why)) => return Err(TokenFailure::Unavailable(why)),
                };
                if !jwk_fits(&jwk, header.alg) {
                    return Err(invalid());
                }
                DecodingKey::from_jwk(&jwk).map_err(|_| invalid())?
            }
            Algorithm::HS256 => {
                let Some(secret) = &self.hs256 else {
                    return Err(invalid());
                };
                let key = secret
                    .key()
                    .await
                    .map_err(|e| TokenFailure::Unavailable(e.to_string()))?;
                DecodingKey::from_secret(&key)
            }
            _ => return Err(invalid()),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false; // checked below: Cognito access tokens carry `client_id`
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[self.issuer.as_str()]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|_| invalid())?
            .claims;
        if !principal::audience_accepted(&self.audience, &claims) {
            return Err(invalid());
        }
        if claims
            .get("token_use")
            .is_some_and(|u| u.as_str() != Some("access"))
        {
            return Err(invalid());
        }
        principal::caller_from_claims(&claims, PrincipalSource::BearerToken, callers).map_err(|e| {
            match e {
                PrincipalError::Unauthenticated => invalid(),
                other => TokenFailure::Refused(other),
            }
        })
    }
}

/// A JWKS key may verify a token of `alg` only if its type (and declared algorithm and use, when
/// given) fit: RS256 needs an RSA key, ES256 a P-256 key. Symmetric keys from a JWKS never verify.
fn jwk_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let type_fits = match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        _ => false,
    };
    let declared_fits = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    let use_fits = matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    );
    type_fits && declared_fits && use_fits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hs256_key_has_at_least_32_bytes_and_is_used_as_given() {
        let short = "k".repeat(MIN_HS256_KEY_BYTES - 1);
        assert!(parse_hs256_secret(&short).unwrap_err().contains("31 bytes"));
        let exact = "k".repeat(MIN_HS256_KEY_BYTES);
        assert_eq!(parse_hs256_secret(&exact), Ok(exact.as_bytes().to_vec()));
        assert_eq!(MIN_HS256_KEY_BYTES, 32);
    }
}
