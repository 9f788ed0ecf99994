//! Idempotent writes (Stripe semantics, IETF draft "The Idempotency-Key HTTP Header Field").
//! The record and the effect commit in one storage transaction; this module adds the key
//! checks, the in-flight guard and the replay headers.

use std::sync::atomic::Ordering;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use deckhand_protocol::limits::IDEMPOTENCY_KEY_MAX_CHARS;
use deckhand_protocol::{ErrorCode, headers as h};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::domain::WriteOp;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{IdemKey, StoredResponse, UserId, WriteOutcome};

/// The `Idempotency-Key` header: required, 1..=255 characters.
pub fn key_from(headers: &HeaderMap) -> Result<String, ApiError> {
    let raw = headers.get(h::IDEMPOTENCY_KEY).ok_or_else(|| {
        ApiError::new(ErrorCode::IdempotencyKeyInvalid, "the Idempotency-Key header is required on POST, PATCH and DELETE")
    })?;
    let key = raw.to_str().map_err(|_| ApiError::new(ErrorCode::IdempotencyKeyInvalid, "Idempotency-Key must be visible ASCII"))?;
    check_key(key)
}

/// The key's length rule (1..=255 characters), shared by the header and batch writes.
pub fn check_key(key: &str) -> Result<String, ApiError> {
    let n = key.chars().count();
    if n == 0 || n > IDEMPOTENCY_KEY_MAX_CHARS {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyInvalid,
            format!("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters (got {n})"),
        ));
    }
    Ok(key.to_string())
}

pub fn fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().into()
}

/// Removes the in-flight mark however the request ends (including a dropped connection).
struct InFlight<'a> {
    state: &'a AppState,
    entry: (UserId, String),
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.entry);
    }
}

fn card_response(stored: &StoredResponse, replayed: bool, version: Option<i64>) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, stored.body.clone()).into_response();
    let hs = resp.headers_mut();
    hs.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(v) = version {
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{v}\"")) {
            hs.insert(header::ETAG, etag);
        }
    }
    if replayed {
        hs.insert(h::IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    resp
}

/// Executes a write once per (user, key) and answers it.
pub async fn run(state: &AppState, user: UserId, key: String, fingerprint: [u8; 32], op: WriteOp) -> Result<Response, ApiError> {
    let span = tracing::info_span!("write", user, idempotency_key = %key, card_id = %op.card_id());
    async move {
        let entry = (user, key.clone());
        if !state.in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(entry.clone()) {
            return Err(ApiError::new(
                ErrorCode::IdempotencyInFlight,
                "a request with this Idempotency-Key is still executing",
            )
            .retry_after(1));
        }
        let _guard = InFlight { state, entry };
        let idem = IdemKey { key, fingerprint };
        let outcome = state.db(move |s| s.write(user, &idem, &op, Utc::now())).await?;
        match outcome {
            WriteOutcome::Applied { response, change } => {
                tracing::info!(seq = change.seq, version = change.card.version, "write applied");
                let version = change.card.version;
                state.hub.publish(user, change);
                Ok(card_response(&response, false, Some(version)))
            }
            WriteOutcome::Replayed(stored) => {
                state.metrics.idempotent_replays.fetch_add(1, Ordering::Relaxed);
                tracing::info!(status = stored.status, "idempotent replay");
                let version = serde_json::from_str::<serde_json::Value>(&stored.body)
                    .ok()
                    .and_then(|v| v.get("version").and_then(|v| v.as_i64()));
                Ok(card_response(&stored, true, version))
            }
            WriteOutcome::KeyReused => Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            )),
            WriteOutcome::Rejected(problem) => Err(problem.into()),
        }
    }
    .instrument(span)
    .await
}
