//! The pepper keys from AWS Secrets Manager (SPEC §6 `PEPPER_SECRET_ID`).

use crate::aws::secrets::CachedSecret;
use crate::domain::password_hashing::PepperKeys;
use crate::domain::pepper::{PepperFuture, PepperSource, PepperUnavailable};
use aws_sdk_secretsmanager::Client;
use base64::Engine;
use serde::Deserialize;
use std::collections::HashMap;

/// The SecretString: `{"CurrentKeyId":"k2","Keys":{"k1":"<base64>","k2":"<base64>"}}`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PepperSecret {
    current_key_id: String,
    keys: HashMap<String, String>,
}

/// Parses the secret's JSON. Errors name what is wrong, never the key material.
pub fn parse_pepper_secret(secret: &str) -> Result<PepperKeys, String> {
    let parsed: PepperSecret = serde_json::from_str(secret).map_err(|_| {
        "the secret is not {\"CurrentKeyId\": string, \"Keys\": {id: base64}}".to_string()
    })?;
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

/// Pepper keys read once from Secrets Manager.
pub struct SecretsManagerPepper(CachedSecret<PepperKeys>);

impl SecretsManagerPepper {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerPepper(CachedSecret::new(client, secret_id, parse_pepper_secret))
    }
}

impl PepperSource for SecretsManagerPepper {
    fn keys(&self) -> PepperFuture<'_> {
        Box::pin(async move {
            self.0
                .get()
                .await
                .map_err(|e| PepperUnavailable(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_format() {
        let keys = parse_pepper_secret(r#"{"CurrentKeyId":"k2","Keys":{"k1":"AAEC","k2":"AwQF"}}"#)
            .unwrap();
        assert_eq!(keys.current_key_id(), Some("k2"));
        // Debug shows ids, never key bytes.
        let shown = format!("{keys:?}");
        assert!(shown.contains("k1") && !shown.contains("AAEC") && !shown.contains("[0, 1, 2]"));
    }

    #[test]
    fn refuses_bad_secrets_without_echoing_them() {
        for bad in [
            "",
            "{}",
            r#"{"CurrentKeyId":"k9","Keys":{"k1":"AAEC"}}"#,
            r#"{"CurrentKeyId":"k1","Keys":{"k1":"%%%secret%%%"}}"#,
            r#"{"CurrentKeyId":"toolongkeyid","Keys":{"toolongkeyid":"AAEC"}}"#,
        ] {
            let err = parse_pepper_secret(bad).unwrap_err();
            assert!(!err.contains("%%%secret%%%"), "{err}");
        }
    }
}
