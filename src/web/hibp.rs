//! Have I Been Pwned's range API (k-anonymity): only the first 5 hex digits of the password's
//! SHA-1 leave the function, with `Add-Padding: true` so that the answer's size says nothing
//! either; the suffixes are compared here. Answers are cached per prefix.

use crate::domain::breached::{BreachedPasswords, LookupFailed, LookupFuture};
use crate::web::https::{self, HttpsClient};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A lookup that takes longer is treated as unavailable.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a prefix's answer is kept: the corpus changes a few times a month, and a user who
/// corrects a refused password (or retries) asks for the same prefix within minutes.
pub const CACHE_TTL: Duration = Duration::from_secs(3600);
/// Prefixes kept at once (an answer is about 30 KB: at most about 2 MB).
const CACHE_PREFIXES: usize = 64;
/// A padded answer has 800 to 1,000 lines of 40 bytes or so.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

type Counts = Arc<HashMap<String, u64>>;

pub struct HibpRangeApi {
    base: String,
    client: HttpsClient,
    cache: Arc<Mutex<HashMap<String, (Instant, Counts)>>>,
}

impl HibpRangeApi {
    /// `base`: the API's root, as `HIBP_API_URL` gives it (checked by the configuration).
    pub fn new(base: &str) -> Result<Self, String> {
        Ok(HibpRangeApi {
            base: base.trim_end_matches('/').to_string(),
            client: https::client()?,
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}

/// The password's SHA-1 in upper-case hex, split into the 5 digits that are sent and the 35
/// that never leave.
pub fn split_sha1(password: &str) -> (String, String) {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        password.as_bytes(),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    let (prefix, suffix) = hex.split_at(5);
    (prefix.to_string(), suffix.to_string())
}

/// Reads a range answer: `SUFFIX:COUNT` lines; padding lines have a count of 0.
pub fn parse_range(body: &str) -> Result<HashMap<String, u64>, String> {
    let mut counts = HashMap::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (suffix, count) = line
            .split_once(':')
            .ok_or_else(|| "a line of the range answer has no ':'".to_string())?;
        let count: u64 = count
            .trim()
            .parse()
            .map_err(|_| "a count of the range answer is not a number".to_string())?;
        if suffix.len() != 35 || !suffix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("a suffix of the range answer is not 35 hex digits".into());
        }
        counts.insert(suffix.to_ascii_uppercase(), count);
    }
    // Every range holds hundreds of suffixes (and padding adds more): an empty answer is a
    // broken one, never a clean password.
    if counts.is_empty() {
        return Err("the range answer holds no suffix".into());
    }
    Ok(counts)
}

impl BreachedPasswords for HibpRangeApi {
    fn occurrences(&self, password: &str) -> LookupFuture {
        let (prefix, suffix) = split_sha1(password);
        let (client, cache) = (self.client.clone(), self.cache.clone());
        let url = format!("{}/range/{prefix}", self.base);
        Box::pin(async move {
            let cached = {
                let cache = cache.lock().unwrap_or_else(|p| p.into_inner());
                cache
                    .get(&prefix)
                    .filter(|(at, _)| at.elapsed() < CACHE_TTL)
                    .map(|(_, counts)| counts.clone())
            };
            let counts = match cached {
                Some(counts) => counts,
                None => {
                    let counts = Arc::new(fetch(&client, &url).await?);
                    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
                    if cache.len() >= CACHE_PREFIXES {
                        cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
                        if cache.len() >= CACHE_PREFIXES {
                            cache.clear();
                        }
                    }
                    cache.insert(prefix, (Instant::now(), counts.clone()));
                    counts
                }
            };
            Ok(counts.get(&suffix).copied().unwrap_or(0))
        })
    }
}

async fn fetch(client: &HttpsClient, url: &str) -> Result<HashMap<String, u64>, LookupFailed> {
    let request = http::Request::get(url)
        .header("Add-Padding", "true")
        .header(http::header::USER_AGENT, "change-password")
        .body(Default::default())
        .map_err(|e| LookupFailed(e.to_string()))?;
    let body = https::get(client, request, MAX_ANSWER_BYTES, LOOKUP_TIMEOUT)
        .await
        .map_err(LookupFailed)?;
    let text = std::str::from_utf8(&body).map_err(|_| LookupFailed("not text".into()))?;
    parse_range(text).map_err(LookupFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_is_split_into_5_and_35_hex_digits() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
        let (prefix, suffix) = split_sha1("password");
        assert_eq!(prefix, "5BAA6");
        assert_eq!(suffix, "1E4C9B93F3F0682250B6CF8331B7EE68FD8");
    }

    #[test]
    fn range_answers_with_padding_lines_are_read() {
        let body = "1E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n\
                    00000000000000000000000000000000000:0\r\n\
                    1e4c9b93f3f0682250b6cf8331b7ee68fd9:3\r\n";
        let counts = parse_range(body).unwrap();
        assert_eq!(counts["1E4C9B93F3F0682250B6CF8331B7EE68FD8"], 10434004);
        assert_eq!(counts["00000000000000000000000000000000000"], 0);
        assert_eq!(counts["1E4C9B93F3F0682250B6CF8331B7EE68FD9"], 3);
        assert!(parse_range("<html>oops</html>").is_err());
        assert!(parse_range("ABC:1").is_err());
        assert!(parse_range("").is_err());
        assert!(parse_range("\r\n \r\n").is_err());
    }
}
