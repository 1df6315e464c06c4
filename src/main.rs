//! Cold start: read the configuration, build the clients and the handler once, then serve.

use change_password::{app, aws::clients as aws_clients, config::Config, logging};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
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
        let handler = handler.clone();
        async move { handler.handle_event(event.payload, event.context).await }
    }))
    .await
}
