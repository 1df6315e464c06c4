//! `token-authorizer`: the Lambda authorizer of the workspace's other APIs (SPEC §7). Cold
//! start: the configuration (`USERS_TABLE`, `JWT_*`), the clients and the authorizer, once.

use change_password::aws::clients as aws_clients;
use change_password::{app, config::Config, logging};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = Config::from_env().unwrap_or_else(|e| {
        tracing::error!(variable = e.variable, "{e}");
        eprintln!("{e}");
        std::process::exit(2);
    });
    let sdk = aws_clients::load().await;
    let authorizer = app::build_authorizer(&config, &sdk).unwrap_or_else(|e| {
        tracing::error!("{e}");
        eprintln!("configuration error: {e}");
        std::process::exit(2);
    });
    if let Err(e) = authorizer.preflight().await {
        tracing::error!(variable = "JWT_HS256_SECRET_ID", "{e}");
        eprintln!("configuration error: JWT_HS256_SECRET_ID: {e}");
        std::process::exit(2);
    }
    let authorizer = Arc::new(authorizer);
    tracing::info!(table = %config.users_table, "token-authorizer ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let authorizer = authorizer.clone();
        async move { authorizer.handle_event(&event.payload).await }
    }))
    .await
}
