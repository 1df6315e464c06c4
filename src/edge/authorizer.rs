//! `token-authorizer`: the Lambda authorizer the workspace's other APIs attach to their routes
//! (SPEC §7). It verifies the bearer token exactly as the function does ([`TokenVerifier`]) and
//! refuses tokens issued before the user's last password change ([`RevocationCheck`]).
//!
//! - REST `TOKEN` and `REQUEST` authorizers get an IAM policy for the whole stage (so that API
//!   Gateway's cache of the decision serves every route), or the error `Unauthorized` (API
//!   Gateway answers 401) for a missing, invalid or revoked token. Machine (client-credentials)
//!   tokens are let through: refusing them is change-password's own rule, not the workspace's.
//! - HTTP API authorizers (payload 2.0) get a simple response: `isAuthorized` and a context.
//! - When the user's marker cannot be read and none is cached, the answer is an error other
//!   than `Unauthorized` (API Gateway answers 500): revoked tokens are never let through.
//!
//! The context handed to the API carries `sub`, `iat` and the session ids, so that
//! change-password itself, behind this authorizer, applies the same rule.

use crate::auth::principal::{Callers, PRINCIPAL_TYPE_KEY, Principal};
use crate::auth::revocation::{RevocationCheck, Verdict};
use crate::auth::token_verifier::{TokenFailure, TokenVerifier};
use crate::domain::sessions::{IssuedAt, MarkerSource};
use crate::edge::metrics::{self, EventSource, Metric};
use serde_json::{Map, Value, json};

/// Why no policy was returned: the invocation error's message is what API Gateway reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizerError {
    /// API Gateway answers 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// API Gateway answers 500: the token could not be checked now.
    #[error("the token could not be checked: {0}")]
    Unavailable(String),
    #[error("the event is not an API Gateway authorizer event")]
    NotAnAuthorizerEvent,
}

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(e: AuthorizerError) -> Self {
        let error_type = match e {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::Unavailable(_) => "AuthorizerUnavailable",
            AuthorizerError::NotAnAuthorizerEvent => "NotAnAuthorizerEvent",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: e.to_string(),
        }
    }
}

/// Which kind of authorizer event came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// REST `TOKEN` or `REQUEST`: an IAM policy is answered.
    RestPolicy,
    /// HTTP API payload 2.0: a simple response is answered.
    HttpSimple,
}

/// How one token was judged.
#[derive(Debug)]
enum Decision {
    Allow(Principal),
    /// Missing, invalid or revoked.
    Unauthorized,
    Unavailable(String),
}

pub struct Authorizer<M> {
    verifier: TokenVerifier,
    revocation: RevocationCheck<M>,
}

impl<M: MarkerSource> Authorizer<M> {
    pub fn new(verifier: TokenVerifier, revocation: RevocationCheck<M>) -> Self {
        Authorizer {
            verifier,
            revocation,
        }
    }

    /// Cold-start checks: an unusable HS256 key stops the start (as it does for the function).
    pub async fn preflight(&self) -> Result<(), String> {
        self.verifier.preload().await.map_err(|e| e.to_string())
    }

    /// Handles one authorizer invocation.
    pub async fn handle_event(&self, event: &Value) -> Result<Value, AuthorizerError> {
        let kind = if event["version"] == "2.0" {
            Kind::HttpSimple
        } else if event.get("methodArn").is_some_and(Value::is_string) {
            Kind::RestPolicy
        } else {
            return Err(AuthorizerError::NotAnAuthorizerEvent);
        };
        let decision = match bearer_token(event) {
            Some(token) => self.decide(&token).await,
            None => Decision::Unauthorized,
        };
        let metric = match &decision {
            Decision::Allow(_) => Metric::AuthorizerAllowed,
            Decision::Unavailable(_) => Metric::AuthorizerUnavailable,
            _ => Metric::AuthorizerDenied,
        };
        metrics::emit(metric, EventSource::Unknown);
        let outcome = match &decision {
            Decision::Allow(_) => "allow",
            Decision::Unauthorized => "unauthorized",
            Decision::Unavailable(_) => "unavailable",
        };
        let detail = match &decision {
            Decision::Unavailable(why) => Some(why.as_str()),
            _ => None,
        };
        tracing::info!(
            target: "change_password::authorizer",
            outcome,
            detail,
            "token-authorizer decision"
        );
        respond(kind, event, decision)
    }

    async fn decide(&self, token: &str) -> Decision {
        let principal = match self
            .verifier
            .verify_for(token, Callers::UsersAndMachines)
            .await
        {
            Ok(principal) => principal,
            Err(TokenFailure::Unavailable(why)) => return Decision::Unavailable(why),
            Err(TokenFailure::Refused(_)) => return Decision::Unauthorized,
        };
        match self.revocation.verdict(&principal).await {
            Verdict::Valid => Decision::Allow(principal),
            Verdict::Revoked => {
                metrics::emit(Metric::TokenRevoked, EventSource::Unknown);
                Decision::Unauthorized
            }
            Verdict::Unknown(why) => Decision::Unavailable(why),
        }
    }
}

/// The answer API Gateway expects for `kind`.
fn respond(kind: Kind, event: &Value, decision: Decision) -> Result<Value, AuthorizerError> {
    match (kind, decision) {
        (_, Decision::Unavailable(why)) => Err(AuthorizerError::Unavailable(why)),
        (Kind::RestPolicy, Decision::Unauthorized) => Err(AuthorizerError::Unauthorized),
        (Kind::RestPolicy, Decision::Allow(p)) => {
            Ok(policy(event, &p.user_id, "Allow", Some(context(&p))))
        }
        (Kind::HttpSimple, Decision::Allow(p)) => {
            Ok(json!({"isAuthorized": true, "context": context(&p)}))
        }
        (Kind::HttpSimple, _) => Ok(json!({"isAuthorized": false})),
    }
}

/// An IAM policy for every method and resource of the stage the request came to.
fn policy(event: &Value, principal_id: &str, effect: &str, context: Option<Value>) -> Value {
    let method_arn = event["methodArn"].as_str().unwrap_or_default();
    // arn:aws:execute-api:region:account:apiId/stage/METHOD/resource → .../apiId/stage/*/*
    let resource = match method_arn.splitn(3, '/').collect::<Vec<_>>()[..] {
        [api, stage, _] => format!("{api}/{stage}/*/*"),
        _ => method_arn.to_string(),
    };
    let mut response = json!({
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": effect,
                "Resource": resource,
            }],
        },
    });
    if let Some(context) = context {
        response["context"] = context;
    }
    response
}

/// The context's `iat` for a token whose issue time could not be read.
pub const UNKNOWN_IAT: &str = "unknown";

/// What the API behind the authorizer learns of the caller (strings and numbers only).
fn context(principal: &Principal) -> Value {
    let mut context = Map::new();
    context.insert("sub".into(), json!(principal.user_id));
    // What kind of principal was let through: change-password refuses machines (403).
    context.insert(PRINCIPAL_TYPE_KEY.into(), json!(principal.kind.as_str()));
    // A token of unknown age says so, rather than leaving `iat` out: a function behind this
    // authorizer then applies its own check instead of taking the caller as vouched for.
    match principal.token.issued_at {
        IssuedAt::At(iat) => context.insert("iat".into(), json!(iat)),
        IssuedAt::Unknown | IssuedAt::VouchedByAuthorizer => {
            context.insert("iat".into(), json!(UNKNOWN_IAT))
        }
    };
    if let Some(auth_time) = principal.token.auth_time {
        context.insert("auth_time".into(), json!(auth_time));
    }
    let session = &principal.token.session;
    for (key, value) in [
        ("jti", &session.jti),
        ("origin_jti", &session.origin_jti),
        ("sid", &session.sid),
        ("username", &principal.token.username),
        ("iss", &principal.token.issuer),
    ] {
        if let Some(value) = value {
            context.insert(key.into(), json!(value));
        }
    }
    Value::Object(context)
}

/// The bearer token of an authorizer event: `authorizationToken` (REST `TOKEN`), else the
/// `Authorization` header (REST `REQUEST`, HTTP API), else the first identity source.
fn bearer_token(event: &Value) -> Option<String> {
    let header = event["headers"].as_object().and_then(|headers| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.as_str())
    });
    let raw = event["authorizationToken"]
        .as_str()
        .or(header)
        .or_else(|| event["identitySource"][0].as_str())?;
    let (scheme, token) = raw.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_token_the_header_or_the_identity_source() {
        let token = |e: Value| bearer_token(&e);
        assert_eq!(
            token(json!({"authorizationToken": "Bearer abc"})),
            Some("abc".into())
        );
        assert_eq!(
            token(json!({"headers": {"Authorization": "bearer  xyz "}})),
            Some("xyz".into())
        );
        assert_eq!(
            token(json!({"identitySource": ["Bearer q"]})),
            Some("q".into())
        );
        assert_eq!(token(json!({"authorizationToken": "Basic abc"})), None);
        assert_eq!(token(json!({"authorizationToken": "Bearer "})), None);
        assert_eq!(token(json!({})), None);
    }

    #[test]
    fn the_policy_covers_the_whole_stage() {
        let event = json!({"methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/items/7"});
        let p = policy(&event, "u", "Allow", None);
        assert_eq!(
            p["policyDocument"]["Statement"][0]["Resource"],
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"
        );
        assert_eq!(p["principalId"], "u");
    }
}
