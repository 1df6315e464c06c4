//! A Secrets Manager secret string, read once per cold start: on first need, and again on a
//! later request if Secrets Manager was unavailable.

use crate::aws::clients::error_chain;
use aws_sdk_secretsmanager::Client;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The secret could not be read now; worth retrying later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("secret {secret_id} is unavailable: {reason}")]
pub struct SecretUnavailable {
    pub secret_id: String,
    pub reason: String,
    /// The secret was read but its value is unusable (a configuration error, not an outage).
    pub unusable: bool,
}

pub struct CachedSecret<T> {
    client: Client,
    secret_id: String,
    parse: fn(&str) -> Result<T, String>,
    value: OnceCell<Arc<T>>,
}

impl<T: Send + Sync> CachedSecret<T> {
    /// `parse` turns the SecretString into the value; its errors must not echo the secret.
    pub fn new(
        client: Client,
        secret_id: impl Into<String>,
        parse: fn(&str) -> Result<T, String>,
    ) -> Self {
        CachedSecret {
            client,
            secret_id: secret_id.into(),
            parse,
            value: OnceCell::new(),
        }
    }

    pub async fn get(&self) -> Result<Arc<T>, SecretUnavailable> {
        self.value.get_or_try_init(|| self.load()).await.cloned()
    }

    async fn load(&self) -> Result<Arc<T>, SecretUnavailable> {
        let fail = |reason: String| SecretUnavailable {
            secret_id: self.secret_id.clone(),
            reason,
            unusable: false,
        };
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| fail(format!("GetSecretValue failed: {}", error_chain(&e))))?;
        let text = output
            .secret_string()
            .ok_or_else(|| fail("the secret has no SecretString".into()))?;
        let value = (self.parse)(text).map_err(|reason| SecretUnavailable {
            unusable: true,
            ..fail(reason)
        })?;
        tracing::info!(secret_id = %self.secret_id, "secret loaded");
        Ok(Arc::new(value))
    }
}
