use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, watch};

use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::storage::{Notifier, Storage, UserId};
use crate::user_queue::UserQueues;

/// Shared by every handler; cheap to clone (one reference count: each middleware layer and
/// handler clones it per request).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What `AppState` shares.
pub struct Shared {
    pub config: Arc<ServerConfig>,
    pub storage: Arc<dyn Storage>,
    /// Cross-instance pokes when the backend is shared by several processes (PostgreSQL).
    pub notifier: Option<Arc<dyn Notifier>>,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub rate_limiter: Arc<RateLimiter>,
    pub concurrency: Arc<Semaphore>,
    /// Tokens this instance has seen live, and their users (`auth::require_writer`).
    pub token_users: Arc<crate::auth::TokenUsers>,
    /// Each user's writes, one at a time per instance, before they take a connection.
    pub user_writes: Arc<UserQueues>,
    /// Idempotency keys whose first request is executing right now.
    pub in_flight: Arc<Mutex<HashSet<(UserId, String)>>>,
    /// Flips to true when the server shuts down; open SSE streams end on it.
    pub shutdown: watch::Receiver<bool>,
    /// Bumped whenever tokens are revoked (by this process, or by another one through the
    /// notifier): every open SSE stream re-checks its token at once. (Revocations the notifier
    /// cannot report, e.g. the CLI on SQLite, are caught by the periodic re-check.)
    pub revocations: Arc<watch::Sender<u64>>,
    /// Open SSE streams: (total, per user).
    pub sse_slots: Arc<Mutex<(usize, HashMap<UserId, usize>)>>,
}

impl AppState {
    pub fn new(config: ServerConfig, storage: Arc<dyn Storage>, shutdown: watch::Receiver<bool>) -> AppState {
        AppState(Arc::new(Shared {
            rate_limiter: Arc::new(RateLimiter::new(config.rate_limit_per_sec, config.rate_limit_burst)),
            concurrency: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            config: Arc::new(config),
            notifier: storage.notifier(),
            storage,
            hub: Arc::new(Hub::default()),
            metrics: Arc::new(Metrics::default()),
            token_users: Arc::default(),
            user_writes: Arc::default(),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            shutdown,
            revocations: Arc::new(watch::channel(0).0),
            sse_slots: Arc::new(Mutex::new((0, HashMap::new()))),
        }))
    }

    /// Revokes every token of `name` in storage, then tells open SSE streams to re-check theirs.
    pub fn revoke_tokens(&self, name: &str) -> crate::storage::Result<usize> {
        let n = self.storage.revoke_tokens(name)?;
        self.revocations.send_modify(|epoch| *epoch += 1);
        if let Some(notifier) = &self.notifier {
            notifier.revoked();
        }
        Ok(n)
    }

    /// Reserves an SSE stream slot for `user`, or the problem that refuses it.
    #[allow(clippy::result_large_err)] // the problem document, as everywhere in the handlers
    pub fn open_sse_slot(&self, user: UserId) -> Result<SseSlot, crate::error::ApiError> {
        use deckhand_protocol::ErrorCode;
        let mut slots = self.sse_slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.0 >= self.config.max_sse_streams {
            return Err(crate::error::ApiError::new(ErrorCode::Overloaded, "too many open event streams on this server")
                .retry_after(5));
        }
        let mine = slots.1.entry(user).or_insert(0);
        if *mine >= self.config.max_sse_streams_per_user {
            return Err(crate::error::ApiError::new(
                ErrorCode::RateLimited,
                format!("at most {} open event streams per user", self.config.max_sse_streams_per_user),
            )
            .retry_after(5));
        }
        *mine += 1;
        slots.0 += 1;
        Ok(SseSlot { slots: self.sse_slots.clone(), user })
    }

    /// Runs `writes` of `user` (`Storage::write_many_async`) and records the latency.
    pub async fn db_writes(
        &self,
        user: UserId,
        writes: Vec<(crate::storage::IdemKey, crate::domain::WriteOp)>,
    ) -> Result<Vec<crate::storage::Result<crate::storage::WriteOutcome>>, crate::error::ApiError> {
        let start = std::time::Instant::now();
        let out = self.storage.clone().write_many_async(user, writes, chrono::Utc::now()).await;
        self.metrics.observe_db(start.elapsed());
        out.map_err(Into::into)
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

/// One open SSE stream; frees its slot when dropped, however the stream ends.
pub struct SseSlot {
    slots: Arc<Mutex<(usize, HashMap<UserId, usize>)>>,
    user: UserId,
}

impl Drop for SseSlot {
    fn drop(&mut self) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.0 = slots.0.saturating_sub(1);
        if let Some(n) = slots.1.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                slots.1.remove(&self.user);
            }
        }
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
