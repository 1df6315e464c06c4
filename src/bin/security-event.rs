//! `security-event`: the enrichment step of the security-event pipe (SPEC §7). The pipe hands it
//! the table stream's records of committed changes, a batch at a time; it answers with one
//! security event (a SET payload, JSON numbers for every NumericDate) per record, in order,
//! which the pipe puts on the bus as the events' detail. A record it cannot read fails the
//! whole invocation, so that the pipe retries the batch and, at the end, dead-letters it: no
//! change goes without its event. It calls no AWS API.

use change_password::aws::stream_record;
use change_password::{config, logging};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let issuer =
        config::security_event_issuer(|name| std::env::var(name).ok()).unwrap_or_else(|e| {
            tracing::error!(variable = e.variable, "{e}");
            eprintln!("{e}");
            std::process::exit(2);
        });
    tracing::info!(%issuer, "security-event ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let issuer = issuer.clone();
        async move {
            let events = stream_record::security_events(&event.payload, &issuer);
            match &events {
                Ok(events) => tracing::info!(events = events.len(), "security events built"),
                Err(e) => tracing::error!(error = %e, "a record of the batch carries no change"),
            }
            events.map_err(|e| lambda_runtime::Diagnostic {
                error_type: "RecordWithoutChange".to_string(),
                error_message: e.to_string(),
            })
        }
    }))
    .await
}
