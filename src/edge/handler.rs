//! The Lambda edge: a raw event in (checked by [`crate::edge::raw_event`]), the request through
//! SPEC §4 steps 1-2 here and 3-8 in the use case, a response for its source out.

use crate::auth::token_verifier::TokenVerifier;
use crate::domain::account_store::AccountStore;
use crate::domain::change_password::{
    ChangeError, ChangePasswordService, ChangeRequest, RefreshTokens,
};
use crate::domain::issue::{Issue, codes};
use crate::edge::caller::{Caller, Callers, NoCaller, origin_of};
use crate::edge::http_request::{self, parse_body};
use crate::edge::http_response::{Outcome, RequestInfo, render};
use crate::edge::metrics::{self, EventSource, Metric};
use crate::edge::raw_event::{EventFacts, looks_like_http, prepare, uri_is_buildable};
use lambda_http::http::header;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, RequestExt, Response, Service};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

/// Every request answers within this bound, below the 10 s function timeout of template.yaml:
/// past it, the answer is a 503 `ServiceUnavailable` instead of a Lambda timeout.
pub const REQUEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(8);

/// An invocation that is not an HTTP event at all.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the event is not an API Gateway, ALB or function URL HTTP event")]
    NotHttp,
    #[error("the response could not be encoded: {0}")]
    Encode(String),
}

pub struct Handler<S> {
    service: ChangePasswordService<S>,
    callers: Callers,
}

impl<S: AccountStore> Handler<S> {
    /// `tokens`: the verifier of bearer tokens; without one, every token is refused (401).
    pub fn new(service: ChangePasswordService<S>, tokens: Option<TokenVerifier>) -> Self {
        Handler {
            service,
            callers: Callers::new(tokens),
        }
    }

    /// The caller must have signed in at most `seconds` ago (SPEC §3, RFC 9470).
    pub fn with_max_auth_age(self, seconds: Option<u64>) -> Self {
        Handler {
            callers: self.callers.with_max_auth_age(seconds),
            ..self
        }
    }

    /// Authorizer claims must carry one of these client ids too (`aud` or `client_id`).
    pub fn with_audience(self, audience: Vec<String>) -> Self {
        Handler {
            callers: self.callers.with_audience(audience),
            ..self
        }
    }

    /// What the cold start checks beyond the environment: an HS256 key that is there but
    /// unusable stops it.
    pub async fn preflight(&self) -> Result<(), String> {
        self.callers.preflight().await
    }

    pub fn service(&self) -> &ChangePasswordService<S> {
        &self.service
    }

    /// Handles one Lambda invocation.
    pub async fn handle_event(
        self: &Arc<Self>,
        mut event: Value,
        context: Context,
    ) -> Result<Value, EventError> {
        let facts = prepare(&mut event).ok_or(EventError::NotHttp)?;
        // lambda_http panics on a request URI it cannot build (an invalid Host or
        // X-Forwarded-Proto header, a path or query the URL parser refuses): answered here.
        if !uri_is_buildable(&event) {
            return Ok(self.malformed(&event, &context, &facts));
        }
        let text = event.to_string();
        let payload: LambdaRequest = match serde_json::from_str(&text) {
            Ok(payload) => payload,
            // An HTTP event lambda_http cannot read (a missing method, a context of the wrong
            // shape): answered as a malformed request in the shape its source expects.
            Err(_) if looks_like_http(&event) => {
                return Ok(self.malformed(&event, &context, &facts));
            }
            Err(_) => return Err(EventError::NotHttp),
        };
        let this = self.clone();
        let service_facts = facts.clone();
        let service = lambda_http::service_fn(move |request: Request| {
            let this = this.clone();
            let facts = service_facts.clone();
            async move { Ok::<_, Infallible>(this.handle_request(request, &facts).await) }
        });
        let mut adapter = lambda_http::Adapter::from(service);
        // Converting the event happens inside `call`; any other panic of lambda_http's
        // conversion becomes a 400 here instead of a failed invocation.
        let invocation = LambdaEvent::new(payload, context.clone());
        let call =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| adapter.call(invocation)));
        let Ok(call) = call else {
            return Ok(self.malformed(&event, &context, &facts));
        };
        let response = call
            .await
            .map_err(|e: Infallible| EventError::Encode(e.to_string()))?;
        serde_json::to_value(response).map_err(|e| EventError::Encode(e.to_string()))
    }

    /// The 400 problem for an HTTP event lambda_http cannot read, shaped by hand.
    fn malformed(&self, event: &Value, context: &Context, facts: &EventFacts) -> Value {
        let path = ["rawPath", "path"]
            .iter()
            .find_map(|k| event.get(*k).and_then(Value::as_str))
            .unwrap_or_default();
        let info = RequestInfo {
            path,
            trace_id: &context.request_id,
        };
        let rendered = render(
            &Outcome::Rejected(http_request::Rejection::Malformed),
            Vec::new(),
            &info,
        );
        tracing::info!(
            target: "change_password::request",
            request_id = %context.request_id,
            status = 400u16,
            code = rendered.code,
            "change-password request"
        );
        let (parts, body) = rendered.response.into_parts();
        let body = match body {
            Body::Text(text) => text,
            _ => String::new(),
        };
        let mut headers = serde_json::Map::new();
        let mut multi = serde_json::Map::new();
        for (name, value) in &parts.headers {
            let value = value.to_str().unwrap_or_default().to_string();
            headers.insert(name.to_string(), Value::String(value.clone()));
            multi.insert(name.to_string(), json!([value]));
        }
        let mut response = json!({
            "statusCode": parts.status.as_u16(),
            "body": body,
            "isBase64Encoded": false,
        });
        let multi_value = facts.source != EventSource::HttpApi
            && facts.source != EventSource::FunctionUrl
            && event.get("multiValueHeaders").is_some_and(|m| !m.is_null());
        if multi_value {
            response["multiValueHeaders"] = Value::Object(multi);
        } else {
            response["headers"] = Value::Object(headers);
        }
        if facts.source == EventSource::Alb {
            response["statusDescription"] = json!("400 Bad Request");
        }
        response
    }

    async fn handle_request(&self, request: Request, facts: &EventFacts) -> Response<Body> {
        let started = Instant::now();
        let path = request.uri().path().to_string();
        let trace_id = request
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default();
        let (outcome, principal) =
            match tokio::time::timeout(REQUEST_BUDGET, self.decide(&request, facts)).await {
                Ok(decided) => decided,
                Err(_) => (
                    Outcome::Failed(ChangeError::Unavailable(format!(
                        "the request did not finish within {} s",
                        REQUEST_BUDGET.as_secs()
                    ))),
                    None,
                ),
            };
        let info = RequestInfo {
            path: &path,
            trace_id: &trace_id,
        };
        let mut warnings = Vec::new();
        if principal.as_ref().is_some_and(|p| p.via_query_token) {
            warnings.push(Issue::warning(
                codes::TOKEN_IN_QUERY_STRING,
                None,
                "The access token was sent in the query string, where logs and histories can keep it. Send it in the Authorization header.",
            ));
        }
        let rendered = render(&outcome, warnings, &info);
        if let Some(metric) = metric_of(&outcome) {
            metrics::emit(metric, facts.source);
        }
        if let Outcome::Changed(changed) = &outcome
            && let RefreshTokens::RevocationFailed(why) = &changed.refresh_tokens
        {
            tracing::warn!(
                target: "change_password::request",
                request_id = %trace_id,
                detail = %why,
                "the password was changed; its refresh tokens could not be revoked"
            );
            metrics::emit(Metric::GlobalSignOutFailed, facts.source);
        }
        let status = rendered.response.status().as_u16();
        let detail = match &outcome {
            Outcome::Failed(e) if status >= 500 => Some(e.to_string()),
            _ => None,
        };
        tracing::info!(
            target: "change_password::request",
            request_id = %trace_id,
            status,
            code = rendered.code,
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            source = principal.as_ref().map(|p| p.principal.source.as_str()),
            detail = detail.as_deref(),
            "change-password request"
        );
        rendered.response
    }

    async fn decide(&self, request: &Request, facts: &EventFacts) -> (Outcome, Option<Caller>) {
        // 1. Path, method, media type, size.
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes());
        let body = request.body().as_ref();
        if let Err(rejection) = http_request::check_envelope(
            request.uri().path(),
            request.method().as_str(),
            facts.malformed,
            content_type,
            body.len(),
        ) {
            return (Outcome::Rejected(rejection), None);
        }
        // 2. The principal, with MAX_AUTH_AGE_SECONDS when set.
        let caller = match self.callers.resolve(request, &facts.request_context).await {
            Ok(caller) => caller,
            Err(NoCaller::Refused(e)) => return (Outcome::Refused(e), None),
            Err(NoCaller::Unavailable(why)) => {
                return (Outcome::Failed(ChangeError::Unavailable(why)), None);
            }
        };
        tracing::debug!(source = caller.principal.source.as_str(), "caller resolved");
        // 3-8. The use case; the body's shape is judged at its validation step.
        let change_request = if facts.body_unreadable {
            ChangeRequest {
                input_issues: vec![Issue::validation(
                    codes::INVALID_REQUEST_BODY,
                    None,
                    "The request body is flagged base64 but is not valid base64.",
                )],
                ..ChangeRequest::default()
            }
        } else {
            parse_body(body)
        };
        let change_request = ChangeRequest {
            token: caller.principal.token.clone(),
            origin: origin_of(request, &facts.request_context),
            ..change_request
        };
        let outcome = match self
            .service
            .change(&caller.principal.user_id, change_request)
            .await
        {
            Ok(changed) => Outcome::Changed(changed),
            Err(e) => Outcome::Failed(e),
        };
        (outcome, Some(caller))
    }
}

/// The metric an outcome counts in.
fn metric_of(outcome: &Outcome) -> Option<Metric> {
    match outcome {
        Outcome::Changed(changed) if changed.retried => Some(Metric::ChangeRetried),
        Outcome::Changed(_) => Some(Metric::PasswordChanged),
        Outcome::Failed(ChangeError::CurrentPasswordIncorrect { .. }) => {
            Some(Metric::CurrentPasswordIncorrect)
        }
        Outcome::Failed(ChangeError::AccountLocked { .. }) => Some(Metric::AccountLocked),
        Outcome::Failed(ChangeError::AttemptsInFlight { .. }) => Some(Metric::AttemptsInFlight),
        Outcome::Failed(ChangeError::SignInRequired { .. }) => Some(Metric::HardLocked),
        Outcome::Failed(ChangeError::Invalid(_) | ChangeError::PasswordReused { .. }) => {
            Some(Metric::PolicyRejected)
        }
        Outcome::Failed(ChangeError::Unavailable(_)) => Some(Metric::DependencyFailure),
        Outcome::Failed(ChangeError::TokenRevoked) => Some(Metric::TokenRevoked),
        _ => None,
    }
}

impl From<EventError> for lambda_runtime::Diagnostic {
    fn from(e: EventError) -> Self {
        let error_type = match e {
            EventError::NotHttp => "NotHttpEvent",
            EventError::Encode(_) => "ResponseEncoding",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: e.to_string(),
        }
    }
}
