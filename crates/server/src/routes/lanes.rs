//! `/v1/lanes`: list, create, patch (rename, move), delete. Writes are idempotent and versioned
//! like card writes and take the next seq of the same per-user change feed.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{Json, Response};
use deckhand_protocol::{ErrorCode, FieldError, LanesPage, NewLane, PatchLane, Problem, validate_lane_changes, validate_new_lane};
use uuid::Uuid;

use crate::auth::User;
use crate::body;
use crate::error::ApiError;
use crate::idempotency;
use crate::lanes::LaneOp;
use crate::state::AppState;

fn lane_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::new(ErrorCode::NotFound, format!("no lane {raw:?}")))
}

#[utoipa::path(get, path = "/v1/lanes", operation_id = "listLanes", tag = "lanes",
    responses(
        (status = 200, description = "The caller's live lanes by (position, id)", body = LanesPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(State(state): State<AppState>, Extension(User(user)): Extension<User>) -> Result<Json<LanesPage>, ApiError> {
    let lanes = state.db(move |s| s.lanes(user)).await?;
    Ok(Json(LanesPage { items: lanes.into_iter().filter(|l| !l.deleted).collect() }))
}

#[utoipa::path(post, path = "/v1/lanes", operation_id = "createLane", request_body = NewLane, tag = "lanes",
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$", description = "1..=255 visible ASCII characters, unique per intended write")),
    responses(
        (status = 201, description = "Created", body = deckhand_protocol::Lane),
        (status = 400, description = "Malformed JSON or missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Id exists (`current_lane`), name taken (`lane_name_taken`, `current_lane`) or key in flight", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 256 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, too many lanes, or key reused", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    token: Option<Extension<crate::auth::TokenHash>>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency::key_from(&headers)?;
    let bytes = body::read(&headers, body, state.config.body_read_timeout).await?;
    let new: NewLane = body::parse_json(&headers, &bytes)?;
    validate_new_lane(&new).map_err(ApiError::validation)?;
    let fp = idempotency::fingerprint(&Method::POST, &uri, &bytes);
    idempotency::run_lane(&state, user, token.map(|Extension(t)| t), key, fp, LaneOp::Create(new)).await
}

#[utoipa::path(patch, path = "/v1/lanes/{id}", operation_id = "patchLane", request_body = PatchLane, tag = "lanes",
    params(("id" = String, Path, description = "Lane id (UUID)"),
           ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$", description = "1..=255 visible ASCII characters")),
    responses(
        (status = 200, description = "Renamed and/or moved lane, version + 1", body = deckhand_protocol::Lane),
        (status = 400, description = "Malformed JSON or missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lane", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale base_version or name taken (`current_lane`), or key in flight", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Deleted; `current_lane` is the tombstone", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 256 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or key reused", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    token: Option<Extension<crate::auth::TokenHash>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency::key_from(&headers)?;
    let id = lane_id(&raw)?;
    let bytes = body::read(&headers, body, state.config.body_read_timeout).await?;
    let patch: PatchLane = body::parse_json(&headers, &bytes)?;
    validate_lane_changes(&patch.changes).map_err(ApiError::validation)?;
    let fp = idempotency::fingerprint(&Method::PATCH, &uri, &bytes);
    idempotency::run_lane(&state, user, token.map(|Extension(t)| t), key, fp, LaneOp::Patch { id, base_version: patch.base_version, changes: patch.changes }).await
}

#[utoipa::path(delete, path = "/v1/lanes/{id}", operation_id = "deleteLane", tag = "lanes",
    params(("id" = String, Path, description = "Lane id (UUID)"),
           ("base_version" = i64, Query, description = "The version being deleted"),
           ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$", description = "1..=255 visible ASCII characters")),
    responses(
        (status = 200, description = "The tombstone", body = deckhand_protocol::Lane),
        (status = 400, description = "Missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lane", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale base_version (`current_lane`) or key in flight", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Already deleted; `current_lane` is the tombstone", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or bad base_version, or key reused", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    token: Option<Extension<crate::auth::TokenHash>>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let key = idempotency::key_from(&headers)?;
    let id = lane_id(&raw)?;
    let field = |m: &str| ApiError::validation(vec![FieldError { field: "base_version".into(), message: m.into() }]);
    let base_version = q.get("base_version").ok_or_else(|| field("is required"))?.parse::<i64>().map_err(|_| field("must be an integer"))?;
    let fp = idempotency::fingerprint(&Method::DELETE, &uri, b"");
    idempotency::run_lane(&state, user, token.map(|Extension(t)| t), key, fp, LaneOp::Delete { id, base_version }).await
}
