//! The Lambda/HTTP edge: a raw event in, a response for its source out, and the metrics of
//! each outcome. The one place outcomes become statuses is [`http_response`].

pub mod authorizer;
pub mod caller;
pub mod handler;
pub mod http_request;
pub mod http_response;
pub mod metrics;
pub mod notice_event;
pub mod raw_event;
