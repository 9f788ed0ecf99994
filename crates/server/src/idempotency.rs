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

use crate::auth::TokenHash;
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
pub async fn run(state: &AppState, user: UserId, token: Option<TokenHash>, key: String, fingerprint: [u8; 32], op: WriteOp) -> Result<Response, ApiError> {
    run_many(state, user, token, vec![(key, fingerprint, op)]).await.pop().unwrap_or_else(|| Err(ApiError::new(ErrorCode::Internal, "write not run")))
}

/// Writes in order (one, or a batch's), all in one trip to the database thread, each still its
/// own transaction with its own record. A key repeated inside the batch runs
/// in order like a retry; a key another request is executing answers `409 idempotency_in_flight`.
pub async fn run_many(state: &AppState, user: UserId, token: Option<TokenHash>, writes: Vec<(String, [u8; 32], WriteOp)>) -> Vec<Result<Response, ApiError>> {
    let mut guards = Vec::new();
    let mut answers: Vec<Option<Result<Response, ApiError>>> = Vec::with_capacity(writes.len());
    let mut ready = Vec::with_capacity(writes.len());
    let mut mine = std::collections::HashSet::new();
    for (i, (key, fingerprint, op)) in writes.into_iter().enumerate() {
        if !mine.contains(&key) {
            match claim(state, user, &key) {
                Ok(g) => guards.push(g),
                Err(e) => {
                    answers.push(Some(Err(e)));
                    continue;
                }
            }
            mine.insert(key.clone());
        }
        answers.push(None);
        ready.push((i, idem_key(key, fingerprint, token), op));
    }
    let turn = state.user_writes.turn(user).await;
    let (at, writes): (Vec<usize>, Vec<(IdemKey, WriteOp)>) = ready.into_iter().map(|(i, idem, op)| (i, (idem, op))).unzip();
    let names: Vec<(String, uuid::Uuid)> = writes.iter().map(|(idem, op)| (idem.key.clone(), op.card_id())).collect();
    let done = state
        .db_writes(user, writes)
        .await
        .map(|outcomes| at.into_iter().zip(names).zip(outcomes).map(|((i, (key, card_id)), o)| (i, key, card_id, o)).collect::<Vec<_>>());
    drop(turn);
    match done {
        Ok(done) => {
            for (i, key, card_id, outcome) in done {
                let span = tracing::info_span!("write", user, idempotency_key = %key, card_id = %card_id);
                let _e = span.enter();
                answers[i] = Some(outcome.map_err(ApiError::from).and_then(|o| respond(state, user, token, o)));
            }
        }
        Err(e) => {
            for a in answers.iter_mut().filter(|a| a.is_none()) {
                *a = Some(Err(e.clone()));
            }
        }
    }
    drop(guards);
    answers.into_iter().map(|a| a.unwrap_or_else(|| Err(ApiError::new(ErrorCode::Internal, "write not run")))).collect()
}

/// Executes a lane write once per (user, key) and answers it: the same key space, records and
/// in-flight guard as card writes.
pub async fn run_lane(state: &AppState, user: UserId, token: Option<TokenHash>, key: String, fingerprint: [u8; 32], op: crate::lanes::LaneOp) -> Result<Response, ApiError> {
    let guard = claim(state, user, &key)?;
    let idem = idem_key(key.clone(), fingerprint, token);
    let lane_id = op.lane_id();
    let turn = state.user_writes.turn(user).await;
    let outcome = state.db(move |s| s.write_lane(user, &idem, &op, Utc::now())).await;
    drop(turn);
    drop(guard);
    let span = tracing::info_span!("lane_write", user, idempotency_key = %key, lane_id = %lane_id);
    let _e = span.enter();
    match outcome? {
        WriteOutcome::Applied { response, change } => {
            tracing::info!(seq = change.seq, version = change.lane.version, "lane write applied");
            let (seq, version) = (change.seq, change.lane.version);
            state.hub.publish_lane(user, change);
            if let Some(n) = &state.notifier {
                n.changed(user, seq);
            }
            Ok(card_response(&response, false, Some(version)))
        }
        WriteOutcome::Replayed(stored) => respond(state, user, token, WriteOutcome::Replayed(stored)),
        WriteOutcome::KeyReused => respond(state, user, token, WriteOutcome::KeyReused),
        WriteOutcome::Rejected(p) => Err(p.into()),
        WriteOutcome::InFlight => respond(state, user, token, WriteOutcome::InFlight),
        WriteOutcome::Revoked => respond(state, user, token, WriteOutcome::Revoked),
    }
}

/// Marks (user, key) as executing; the guard removes the mark however the request ends.
fn claim<'a>(state: &'a AppState, user: UserId, key: &str) -> Result<InFlight<'a>, ApiError> {
    let entry = (user, key.to_string());
    if !state.in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(entry.clone()) {
        return Err(ApiError::new(ErrorCode::IdempotencyInFlight, "a request with this Idempotency-Key is still executing").retry_after(1));
    }
    Ok(InFlight { state, entry })
}

/// The storage identity of a write: its key, its request's fingerprint, and the token it came
/// with (checked live inside the write's transaction; its short id is the version's writer).
fn idem_key(key: String, fingerprint: [u8; 32], token: Option<TokenHash>) -> IdemKey {
    IdemKey { key, fingerprint, token: token.map(|t| t.0) }
}

fn respond(state: &AppState, user: UserId, token: Option<TokenHash>, outcome: WriteOutcome) -> Result<Response, ApiError> {
    match outcome {
        WriteOutcome::Applied { response, change } => {
            tracing::info!(seq = change.seq, version = change.card.version, "write applied");
            let version = change.card.version;
            let seq = change.seq;
            state.hub.publish(user, change);
            // After the commit (never inside the transaction): other instances' streams re-read.
            if let Some(n) = &state.notifier {
                n.changed(user, seq);
            }
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
        // Another instance holds this key's lock (the in-process set only sees this process).
        WriteOutcome::InFlight => Err(ApiError::new(ErrorCode::IdempotencyInFlight, "a request with this Idempotency-Key is still executing").retry_after(1)),
        // Revoked after this instance last looked the token up: the next request looks again.
        WriteOutcome::Revoked => {
            if let Some(t) = token {
                state.token_users.forget(&t.0);
            }
            Err(ApiError::new(ErrorCode::Unauthorized, "invalid or revoked token"))
        }
    }
}
