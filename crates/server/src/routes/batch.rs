//! `POST /v1/batch`: several writes in one request, each answered exactly as its single request
//! (same checks, same idempotency record, same events). Writes run in order, one transaction each,
//! so one refused write never holds back the others.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Json, Response};
use deckhand_protocol::limits::{BATCH_BODY_MAX_BYTES, BATCH_MAX_WRITES, REQUEST_BODY_MAX_BYTES};
use deckhand_protocol::{BatchRequest, BatchResponse, BatchResult, BatchWrite, ErrorCode, FieldError, Problem, headers as h};

use tracing::Instrument;

use super::cards;
use crate::auth::{TokenHash, User};
use crate::body;
use crate::error::ApiError;
use crate::idempotency;
use crate::state::AppState;

#[utoipa::path(post, path = "/v1/batch", operation_id = "batchWrites", request_body = BatchRequest, tag = "cards",
    responses(
        (status = 200, description = "One result per write, in order; each is what its single request would have answered", body = BatchResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 4 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No writes, or more than 100", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited (each write counts as a request)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn batch(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    token: Option<Extension<TokenHash>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchResponse>, ApiError> {
    let bytes = body::read_at_most(&headers, body, state.config.body_read_timeout, BATCH_BODY_MAX_BYTES).await?;
    let req: BatchRequest = body::parse_json(&headers, &bytes)?;
    let n = req.writes.len();
    if n == 0 || n > BATCH_MAX_WRITES {
        return Err(ApiError::validation(vec![FieldError {
            field: "writes".into(),
            message: format!("must hold 1 to {BATCH_MAX_WRITES} writes (got {n})"),
        }]));
    }
    // The request itself was counted by the guard; each further write counts as one more.
    if let Some(Extension(TokenHash(t))) = token {
        if let Err(wait) = state.rate_limiter.take(t, n - 1) {
            return Err(ApiError::new(ErrorCode::RateLimited, "too many writes for this token").retry_after(wait));
        }
    }
    let run = async {
        // Check every write first (as its single request would be checked), then run the good
        // ones in order in one trip to the database thread.
        let prepared: Vec<Result<(String, cards::Prepared), ApiError>> = req.writes.into_iter().map(prepare).collect();
        let ready: Vec<(String, [u8; 32], crate::domain::WriteOp)> =
            prepared.iter().filter_map(|p| p.as_ref().ok()).map(|(k, (fp, op))| (k.clone(), *fp, op.clone())).collect();
        let mut ran = idempotency::run_many(&state, user, token.map(|Extension(t)| t), ready).await.into_iter();
        let mut results = Vec::with_capacity(n);
        for p in prepared {
            let resp = match p {
                Ok(_) => match ran.next() {
                    Some(Ok(r)) => r,
                    Some(Err(e)) => e.into_response(),
                    None => ApiError::new(ErrorCode::Internal, "write not run").into_response(),
                },
                Err(e) => e.into_response(),
            };
            results.push(result_of(resp).await);
        }
        results
    };
    let results = run.instrument(tracing::info_span!("batch", user, writes = n)).await;
    Ok(Json(BatchResponse { results }))
}

/// Check one write as the handler of its single request would.
fn prepare(w: BatchWrite) -> Result<(String, cards::Prepared), ApiError> {
    if !w.idempotency_key.bytes().all(|b| (b' '..=b'~').contains(&b)) || w.idempotency_key.trim() != w.idempotency_key {
        return Err(ApiError::new(ErrorCode::IdempotencyKeyInvalid, "Idempotency-Key must be visible ASCII"));
    }
    let key = idempotency::check_key(&w.idempotency_key)?;
    let uri: Uri = w.path.parse().map_err(|_| ApiError::new(ErrorCode::NotFound, format!("no route {:?}", w.path)))?;
    if uri.scheme().is_some() || uri.authority().is_some() {
        return Err(ApiError::new(ErrorCode::NotFound, "a write's path is a path, not a URL"));
    }
    let path = uri.path();
    let card = path.strip_prefix("/v1/cards/").filter(|rest| !rest.is_empty() && !rest.contains('/'));
    let body_bytes = |required: bool| -> Result<Vec<u8>, ApiError> {
        match &w.body {
            Some(b) if b.len() > REQUEST_BODY_MAX_BYTES => Err(body::too_large(REQUEST_BODY_MAX_BYTES)),
            Some(b) => Ok(b.clone().into_bytes()),
            None if required => Err(ApiError::new(ErrorCode::MalformedRequest, "this write needs a JSON body")),
            None => Ok(Vec::new()),
        }
    };
    // `/v1/cards/{id}/restore`: the one write below a card's path.
    let restore = path.strip_prefix("/v1/cards/").and_then(|rest| rest.strip_suffix("/restore")).filter(|id| !id.is_empty() && !id.contains('/'));
    if let Some(id) = restore {
        if w.method != "POST" {
            return Err(ApiError::new(ErrorCode::MethodNotAllowed, format!("{} is not a write on {path}", w.method)));
        }
        let b = body_bytes(true)?;
        return Ok((key, cards::restore_json_op(id, &uri, &b)?));
    }
    match (w.method.as_str(), path, card) {
        ("POST", "/v1/cards", _) if uri.query().is_none() => {
            let b = body_bytes(true)?;
            Ok((key, cards::create_json_op(&uri, &b)?))
        }
        ("PATCH", _, Some(id)) => {
            let b = body_bytes(true)?;
            Ok((key, cards::patch_json_op(id, &uri, &b)?))
        }
        ("DELETE", _, Some(id)) => {
            let q = Query::<HashMap<String, String>>::try_from_uri(&uri).map(|Query(q)| q).unwrap_or_default();
            Ok((key, cards::delete_op(id, &q, &uri)?))
        }
        (_, "/v1/cards", _) | (_, _, Some(_)) => {
            Err(ApiError::new(ErrorCode::MethodNotAllowed, format!("{} is not a write on {path}", w.method)))
        }
        _ => Err(ApiError::new(ErrorCode::NotFound, format!("no write route {path:?}"))),
    }
}

async fn result_of(resp: Response) -> BatchResult {
    let status = resp.status().as_u16();
    let replayed = resp.headers().get(h::IDEMPOTENT_REPLAYED).is_some_and(|v| v == "true");
    let retry_after = resp.headers().get(h::RETRY_AFTER).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::to_value(Problem::new(ErrorCode::Internal, "unreadable answer")).unwrap_or_default()
    });
    BatchResult { status, body, replayed, retry_after }
}
