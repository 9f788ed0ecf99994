//! Overload protection: a concurrency cap (503) and a per-token rate limit (429), both with
//! `Retry-After` so well-behaved clients back off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use deckhand_protocol::ErrorCode;
use tokio::sync::OwnedSemaphorePermit;

use crate::error::ApiError;
use crate::state::AppState;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token bucket per bearer token (keyed by its hash).
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
}

impl RateLimiter {
    pub fn new(per_sec: u32, burst: u32) -> RateLimiter {
        RateLimiter { per_sec: per_sec as f64, burst: burst.max(1) as f64, buckets: Mutex::new(HashMap::new()) }
    }

    /// `Ok` to go ahead, or the seconds to wait.
    pub fn check(&self, token: [u8; 32]) -> Result<(), u64> {
        self.take(token, 1)
    }

    /// Take `n` requests' worth at once (the writes of a batch beyond the request itself); all or
    /// nothing. A batch larger than the burst can never pass, so it is charged at most the burst.
    pub fn take(&self, token: [u8; 32], n: usize) -> Result<(), u64> {
        if self.per_sec <= 0.0 || n == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.entry(token).or_insert(Bucket { tokens: self.burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_sec).min(self.burst);
        b.at = now;
        let want = (n as f64).min(self.burst);
        if b.tokens >= want {
            b.tokens -= want;
            Ok(())
        } else {
            Err(((want - b.tokens) / self.per_sec).ceil() as u64)
        }
    }
}

/// The limits an authenticated request passes (called by the auth middleware, right after it
/// knows the token: one middleware layer less per request): the token's rate, then a slot under
/// the concurrency cap, held until the response — except for SSE streams, long-lived by design.
pub fn admit(state: &AppState, token: &[u8; 32], path: &str) -> Result<Option<OwnedSemaphorePermit>, ApiError> {
    if let Err(wait) = state.rate_limiter.check(*token) {
        return Err(ApiError::new(ErrorCode::RateLimited, "too many requests for this token").retry_after(wait));
    }
    if path == "/v1/events" {
        return Ok(None);
    }
    match state.concurrency.clone().try_acquire_owned() {
        Ok(permit) => Ok(Some(permit)),
        Err(_) => Err(ApiError::new(ErrorCode::Overloaded, "server at its concurrency limit").retry_after(1)),
    }
}
