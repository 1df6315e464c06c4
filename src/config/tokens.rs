//! The callers' tokens: `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_JWKS_URL`, `JWT_HS256_SECRET_ID` (tokens
//! the function verifies itself, SPEC §3 source 4 and §6), `MAX_AUTH_AGE_SECONDS` (a recent
//! sign-in), and `COGNITO_USER_POOL_ID` (whose refresh tokens a change revokes).

use super::{ConfigError, Env, bad};

/// Settings for tokens the function verifies itself (SPEC §3 source 4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenSettings {
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub jwks_url: Option<String>,
    pub hs256_secret_id: Option<String>,
}

pub fn read(env: &Env) -> Result<TokenSettings, ConfigError> {
    let issuer = env
        .get("JWT_ISSUER")
        .map(|i| i.trim_end_matches('/').to_string());
    let jwks_url = match (&issuer, env.get("JWT_JWKS_URL")) {
        (_, Some(url)) => Some(
            crate::web::https::check_url(&url)
                .map(|_| url)
                .map_err(|p| bad("JWT_JWKS_URL", &p))?,
        ),
        (Some(issuer), None) => {
            let url = format!("{issuer}/.well-known/jwks.json");
            Some(
                crate::web::https::check_url(&url)
                    .map(|_| url)
                    .map_err(|p| bad("JWT_ISSUER", &format!("the default JWKS URL {p}")))?,
            )
        }
        (None, None) => None,
    };
    Ok(TokenSettings {
        issuer,
        audience: env
            .get("JWT_AUDIENCE")
            .map(|a| {
                a.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        jwks_url,
        hs256_secret_id: env.get("JWT_HS256_SECRET_ID"),
    })
}

/// `MAX_AUTH_AGE_SECONDS`: the user must have signed in at most this long ago.
pub fn max_auth_age(env: &Env) -> Result<Option<u64>, ConfigError> {
    let max_auth_age: Option<u64> = match env.get("MAX_AUTH_AGE_SECONDS") {
        None => None,
        Some(_) => Some(env.number("MAX_AUTH_AGE_SECONDS", 0)?),
    };
    if max_auth_age == Some(0) {
        return Err(bad(
            "MAX_AUTH_AGE_SECONDS",
            "must be at least 1 (unset it to require no recent sign-in)",
        ));
    }
    Ok(max_auth_age)
}

/// `COGNITO_USER_POOL_ID`: a committed change also revokes the user's refresh tokens.
pub fn cognito_user_pool(env: &Env) -> Result<Option<String>, ConfigError> {
    let pool = env.get("COGNITO_USER_POOL_ID");
    if let Some(pool) = &pool {
        let valid = pool.split_once('_').is_some_and(|(region, id)| {
            !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !id.is_empty()
                && id.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if !valid {
            return Err(bad(
                "COGNITO_USER_POOL_ID",
                "is not a user pool id (region_Id, as eu-west-1_AbCdEf123)",
            ));
        }
    }
    Ok(pool)
}
