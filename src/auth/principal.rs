//! Who is calling (SPEC §3), read from the raw `requestContext` and the request's credentials.
//!
//! The raw JSON is read rather than lambda_http's typed context: API Gateway's shapes differ per
//! source (REST Cognito claims, HTTP API JWT claims, Lambda authorizer context maps), and a
//! numeric claim must not change the answer.

use crate::domain::sessions::{IssuedAt, SessionIds, TokenFacts};
use serde_json::{Map, Value};

/// The longest user id accepted: OpenID Connect caps `sub` at 255 ASCII characters, and a
/// longer one could not be a DynamoDB key anyway (2048 bytes): refused as unauthenticated.
pub const MAX_USER_ID_BYTES: usize = 255;

/// A user id this service accepts: at most 255 bytes of printable characters other than `"`
/// and `\` (it is a DynamoDB key, and it travels unescaped in the security event's template).
pub fn acceptable_user_id(id: &str) -> bool {
    id.len() <= MAX_USER_ID_BYTES && !id.chars().any(|c| c.is_control() || c == '"' || c == '\\')
}

/// A time claim further ahead than this is not believed (clock skew allowance).
const MAX_CLOCK_SKEW_SECONDS: i64 = 60;

/// Where the caller's identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalSource {
    HttpApiJwtAuthorizer,
    RestCognitoAuthorizer,
    LambdaAuthorizer,
    BearerToken,
}

impl PrincipalSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalSource::HttpApiJwtAuthorizer => "HttpApiJwtAuthorizer",
            PrincipalSource::RestCognitoAuthorizer => "RestCognitoAuthorizer",
            PrincipalSource::LambdaAuthorizer => "LambdaAuthorizer",
            PrincipalSource::BearerToken => "BearerToken",
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub source: PrincipalSource,
    /// What the token says of itself: its age, sign-in time and session.
    pub token: TokenFacts,
    /// A user, or a machine (a client-credentials token: only token-authorizer lets those
    /// through, and says so in its context).
    pub kind: PrincipalKind,
}

/// Who a principal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrincipalKind {
    #[default]
    User,
    Machine,
}

impl PrincipalKind {
    /// The value of token-authorizer's `principal_type` context key.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Machine => "machine",
        }
    }
}

/// The key of a Lambda authorizer's context that says what kind of principal it let through.
pub const PRINCIPAL_TYPE_KEY: &str = "principal_type";

/// A caller this endpoint refuses before looking at any account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    /// 401: nobody is authenticated (or the authorizer gave no subject).
    #[error("no authenticated caller")]
    Unauthenticated,
    /// 401: a bearer token was presented and is not acceptable.
    #[error("the bearer token is not valid")]
    InvalidToken,
    /// 403: an API key is the only credential.
    #[error("API keys cannot change a password")]
    ApiKeyCaller,
    /// 403: a machine (client-credentials) token.
    #[error("machine tokens cannot change a password")]
    MachineToken,
    /// 401 `invalid_request`: behind an ALB, a token in the query string (its access logs keep
    /// it) or a request the ALB did not receive over HTTPS.
    #[error("the request cannot carry credentials this way: {0}")]
    InsecureRequest(&'static str),
    /// 401 with an RFC 9470 challenge: the user signed in longer ago than `max_age` seconds
    /// (or the token does not say when).
    #[error("the sign-in is older than {max_age} seconds")]
    SignInTooOld { max_age: u64 },
}

impl Principal {
    /// Whether the user signed in (`auth_time`) at most `max_age` seconds before `now`.
    pub fn signed_in_within(&self, max_age: u64, now: i64) -> bool {
        self.token
            .auth_time
            .is_some_and(|at| now.saturating_sub(at) <= max_age as i64)
    }
}

/// Resolves the caller from the authorizer context, in SPEC §3 order: the first source present
/// decides. `Ok(None)` means no authorizer context at all (the caller may still carry a token).
/// When `audience` is not empty, JWT and Cognito authorizer claims must name one of its client
/// ids (`aud` or `client_id`), as tokens the function verifies must: an authorizer that accepts
/// every app client of a pool does not widen who may call. A Lambda authorizer's context
/// carries no such claim and is taken as its authorizer decided.
pub fn from_authorizer(
    request_context: &Value,
    audience: &[String],
) -> Result<Option<Principal>, PrincipalError> {
    let authorizer = request_context.get("authorizer").and_then(Value::as_object);
    let Some(authorizer) = authorizer else {
        return api_key_check(request_context);
    };
    // 1. HTTP API JWT authorizer.
    if let Some(claims) = authorizer
        .get("jwt")
        .and_then(|j| j.get("claims"))
        .and_then(Value::as_object)
    {
        return from_audited_claims(claims, audience, PrincipalSource::HttpApiJwtAuthorizer);
    }
    // 2. REST Cognito user pool authorizer.
    if let Some(claims) = authorizer.get("claims").and_then(Value::as_object) {
        return from_audited_claims(claims, audience, PrincipalSource::RestCognitoAuthorizer);
    }
    // 3. Lambda authorizer: HTTP API puts its context under `lambda`, REST at the top level.
    if let Some(context) = authorizer.get("lambda").and_then(Value::as_object) {
        return from_lambda_context(context).map(Some);
    }
    if authorizer.contains_key("principalId") || authorizer.contains_key("sub") {
        return from_lambda_context(authorizer).map(Some);
    }
    api_key_check(request_context)
}

/// No user principal: an API key as the only credential is refused (403); else nothing.
fn api_key_check(request_context: &Value) -> Result<Option<Principal>, PrincipalError> {
    let identity = request_context.get("identity");
    let set = |key: &str| {
        identity
            .and_then(|i| i.get(key))
            .and_then(claim_string)
            .is_some_and(|v| !v.is_empty())
    };
    if set("apiKey") || set("apiKeyId") {
        return Err(PrincipalError::ApiKeyCaller);
    }
    Ok(None)
}

fn from_audited_claims(
    claims: &Map<String, Value>,
    audience: &[String],
    source: PrincipalSource,
) -> Result<Option<Principal>, PrincipalError> {
    if !audience.is_empty() && !names_client(audience, claims, true) {
        return Err(PrincipalError::InvalidToken);
    }
    from_claims(claims, source).map(Some)
}

/// Whether the claims name an accepted client id (`aud`, a string or a list, or Cognito's
/// `client_id`); always when `accepted` is empty.
pub fn audience_accepted(accepted: &[String], claims: &Map<String, Value>) -> bool {
    accepted.is_empty() || names_client(accepted, claims, false)
}

/// [`audience_accepted`] for claims as API Gateway passes them: an HTTP API JWT authorizer
/// flattens a list `aud` into one string like `[a b]`.
fn names_client(accepted: &[String], claims: &Map<String, Value>, flattened: bool) -> bool {
    let ok = |v: &str| accepted.iter().any(|a| a == v);
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => {
            ok(a)
                || (flattened
                    && a.strip_prefix('[')
                        .and_then(|a| a.strip_suffix(']'))
                        .is_some_and(|list| list.split(' ').any(ok)))
        }
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(ok),
        _ => false,
    };
    aud || claims
        .get("client_id")
        .and_then(Value::as_str)
        .is_some_and(ok)
}

/// A claim as a string: API Gateway passes strings, but numbers and booleans are accepted.
pub fn claim_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Which callers a verified token may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// Users only: machine tokens are refused (403), as changing a password needs a user.
    Users,
    /// Users and machines (client-credentials tokens): what token-authorizer lets through to
    /// the workspace's other APIs.
    UsersAndMachines,
}

/// A principal from verified claims (authorizer claims or a verified token): users only.
pub fn from_claims(
    claims: &Map<String, Value>,
    source: PrincipalSource,
) -> Result<Principal, PrincipalError> {
    caller_from_claims(claims, source, Callers::Users)
}

/// A principal from verified claims, for the given kind of callers.
pub fn caller_from_claims(
    claims: &Map<String, Value>,
    source: PrincipalSource,
    callers: Callers,
) -> Result<Principal, PrincipalError> {
    let get = |key: &str| {
        claims
            .get(key)
            .and_then(claim_string)
            .filter(|v| !v.is_empty())
    };
    let Some(sub) = get("sub").filter(|s| acceptable_user_id(s)) else {
        return Err(PrincipalError::Unauthenticated);
    };
    // Cognito client-credentials tokens: no user name, and the subject is the client itself.
    let has_username = get("username").is_some() || get("cognito:username").is_some();
    let kind = if !has_username && get("client_id").as_deref() == Some(sub.as_str()) {
        PrincipalKind::Machine
    } else {
        PrincipalKind::User
    };
    if callers == Callers::Users && kind == PrincipalKind::Machine {
        return Err(PrincipalError::MachineToken);
    }
    Ok(Principal {
        user_id: sub,
        source,
        token: token_facts(claims, IssuedAt::Unknown),
        kind,
    })
}

/// The token's `iat`, `auth_time`, session ids and user name, from claims or an authorizer
/// context. `missing_iat`: what an absent `iat` means for this source.
fn token_facts(claims: &Map<String, Value>, missing_iat: IssuedAt) -> TokenFacts {
    let text = |key: &str| {
        claims
            .get(key)
            .and_then(claim_string)
            .filter(|v| !v.is_empty())
    };
    // A time in the future (beyond clock skew) is not believed: such an `iat` is of unknown
    // age (refused after a change), such an `auth_time` no sign-in at all.
    let latest = time::OffsetDateTime::now_utc().unix_timestamp() + MAX_CLOCK_SKEW_SECONDS;
    let believable = |v: &Value| claim_time(v).filter(|t| *t <= latest);
    let issued_at = match claims.get("iat") {
        None | Some(Value::Null) => missing_iat,
        Some(v) => believable(v).map_or(IssuedAt::Unknown, IssuedAt::At),
    };
    TokenFacts {
        issued_at,
        auth_time: claims.get("auth_time").and_then(believable),
        session: SessionIds {
            jti: text("jti"),
            origin_jti: text("origin_jti"),
            sid: text("sid"),
        },
        username: text("username").or_else(|| text("cognito:username")),
        issuer: text("iss"),
    }
}

/// A time claim as epoch seconds: a number, a numeric string (API Gateway passes claims as
/// strings), or the date string a REST Cognito authorizer passes (`Tue Mar 09 17:13:46 UTC 2021`).
pub fn claim_time(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| cognito_date(s)),
        _ => None,
    }
}

fn cognito_date(s: &str) -> Option<i64> {
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second] UTC [year]",
    )
    .ok()?;
    let single_spaced = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let day_unpadded = single_spaced
        .split(' ')
        .enumerate()
        .map(|(i, part)| {
            if i == 2 {
                part.trim_start_matches('0')
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    time::PrimitiveDateTime::parse(&day_unpadded, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

fn from_lambda_context(context: &Map<String, Value>) -> Result<Principal, PrincipalError> {
    let get = |key: &str| {
        context
            .get(key)
            .and_then(claim_string)
            .filter(|v| !v.is_empty())
    };
    // A machine let through by token-authorizer (or any authorizer that says so) is refused
    // here as from every other door (SPEC §3).
    // A machine: as its authorizer says, or as its claims show (no user name, and the subject
    // is the client itself) for an authorizer that passes them without saying.
    let has_username = get("username").is_some() || get("cognito:username").is_some();
    let client_itself = get("client_id").is_some() && get("client_id") == get("sub");
    if get(PRINCIPAL_TYPE_KEY).as_deref() == Some(PrincipalKind::Machine.as_str())
        || (!has_username && client_itself)
    {
        return Err(PrincipalError::MachineToken);
    }
    match get("sub")
        .or_else(|| get("principalId"))
        .filter(|s| acceptable_user_id(s))
    {
        Some(user_id) => Ok(Principal {
            user_id,
            source: PrincipalSource::LambdaAuthorizer,
            token: token_facts(context, IssuedAt::VouchedByAuthorizer),
            kind: PrincipalKind::User,
        }),
        None => Err(PrincipalError::Unauthenticated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(ctx: Value) -> Result<Option<Principal>, PrincipalError> {
        from_authorizer(&ctx, &[])
    }

    #[test]
    fn user_ids_that_could_break_a_template_or_a_key_are_refused() {
        for bad in ["a\"b", "a\\b", "a\nb", "a\u{0}b"] {
            let ctx = json!({"authorizer": {"jwt": {"claims": {"sub": bad, "username": "x"}}}});
            assert_eq!(user(ctx), Err(PrincipalError::Unauthenticated), "{bad:?}");
        }
        assert!(acceptable_user_id("7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d"));
        assert!(acceptable_user_id("auth0|5f7c8ec7c33c6c004bbafe82"));
    }

    #[test]
    fn time_claims_from_the_future_are_not_believed() {
        let later = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let ctx = json!({"authorizer": {"jwt": {"claims": {"sub": "u", "username": "x",
            "iat": later.to_string(), "auth_time": later.to_string()}}}});
        let p = user(ctx).unwrap().unwrap();
        assert_eq!(p.token.issued_at, IssuedAt::Unknown);
        assert_eq!(p.token.auth_time, None);
        let huge =
            json!({"authorizer": {"jwt": {"claims": {"sub": "u", "username": "x", "iat": 1e300}}}});
        assert_eq!(
            user(huge).unwrap().unwrap().token.issued_at,
            IssuedAt::Unknown
        );
    }

    #[test]
    fn user_ids_longer_than_oidc_allows_are_refused() {
        let long = "u".repeat(MAX_USER_ID_BYTES + 1);
        let ok = "u".repeat(MAX_USER_ID_BYTES);
        for ctx in [
            json!({"authorizer": {"jwt": {"claims": {"sub": long, "username": "x"}}}}),
            json!({"authorizer": {"lambda": {"sub": long}}}),
            json!({"authorizer": {"principalId": long}}),
        ] {
            assert_eq!(user(ctx), Err(PrincipalError::Unauthenticated));
        }
        let ctx = json!({"authorizer": {"jwt": {"claims": {"sub": ok, "username": "x"}}}});
        assert!(user(ctx).unwrap().is_some());
    }

    #[test]
    fn time_claims_as_numbers_strings_and_cognito_dates() {
        assert_eq!(claim_time(&json!(1615310026)), Some(1615310026));
        assert_eq!(claim_time(&json!("1615310026")), Some(1615310026));
        assert_eq!(
            claim_time(&json!("Tue Mar 09 17:13:46 UTC 2021")),
            Some(1615310026)
        );
        assert_eq!(
            claim_time(&json!("Tue Mar  9 17:13:46 UTC 2021")),
            Some(1615310026)
        );
        assert_eq!(
            claim_time(&json!("Wed Nov 25 00:00:00 UTC 2026")),
            Some(1795564800)
        );
        assert_eq!(claim_time(&json!("yesterday")), None);
        assert_eq!(claim_time(&json!(true)), None);
    }

    #[test]
    fn token_facts_by_source() {
        let claims = json!({"authorizer": {"jwt": {"claims": {
            "sub": "u", "username": "jane", "iat": "1000", "auth_time": "900",
            "jti": "j", "origin_jti": "o"}}}});
        let p = user(claims).unwrap().unwrap();
        assert_eq!(p.token.issued_at, IssuedAt::At(1000));
        assert_eq!(p.token.auth_time, Some(900));
        assert_eq!(p.token.session.jti.as_deref(), Some("j"));
        assert_eq!(p.token.session.origin_jti.as_deref(), Some("o"));
        assert_eq!(p.token.username.as_deref(), Some("jane"));
        // Claims without iat are of unknown age; a Lambda authorizer context vouches.
        let no_iat = json!({"authorizer": {"claims": {"sub": "u", "cognito:username": "x"}}});
        assert_eq!(
            user(no_iat).unwrap().unwrap().token.issued_at,
            IssuedAt::Unknown
        );
        let bad_iat = json!({"authorizer": {"claims": {"sub": "u", "iat": "soon"}}});
        assert_eq!(
            user(bad_iat).unwrap().unwrap().token.issued_at,
            IssuedAt::Unknown
        );
        let lambda = json!({"authorizer": {"lambda": {"sub": "u"}}});
        assert_eq!(
            user(lambda).unwrap().unwrap().token.issued_at,
            IssuedAt::VouchedByAuthorizer
        );
        let lambda = json!({"authorizer": {"principalId": "u", "iat": 5}});
        assert_eq!(
            user(lambda).unwrap().unwrap().token.issued_at,
            IssuedAt::At(5)
        );
        // token-authorizer's word for a token whose `iat` it could not read.
        let lambda = json!({"authorizer": {"lambda": {"sub": "u", "iat": "unknown"}}});
        assert_eq!(
            user(lambda).unwrap().unwrap().token.issued_at,
            IssuedAt::Unknown
        );
    }

    #[test]
    fn authorizer_claims_must_name_an_accepted_client_when_an_audience_is_set() {
        let audience = vec!["app-a".to_string()];
        let with = |claims: Value| json!({"authorizer": {"jwt": {"claims": claims}}});
        let ok = with(json!({"sub": "u", "username": "n", "client_id": "app-a"}));
        assert!(from_authorizer(&ok, &audience).unwrap().is_some());
        let ok = json!({"authorizer": {"claims": {"sub": "u", "aud": "app-a"}}});
        assert!(from_authorizer(&ok, &audience).unwrap().is_some());
        let ok = with(json!({"sub": "u", "aud": "[app-b app-a]"}));
        assert!(from_authorizer(&ok, &audience).unwrap().is_some());
        for claims in [
            json!({"sub": "u", "client_id": "app-b"}),
            json!({"sub": "u", "aud": "app-b"}),
            json!({"sub": "u"}),
        ] {
            assert_eq!(
                from_authorizer(&with(claims.clone()), &audience),
                Err(PrincipalError::InvalidToken),
                "{claims}"
            );
            let rest = json!({"authorizer": {"claims": claims}});
            assert_eq!(
                from_authorizer(&rest, &audience),
                Err(PrincipalError::InvalidToken)
            );
        }
        // Without an audience, any client is accepted; a Lambda authorizer context is its own.
        assert!(
            from_authorizer(&with(json!({"sub": "u", "aud": "x"})), &[])
                .unwrap()
                .is_some()
        );
        let lambda = json!({"authorizer": {"lambda": {"sub": "u"}}});
        assert!(from_authorizer(&lambda, &audience).unwrap().is_some());
    }

    #[test]
    fn jwt_claims_come_first_and_cannot_be_overridden() {
        let ctx = json!({"authorizer": {"jwt": {"claims": {"sub": "a", "username": "x"}},
                                        "lambda": {"sub": "b"}, "claims": {"sub": "c"}}});
        assert_eq!(user(ctx).unwrap().unwrap().user_id, "a");
        let ctx = json!({"authorizer": {"claims": {"sub": "c"}, "principalId": "d"}});
        assert_eq!(
            user(ctx).unwrap().unwrap().source,
            PrincipalSource::RestCognitoAuthorizer
        );
    }

    #[test]
    fn lambda_authorizer_uses_sub_then_principal_id() {
        let ctx = json!({"authorizer": {"lambda": {"sub": "s1", "principalId": "p"}}});
        assert_eq!(user(ctx).unwrap().unwrap().user_id, "s1");
        let ctx = json!({"authorizer": {"principalId": "p1", "integrationLatency": 3}});
        assert_eq!(user(ctx).unwrap().unwrap().user_id, "p1");
        let ctx = json!({"authorizer": {"lambda": {"tenant": "acme"}}});
        assert_eq!(user(ctx), Err(PrincipalError::Unauthenticated));
    }

    #[test]
    fn numeric_claims_are_accepted_and_missing_sub_is_401() {
        let ctx =
            json!({"authorizer": {"jwt": {"claims": {"sub": 42, "iat": 1, "username": "u"}}}});
        assert_eq!(user(ctx).unwrap().unwrap().user_id, "42");
        let ctx = json!({"authorizer": {"jwt": {"claims": {"username": "u"}}}});
        assert_eq!(user(ctx), Err(PrincipalError::Unauthenticated));
    }

    #[test]
    fn api_key_only_callers_and_machine_tokens_are_refused() {
        let ctx = json!({"identity": {"apiKey": "k", "apiKeyId": "id"}});
        assert_eq!(user(ctx), Err(PrincipalError::ApiKeyCaller));
        let ctx = json!({"identity": {"apiKey": "k"}, "authorizer": {"claims": {"sub": "u", "cognito:username": "n"}}});
        assert!(user(ctx).unwrap().is_some());
        let ctx = json!({"authorizer": {"jwt": {"claims": {"sub": "app1", "client_id": "app1"}}}});
        assert_eq!(user(ctx), Err(PrincipalError::MachineToken));
        let ctx = json!({"identity": {"apiKey": null, "apiKeyId": ""}});
        assert_eq!(user(ctx), Ok(None));
    }

    #[test]
    fn a_lambda_authorizer_context_naming_a_machine_is_refused() {
        // As token-authorizer writes it (docs/api.md): `principal_type` "machine" or "user".
        let ctx = json!({"authorizer": {"lambda": {"sub": "app1", "principal_type": "machine"}}});
        assert_eq!(user(ctx), Err(PrincipalError::MachineToken));
        let ctx = json!({"authorizer": {"lambda": {"sub": "u-1", "principal_type": "user"}}});
        assert_eq!(user(ctx).unwrap().unwrap().kind, PrincipalKind::User);
        assert_eq!(PrincipalKind::Machine.as_str(), "machine");
        assert_eq!(PrincipalKind::User.as_str(), "user");
    }

    #[test]
    fn sources_are_named_as_the_request_log_documents_them() {
        // docs/operations.md: the `source` of the request log line.
        let names = [
            PrincipalSource::HttpApiJwtAuthorizer,
            PrincipalSource::RestCognitoAuthorizer,
            PrincipalSource::LambdaAuthorizer,
            PrincipalSource::BearerToken,
        ]
        .map(PrincipalSource::as_str);
        assert_eq!(
            names,
            [
                "HttpApiJwtAuthorizer",
                "RestCognitoAuthorizer",
                "LambdaAuthorizer",
                "BearerToken"
            ]
        );
    }

    #[test]
    fn a_sign_in_is_recent_up_to_max_age_seconds_and_never_without_auth_time() {
        let at = |auth_time: Option<i64>| Principal {
            user_id: "u".into(),
            source: PrincipalSource::BearerToken,
            token: TokenFacts {
                auth_time,
                ..TokenFacts::default()
            },
            kind: PrincipalKind::User,
        };
        assert!(at(Some(1_000)).signed_in_within(300, 1_300));
        assert!(!at(Some(1_000)).signed_in_within(300, 1_301));
        assert!(!at(None).signed_in_within(300, 1_000));
    }

    #[test]
    fn verified_tokens_name_an_accepted_client_in_aud_or_client_id() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let accepted = vec!["app-a".to_string()];
        assert!(audience_accepted(&[], &claims(json!({"sub": "u"}))));
        assert!(audience_accepted(
            &accepted,
            &claims(json!({"aud": "app-a"}))
        ));
        assert!(audience_accepted(
            &accepted,
            &claims(json!({"aud": ["x", "app-a"]}))
        ));
        assert!(audience_accepted(
            &accepted,
            &claims(json!({"client_id": "app-a"}))
        ));
        // A token's own `aud` is never the flattened form an HTTP API authorizer passes.
        assert!(!audience_accepted(
            &accepted,
            &claims(json!({"aud": "[x app-a]"}))
        ));
        assert!(!audience_accepted(
            &accepted,
            &claims(json!({"aud": "app-b", "client_id": "app-b"}))
        ));
        assert!(!audience_accepted(&accepted, &claims(json!({"sub": "u"}))));
    }

    #[test]
    fn claims_are_read_as_strings_from_strings_numbers_and_booleans() {
        assert_eq!(claim_string(&json!("a")), Some("a".into()));
        assert_eq!(claim_string(&json!(42)), Some("42".into()));
        assert_eq!(claim_string(&json!(true)), Some("true".into()));
        assert_eq!(claim_string(&json!(null)), None);
        assert_eq!(claim_string(&json!(["a"])), None);
    }

    #[test]
    fn either_user_name_claim_makes_a_user_of_a_subject_equal_to_its_client() {
        for name in ["username", "cognito:username"] {
            let claims = json!({"sub": "app1", "client_id": "app1", name: "n"});
            let principal = from_claims(claims.as_object().unwrap(), PrincipalSource::BearerToken);
            assert_eq!(principal.unwrap().kind, PrincipalKind::User, "{name}");
        }
    }

    #[test]
    fn a_lambda_authorizer_context_shows_a_machine_by_its_claims_too() {
        let lambda = |v: Value| user(json!({"authorizer": {"lambda": v}}));
        assert_eq!(
            lambda(json!({"sub": "app1", "client_id": "app1"})),
            Err(PrincipalError::MachineToken)
        );
        for ctx in [
            json!({"sub": "app1", "client_id": "app1", "username": "n"}),
            json!({"sub": "app1", "client_id": "app1", "cognito:username": "n"}),
            json!({"sub": "u-1", "client_id": "app1"}),
            json!({"sub": "u-1"}),
        ] {
            assert_eq!(
                lambda(ctx.clone()).unwrap().unwrap().kind,
                PrincipalKind::User,
                "{ctx}"
            );
        }
    }

    #[test]
    fn time_claims_up_to_60_s_ahead_are_believed() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let facts = |iat: i64| {
            let claims = json!({"sub": "u", "iat": iat, "auth_time": iat});
            token_facts(claims.as_object().unwrap(), IssuedAt::Unknown)
        };
        let ahead = facts(now + 30);
        assert_eq!(
            (ahead.issued_at, ahead.auth_time),
            (IssuedAt::At(now + 30), Some(now + 30))
        );
        let now_facts = facts(now);
        assert_eq!(now_facts.issued_at, IssuedAt::At(now));
        let beyond = facts(now + 600);
        assert_eq!(
            (beyond.issued_at, beyond.auth_time),
            (IssuedAt::Unknown, None)
        );
    }
}
