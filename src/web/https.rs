//! The HTTPS client shared by the JWKS cache and the breached-password check: built once at
//! cold start, connections kept for a minute, every GET bounded in time and size.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The connector of every outbound client: TLS with the system's roots, HTTP/1.1, and plain
/// http where the URL says so (loopback, for local runs and tests; `check_url` refuses others).
pub fn connector() -> Result<hyper_rustls::HttpsConnector<HttpConnector>, String> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build())
}

/// A client for https URLs (and http to loopback, for local runs and tests).
pub fn client() -> Result<HttpsClient, String> {
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector()?))
}

/// Whether a URL is acceptable: https, or http to a loopback host (local runs, tests).
pub fn check_url(url: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(format!(
            "{url:?} must be https (http only for a loopback host)"
        )),
    }
}

/// GETs `request`; the body of a 2xx answer, at most `max_bytes`, within `timeout`.
pub async fn get(
    client: &HttpsClient,
    request: http::Request<Empty<Bytes>>,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Bytes, String> {
    let fetch = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        Limited::new(response.into_body(), max_bytes)
            .collect()
            .await
            .map(|body| body.to_bytes())
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        assert!(
            check_url("https://cognito-idp.eu-west-1.amazonaws.com/x/.well-known/jwks.json")
                .is_ok()
        );
        assert!(check_url("http://127.0.0.1:8080/jwks.json").is_ok());
        assert!(check_url("http://[::1]:8080/jwks.json").is_ok());
        assert!(check_url("http://localhost/jwks.json").is_ok());
        assert!(check_url("http://example.com/jwks.json").is_err());
        assert!(check_url("http://10.0.0.1/jwks.json").is_err());
        assert!(check_url("ftp://127.0.0.1/jwks.json").is_err());
        assert!(check_url("not a url").is_err());
    }
}
