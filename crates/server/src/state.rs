use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, watch};

use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::storage::{Storage, UserId};

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServerConfig>,
    pub storage: Arc<dyn Storage>,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub rate_limiter: Arc<RateLimiter>,
    pub concurrency: Arc<Semaphore>,
    /// Idempotency keys whose first request is executing right now.
    pub in_flight: Arc<Mutex<HashSet<(UserId, String)>>>,
    /// Flips to true when the server shuts down; open SSE streams end on it.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    pub fn new(config: ServerConfig, storage: Arc<dyn Storage>, shutdown: watch::Receiver<bool>) -> AppState {
        AppState {
            rate_limiter: Arc::new(RateLimiter::new(config.rate_limit_per_sec, config.rate_limit_burst)),
            concurrency: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            config: Arc::new(config),
            storage,
            hub: Arc::new(Hub::default()),
            metrics: Arc::new(Metrics::default()),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            shutdown,
        }
    }

    /// Runs a storage call on the blocking pool and records its latency.
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Storage) -> crate::storage::Result<T> + Send + 'static,
    ) -> Result<T, crate::error::ApiError> {
        let storage = self.storage.clone();
        let metrics = self.metrics.clone();
        tokio::task::spawn_blocking(move || {
            let start = std::time::Instant::now();
            let out = f(storage.as_ref());
            metrics.observe_db(start.elapsed());
            out
        })
        .await
        .map_err(|_| crate::error::ApiError::new(deckhand_protocol::ErrorCode::Internal, "database task failed"))?
        .map_err(Into::into)
    }
}

/// Resolves once the shutdown flag is true (never if the sender is gone without flipping it).
pub async fn until_shutdown(mut rx: watch::Receiver<bool>) {
    loop {
        let down = *rx.borrow_and_update();
        if down {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
