//! The pepper keys from AWS Secrets Manager (SPEC §6 `PEPPER_SECRET_ID`), read once per cold
//! start: on the first need, retried on a later request if Secrets Manager was unavailable.

use crate::password_hashing::PepperKeys;
use crate::pepper::{PepperFuture, PepperSource, PepperUnavailable};
use aws_sdk_secretsmanager::Client;
use base64::Engine;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The SecretString: `{"CurrentKeyId":"k2","Keys":{"k1":"<base64>","k2":"<base64>"}}`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PepperSecret {
    current_key_id: String,
    keys: HashMap<String, String>,
}

/// Parses the secret's JSON. Errors name what is wrong, never the key material.
pub fn parse_pepper_secret(secret: &str) -> Result<PepperKeys, String> {
    let parsed: PepperSecret = serde_json::from_str(secret)
        .map_err(|_| "the secret is not {\"CurrentKeyId\": string, \"Keys\": {id: base64}}".to_string())?;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut keys = HashMap::new();
    for (id, encoded) in parsed.keys {
        let key = engine
            .decode(encoded.trim())
            .map_err(|_| format!("key {id:?} is not valid base64"))?;
        keys.insert(id, key);
    }
    PepperKeys::new(&parsed.current_key_id, keys)
}

pub struct SecretsManagerPepper {
    client: Client,
    secret_id: String,
    keys: OnceCell<Arc<PepperKeys>>,
}

impl SecretsManagerPepper {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerPepper {
            client,
            secret_id: secret_id.into(),
            keys: OnceCell::new(),
        }
    }

    async fn load(&self) -> Result<Arc<PepperKeys>, PepperUnavailable> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| PepperUnavailable(format!("GetSecretValue failed: {}", error_text(&e))))?;
        let secret = output
            .secret_string()
            .ok_or_else(|| PepperUnavailable("PEPPER_SECRET_ID: the secret has no SecretString".into()))?;
        let keys = parse_pepper_secret(secret).map_err(|why| PepperUnavailable(format!("PEPPER_SECRET_ID: {why}")))?;
        tracing::info!(key_ids = ?keys, "pepper keys loaded");
        Ok(Arc::new(keys))
    }
}

fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl PepperSource for SecretsManagerPepper {
    fn keys(&self) -> PepperFuture<'_> {
        Box::pin(async move { self.keys.get_or_try_init(|| self.load()).await.cloned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_format() {
        let keys = parse_pepper_secret(r#"{"CurrentKeyId":"k2","Keys":{"k1":"AAEC","k2":"AwQF"}}"#).unwrap();
        assert_eq!(keys.current_key_id(), Some("k2"));
        // Debug shows ids, never key bytes.
        let shown = format!("{keys:?}");
        assert!(shown.contains("k1") && !shown.contains("AAEC") && !shown.contains("[0, 1, 2]"));
    }

    #[test]
    fn refuses_bad_secrets_without_echoing_them() {
        for bad in ["", "{}", r#"{"CurrentKeyId":"k9","Keys":{"k1":"AAEC"}}"#, r#"{"CurrentKeyId":"k1","Keys":{"k1":"%%%secret%%%"}}"#,
                    r#"{"CurrentKeyId":"toolongkeyid","Keys":{"toolongkeyid":"AAEC"}}"#] {
            let err = parse_pepper_secret(bad).unwrap_err();
            assert!(!err.contains("%%%secret%%%"), "{err}");
        }
    }
}
