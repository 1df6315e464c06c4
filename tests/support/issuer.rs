//! A token issuer for the tests: the fixture keys (`tests/fixtures/`), tokens signed with them,
//! and a JWKS endpoint on loopback whose document can change, or go down.

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn rsa(n: u8) -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture(&format!("rsa-{n}.key.pem"))).unwrap()
}

pub fn ec() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("ec-1.key.pem")).unwrap()
}

pub fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.into());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}

/// A JWKS endpoint on loopback whose document can change, or go down.
pub struct JwksServer {
    pub url: String,
    document: Arc<Mutex<String>>,
    /// Requests received.
    pub hits: Arc<AtomicUsize>,
    /// When set, every request is answered 503.
    pub down: Arc<AtomicBool>,
}

impl JwksServer {
    pub async fn start(keys: Vec<Jwk>) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let document = Arc::new(Mutex::new(serde_json::to_string(&JwkSet { keys }).unwrap()));
        let hits = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let (d, h, dn) = (document.clone(), hits.clone(), down.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (d, h, dn) = (d.clone(), h.clone(), dn.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut read = 0;
                    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf[read..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let response = if dn.load(Ordering::SeqCst) {
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                    } else {
                        let body = d.lock().unwrap().clone();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        JwksServer {
            url,
            document,
            hits,
            down,
        }
    }

    pub fn publish(&self, keys: Vec<Jwk>) {
        *self.document.lock().unwrap() = serde_json::to_string(&JwkSet { keys }).unwrap();
    }
}

pub fn sign(claims: &Value, alg: Algorithm, key: &EncodingKey, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(String::from);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}
