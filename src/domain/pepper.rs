//! Where the pepper keys come from: a port, so the core does not know Secrets Manager.

use crate::domain::password_hashing::PepperKeys;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The keys could not be had now (the secret store is down); worth retrying later.
#[derive(Debug, thiserror::Error)]
#[error("the pepper keys are unavailable: {0}")]
pub struct PepperUnavailable(pub String);

pub type PepperFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Arc<PepperKeys>, PepperUnavailable>> + Send + 'a>>;

/// Gives the pepper keys, loading them on first need.
pub trait PepperSource: Send + Sync {
    fn keys(&self) -> PepperFuture<'_>;
}

/// Keys known up front (no pepper, or tests).
pub struct StaticPepper(pub Arc<PepperKeys>);

impl StaticPepper {
    pub fn none() -> Self {
        StaticPepper(Arc::new(PepperKeys::none()))
    }
}

impl PepperSource for StaticPepper {
    fn keys(&self) -> PepperFuture<'_> {
        let keys = self.0.clone();
        Box::pin(async move { Ok(keys) })
    }
}
