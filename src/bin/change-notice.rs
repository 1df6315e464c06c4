//! `change-notice`: tells the account owner of a password change (SPEC §7), invoked by the
//! EventBridge rule on the security event bus. Cold start: the configuration (`USERS_TABLE`,
//! `NOTICE_*`), the DynamoDB and SES clients and the notifier, once.

use change_password::aws::clients as aws_clients;
use change_password::aws::dynamodb_notices::DynamoDbNoticeStore;
use change_password::aws::ses_mailer::SesMailer;
use change_password::config::NoticeConfig;
use change_password::domain::change_notice::{ChangeNotifier, system_epoch_clock};
use change_password::edge::notice_event;
use change_password::logging;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = NoticeConfig::from_env().unwrap_or_else(|e| {
        tracing::error!(variable = e.variable, "{e}");
        eprintln!("{e}");
        std::process::exit(2);
    });
    let sdk = aws_clients::load().await;
    let notifier = Arc::new(ChangeNotifier::new(
        DynamoDbNoticeStore::new(aws_clients::dynamodb(&sdk), config.users_table.clone()),
        SesMailer::new(aws_clients::sesv2(&sdk), config.from.clone()),
        config.settings.clone(),
        system_epoch_clock(),
    ));
    tracing::info!(table = %config.users_table, "change-notice ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let notifier = notifier.clone();
        async move { notice_event::handle(&notifier, &event.payload).await }
    }))
    .await
}
