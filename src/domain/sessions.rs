//! Sessions after a change (SPEC §3, §7): what a caller's token says of itself, the marker a
//! change leaves on the account (tokens issued before it are refused, the changing session
//! excepted), where the request came from, and the port that ends refresh tokens.

use std::future::Future;
use std::pin::Pin;

/// The ids that name a token's session (those the token carries).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionIds {
    pub jti: Option<String>,
    pub origin_jti: Option<String>,
    pub sid: Option<String>,
}

impl SessionIds {
    /// Whether a token with these ids belongs to the session `recorded` names: one id present
    /// on both sides and equal.
    pub fn same_session(&self, recorded: &SessionIds) -> bool {
        fn equal(a: &Option<String>, b: &Option<String>) -> bool {
            matches!((a, b), (Some(a), Some(b)) if a == b)
        }
        equal(&self.jti, &recorded.jti)
            || equal(&self.origin_jti, &recorded.origin_jti)
            || equal(&self.sid, &recorded.sid)
    }
}

/// When the caller's token was issued, as far as the function can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IssuedAt {
    /// The token's `iat` (epoch seconds).
    At(i64),
    /// A token that carries no readable `iat`: it cannot be shown to postdate a change. The
    /// default, so that a path that forgets to say fails closed.
    #[default]
    Unknown,
    /// A Lambda authorizer vouched for the caller without passing the token's `iat`: the
    /// authorizer is trusted to have refused revoked tokens itself (`token-authorizer` does).
    VouchedByAuthorizer,
}

/// What the caller's token says of itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFacts {
    pub issued_at: IssuedAt,
    /// `auth_time`: when the user last signed in (epoch seconds).
    pub auth_time: Option<i64>,
    pub session: SessionIds,
    /// `username` or `cognito:username`, for the identity provider's own calls.
    pub username: Option<String>,
    /// `iss`: the security event names the subject as `iss_sub` with it (SPEC §7).
    pub issuer: Option<String>,
}

/// The marker the last change left on the account (`TokensValidAfter`, `PasswordChangeSession`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationMarker {
    /// Epoch seconds: tokens issued before are refused.
    pub tokens_valid_after: i64,
    /// The session that made the change: it stays signed in.
    pub session: SessionIds,
}

impl RevocationMarker {
    /// Whether a token with these facts is refused: issued before the change (or of unknown
    /// age), and not of the changing session.
    pub fn refuses(&self, token: &TokenFacts) -> bool {
        if token.session.same_session(&self.session) {
            return false;
        }
        match token.issued_at {
            IssuedAt::At(iat) => iat < self.tokens_valid_after,
            IssuedAt::Unknown => true,
            IssuedAt::VouchedByAuthorizer => false,
        }
    }
}

/// Where the request came from, as the security event carries it (no secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    pub request_id: String,
    pub source_ip: String,
    pub user_agent: String,
}

/// The longest user agent kept.
pub const MAX_USER_AGENT: usize = 256;

impl RequestOrigin {
    /// The user agent is kept as printable ASCII without `"` and `\`, at most 256 characters,
    /// so that it is safe in a JSON template, a log line or an email.
    pub fn new(request_id: &str, source_ip: &str, user_agent: &str) -> Self {
        let clean = |s: &str, max: usize| -> String {
            s.chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .filter(|c| *c != '"' && *c != '\\')
                .take(max)
                .collect()
        };
        RequestOrigin {
            request_id: clean(request_id, 128),
            source_ip: clean(source_ip, 64),
            user_agent: clean(user_agent, MAX_USER_AGENT),
        }
    }
}

/// Where the marker of a user's last change is read (the authorizer's one query).
pub trait MarkerSource: Send + Sync + 'static {
    /// One consistent read of the marker; `None` when the user has none (or no record).
    fn marker(
        &self,
        user_id: &str,
    ) -> impl Future<
        Output = Result<Option<RevocationMarker>, crate::domain::account_store::StoreError>,
    > + Send;
}

/// Why refresh tokens could not be revoked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the refresh tokens could not be revoked: {0}")]
pub struct RevokeFailed(pub String);

pub type RevokeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), RevokeFailed>> + Send + 'a>>;

/// Ends a user's refresh tokens at the identity provider (Cognito's `AdminUserGlobalSignOut`).
pub trait RefreshTokenRevoker: Send + Sync {
    /// `user_id` is the principal's `sub`; `username` the token's user name when it has one.
    fn revoke<'a>(&'a self, user_id: &'a str, username: Option<&'a str>) -> RevokeFuture<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(jti: Option<&str>, origin: Option<&str>, sid: Option<&str>) -> SessionIds {
        SessionIds {
            jti: jti.map(String::from),
            origin_jti: origin.map(String::from),
            sid: sid.map(String::from),
        }
    }

    fn token(iat: IssuedAt, session: SessionIds) -> TokenFacts {
        TokenFacts {
            issued_at: iat,
            session,
            ..TokenFacts::default()
        }
    }

    #[test]
    fn tokens_issued_before_the_change_are_refused_but_the_changing_session() {
        let marker = RevocationMarker {
            tokens_valid_after: 1_000,
            session: ids(Some("j1"), Some("o1"), None),
        };
        assert!(marker.refuses(&token(IssuedAt::At(999), SessionIds::default())));
        assert!(!marker.refuses(&token(IssuedAt::At(1_000), SessionIds::default())));
        assert!(!marker.refuses(&token(IssuedAt::At(999), ids(Some("j1"), None, None))));
        // A refreshed access token of the same session: another jti, the same origin_jti.
        assert!(!marker.refuses(&token(IssuedAt::At(999), ids(Some("j2"), Some("o1"), None))));
        assert!(marker.refuses(&token(IssuedAt::At(999), ids(Some("j2"), Some("o2"), None))));
        // Absent ids never match each other.
        let anonymous = RevocationMarker {
            tokens_valid_after: 1_000,
            session: SessionIds::default(),
        };
        assert!(anonymous.refuses(&token(IssuedAt::At(999), SessionIds::default())));
        assert!(marker.refuses(&token(IssuedAt::Unknown, SessionIds::default())));
        assert!(!marker.refuses(&token(IssuedAt::VouchedByAuthorizer, SessionIds::default())));
    }

    #[test]
    fn the_origin_is_safe_to_put_in_json() {
        let o = RequestOrigin::new("r-1", "203.0.113.9", "Evil\"},\"x\":\"\\\n\u{7f}é agent");
        assert_eq!(o.user_agent, "Evil},x: agent");
        let long = "a".repeat(1000);
        assert_eq!(
            RequestOrigin::new("", "", &long).user_agent.len(),
            MAX_USER_AGENT
        );
    }
}
