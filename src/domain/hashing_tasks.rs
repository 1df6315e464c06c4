//! argon2 work off the async threads: one verify, one hash, or a search of the history on up
//! to one worker per CPU.

use crate::domain::password_hashing::{HashingError, PasswordHashing, PepperKeys};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument;

/// Why argon2 work gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Hashing(#[from] HashingError),
    #[error("a hashing task failed: {0}")]
    Join(String),
}

/// The hasher, and how many blocking workers a history search may use.
#[derive(Clone)]
pub struct HashingTasks {
    hasher: Arc<dyn PasswordHashing>,
    workers: usize,
}

impl HashingTasks {
    pub fn new(hasher: Arc<dyn PasswordHashing>) -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        HashingTasks { hasher, workers }
    }

    /// Whether `password` matches the stored PHC string.
    pub async fn verify(
        &self,
        password: &str,
        stored: &str,
        pepper: &Arc<PepperKeys>,
    ) -> Result<bool, TaskError> {
        let (hasher, pepper) = (self.hasher.clone(), pepper.clone());
        let (password, stored) = (password.to_string(), stored.to_string());
        let span = tracing::info_span!("argon2.verify");
        Ok(blocking(move || hasher.verify(&password, &stored, &pepper))
            .instrument(span)
            .await??)
    }

    /// A new PHC string for `password`.
    pub async fn hash(
        &self,
        password: &str,
        pepper: &Arc<PepperKeys>,
    ) -> Result<String, TaskError> {
        let (hasher, pepper, password) =
            (self.hasher.clone(), pepper.clone(), password.to_string());
        let span = tracing::info_span!("argon2.hash");
        Ok(blocking(move || hasher.hash(&password, &pepper))
            .instrument(span)
            .await??)
    }

    /// Whether `password` verifies against any of `hashes`. The checks run on up to one worker
    /// per CPU, and every worker stops once one has found a match. A hash this service cannot
    /// verify is skipped, not fatal.
    pub async fn any_matches(
        &self,
        password: &str,
        hashes: &[String],
        pepper: &Arc<PepperKeys>,
    ) -> Result<bool, TaskError> {
        if hashes.is_empty() {
            return Ok(false);
        }
        let span = tracing::info_span!("argon2.history", hashes = hashes.len());
        self.search(password, hashes, pepper).instrument(span).await
    }

    async fn search(
        &self,
        password: &str,
        hashes: &[String],
        pepper: &Arc<PepperKeys>,
    ) -> Result<bool, TaskError> {
        let found = Arc::new(AtomicBool::new(false));
        let hashes: Arc<[String]> = hashes.into();
        let workers = self.workers.min(hashes.len());
        let mut tasks = tokio::task::JoinSet::new();
        for first in 0..workers {
            let (hasher, pepper, found, hashes) = (
                self.hasher.clone(),
                pepper.clone(),
                found.clone(),
                hashes.clone(),
            );
            let password = password.to_string();
            tasks.spawn_blocking(move || {
                for old in hashes.iter().skip(first).step_by(workers) {
                    if found.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Ok(true) = hasher.verify(&password, old, &pepper) {
                        found.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.map_err(|e| TaskError::Join(e.to_string()))?;
        }
        Ok(found.load(Ordering::Relaxed))
    }
}

/// CPU-bound work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TaskError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| TaskError::Join(e.to_string()))
}
