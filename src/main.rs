//! Cold start: read the configuration, build the clients and the handler once, then serve.

use change_password::telemetry::Telemetry;
use change_password::{app, aws::clients as aws_clients, config::Config, logging};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Traces only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_*).
    let telemetry = match Telemetry::from_env() {
        Ok(t) => t.map(Arc::new),
        Err(e) => {
            eprintln!("configuration error: OTEL_EXPORTER_OTLP_ENDPOINT: {e}");
            std::process::exit(2);
        }
    };
    logging::init_with_spans(telemetry.as_ref().map(|t| t.layer()));
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(variable = e.variable, "{e}");
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let sdk = aws_clients::load().await;
    let handler = match app::build(&config, &sdk) {
        Ok(handler) => handler,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = handler.preflight().await {
        tracing::error!(variable = "JWT_HS256_SECRET_ID", "{e}");
        eprintln!("configuration error: JWT_HS256_SECRET_ID: {e}");
        std::process::exit(2);
    }
    tracing::info!(
        table = %config.users_table,
        argon2_memory_kib = config.argon2.memory_kib,
        argon2_backend = %change_password::domain::password_hashing::Argon2Hasher::backend(),
        pepper = config.pepper_secret_id.is_some(),
        "change-password ready"
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (handler, telemetry) = (handler.clone(), telemetry.clone());
        async move {
            let Some(telemetry) = telemetry else {
                return handler.handle_event(event.payload, event.context).await;
            };
            // The invocation's span ends with the handler; its spans are exported before the
            // answer is handed back (the environment may freeze right after).
            let span = telemetry.invocation_span(&event.context);
            let answer = handler
                .handle_event(event.payload, event.context)
                .instrument(span)
                .await;
            telemetry.flush().await;
            answer
        }
    }))
    .await
}
