//! SPEC §4 step 2, who is calling: the authorizer context when there is one (a token cannot
//! override it), else a bearer token the function verifies itself; then, when
//! `MAX_AUTH_AGE_SECONDS` is set, whether the user signed in recently enough. And where the
//! request came from, as the security event carries it.

use crate::auth::principal::{self, Principal, PrincipalError};
use crate::auth::token_verifier::{TokenFailure, TokenVerifier};
use crate::domain::sessions::RequestOrigin;
use lambda_http::http::header;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

/// The caller, and whether the token came in the query string.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub via_query_token: bool,
}

/// Why no caller could be resolved.
#[derive(Debug)]
pub enum NoCaller {
    /// 401 / 403: nobody, a bad token, a caller this endpoint refuses, a sign-in too old.
    Refused(PrincipalError),
    /// The token could not be checked now (its signing keys unreachable): 503.
    Unavailable(String),
}

/// Resolves callers; built once at cold start.
pub struct Callers {
    tokens: Option<TokenVerifier>,
    /// `JWT_AUDIENCE`: also required of authorizer claims when not empty.
    audience: Vec<String>,
    /// `MAX_AUTH_AGE_SECONDS`.
    max_auth_age: Option<u64>,
}

impl Callers {
    /// `tokens`: the verifier of bearer tokens; without one, every token is refused (401).
    pub fn new(tokens: Option<TokenVerifier>) -> Self {
        Callers {
            tokens,
            audience: Vec::new(),
            max_auth_age: None,
        }
    }

    pub fn with_audience(self, audience: Vec<String>) -> Self {
        Callers { audience, ..self }
    }

    pub fn with_max_auth_age(self, max_auth_age: Option<u64>) -> Self {
        Callers {
            max_auth_age,
            ..self
        }
    }

    /// An HS256 key that is there but unusable is a configuration error.
    pub async fn preflight(&self) -> Result<(), String> {
        match &self.tokens {
            Some(tokens) => tokens.preload().await.map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    /// Step 2: the caller of `request`, with a recent enough sign-in when that is required.
    pub async fn resolve(
        &self,
        request: &Request,
        request_context: &Value,
    ) -> Result<Caller, NoCaller> {
        let caller = self
            .identify(request, request_context)
            .await
            .map_err(|e| match e {
                TokenFailure::Refused(e) => NoCaller::Refused(e),
                TokenFailure::Unavailable(why) => NoCaller::Unavailable(why),
            })?;
        if let Some(max_age) = self.max_auth_age {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if !caller.principal.signed_in_within(max_age, now) {
                return Err(NoCaller::Refused(PrincipalError::SignInTooOld { max_age }));
            }
        }
        Ok(caller)
    }

    /// SPEC §3: the authorizer context decides when present; else a bearer token from the
    /// `Authorization` header, else from `access_token`.
    async fn identify(
        &self,
        request: &Request,
        request_context: &Value,
    ) -> Result<Caller, TokenFailure> {
        if let Some(principal) = principal::from_authorizer(request_context, &self.audience)? {
            return Ok(Caller {
                principal,
                via_query_token: false,
            });
        }
        // Behind an ALB (SPEC §3): only HTTPS, and never a token in the query string, which
        // the ALB's access logs keep.
        let behind_alb = request_context.get("elb").is_some();
        if behind_alb && !forwarded_over_https(request) {
            return Err(PrincipalError::InsecureRequest(
                "the request did not reach the load balancer over HTTPS",
            )
            .into());
        }
        // Whether or not a header token comes too: the query string is in the access logs.
        if behind_alb && query_token(request).is_some() {
            return Err(PrincipalError::InsecureRequest(
                "a token in the query string is refused behind a load balancer",
            )
            .into());
        }
        let (token, via_query_token) = match bearer_token(request) {
            Some(token) => (token, false),
            None => match query_token(request) {
                Some(token) => (token, true),
                None => return Err(PrincipalError::Unauthenticated.into()),
            },
        };
        let Some(verifier) = &self.tokens else {
            return Err(PrincipalError::InvalidToken.into());
        };
        let principal = verifier.verify(&token).await?;
        Ok(Caller {
            principal,
            via_query_token,
        })
    }
}

/// Where the request came from: the Lambda request id, the client's address as the front door
/// saw it (an ALB appends it to `X-Forwarded-For`: the rightmost entry, since the client can
/// send the others), and its user agent.
pub fn origin_of(request: &Request, request_context: &Value) -> RequestOrigin {
    let request_id = request
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let header = |name: header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let source_ip = [
        &request_context["http"]["sourceIp"],
        &request_context["identity"]["sourceIp"],
    ]
    .iter()
    .find_map(|v| v.as_str().map(String::from))
    .unwrap_or_else(|| {
        let forwarded = header(header::HeaderName::from_static("x-forwarded-for"));
        forwarded
            .rsplit(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    });
    RequestOrigin::new(&request_id, &source_ip, header(header::USER_AGENT))
}

/// Whether the load balancer received the request over HTTPS (`X-Forwarded-Proto: https`; the
/// ALB sets it, a client cannot add to it).
fn forwarded_over_https(request: &Request) -> bool {
    request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// `Authorization: Bearer <token>` (scheme case-insensitive, RFC 6750).
fn bearer_token(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

fn query_token(request: &Request) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first("access_token"))
        .filter(|t| !t.is_empty())
        .map(String::from)
}
