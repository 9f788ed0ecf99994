//! `/v1/cards`: create, read, list, patch, delete, restore.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use deckhand_protocol::limits::{PAGE_DEFAULT, PAGE_MAX};
use deckhand_protocol::{
    CardsPage, ErrorCode, FieldError, NewCard, PatchCard, Problem, RestoreCard, validate_changes, validate_new_card,
};
use uuid::Uuid;

use crate::auth::User;
use crate::body;
use crate::domain::WriteOp;
use crate::error::ApiError;
use crate::idempotency;
use crate::state::AppState;

/// Path ids that are not UUIDs name no card: 404, like any other unknown id.
fn card_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::new(ErrorCode::NotFound, format!("no card {raw:?}")))
}

fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(vec![FieldError { field: field.into(), message: message.into() }])
}

pub(crate) fn parse_limit(q: &HashMap<String, String>) -> Result<u32, ApiError> {
    match q.get("limit") {
        None => Ok(PAGE_DEFAULT),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
            _ => Err(field_error("limit", format!("must be an integer from 1 to {PAGE_MAX}"))),
        },
    }
}

#[utoipa::path(post, path = "/v1/cards", operation_id = "createCard", request_body = NewCard, tag = "cards",
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$", description = "1..=255 visible ASCII characters, unique per intended write")),
    responses(
        (status = 201, description = "Created", body = deckhand_protocol::Card),
        (status = 400, description = "Malformed JSON or missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Id already exists (`current`) or key in flight", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 256 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or key reused", body = Problem, content_type = "application/problem+json"),
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
    let new: NewCard = body::parse_json(&headers, &bytes)?;
    let (fp, op) = create_op(&uri, &bytes, new)?;
    idempotency::run(&state, user, token.map(|Extension(t)| t), key, fp, op).await
}

/// A checked write and the fingerprint of the request it came in.
pub(crate) type Prepared = ([u8; 32], WriteOp);

/// A create whose body is known to be JSON (a write of a batch).
pub(crate) fn create_json_op(uri: &Uri, bytes: &[u8]) -> Result<Prepared, ApiError> {
    let new: NewCard = body::parse_json_bytes(bytes)?;
    create_op(uri, bytes, new)
}

fn create_op(uri: &Uri, bytes: &[u8], new: NewCard) -> Result<Prepared, ApiError> {
    validate_new_card(&new).map_err(ApiError::validation)?;
    Ok((idempotency::fingerprint(&Method::POST, uri, bytes), WriteOp::Create(new)))
}

#[utoipa::path(get, path = "/v1/cards/{id}", operation_id = "getCard", tag = "cards",
    params(("id" = String, Path, description = "Card id (UUID)")),
    responses(
        (status = 200, description = "The card; header ETag: \"<version>\"", body = deckhand_protocol::Card),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card for the caller", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Deleted; `current` is the tombstone", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = card_id(&raw)?;
    let card = state.db(move |s| s.get_card(user, id)).await?.ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, format!("no card {id}"))
    })?;
    if card.deleted {
        return Err(Problem::new(ErrorCode::Gone, format!("card {id} was deleted")).with_current(card).into());
    }
    let mut resp = (StatusCode::OK, Json(&card)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", card.version)) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    Ok(resp)
}

#[utoipa::path(get, path = "/v1/cards", operation_id = "listCards", tag = "cards",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "1..=1000, default 100"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "Live cards in a stable order", body = CardsPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<CardsPage>, ApiError> {
    let limit = parse_limit(&q)?;
    let after = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(Uuid::parse_str(c).map_err(|_| field_error("cursor", "not a cursor this server issued"))?),
    };
    // Bounded by count and by bytes (`page_max_bytes`): a page may be shorter than `limit`.
    let max_bytes = state.config.page_max_bytes;
    let (items, more) = state.db(move |s| s.cards_page(user, after, limit, max_bytes)).await?;
    let next_cursor = if more { items.last().map(|c| c.id.to_string()) } else { None };
    Ok(Json(CardsPage { items, next_cursor }))
}

#[utoipa::path(patch, path = "/v1/cards/{id}", operation_id = "patchCard", request_body = PatchCard, tag = "cards",
    params(("id" = String, Path, description = "Card id (UUID)"),
           ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$", description = "1..=255 visible ASCII characters")),
    responses(
        (status = 200, description = "Updated card, version + 1", body = deckhand_protocol::Card),
        (status = 400, description = "Malformed JSON or missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale base_version (`current`) or key in flight", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Deleted; `current` is the tombstone", body = Problem, content_type = "application/problem+json"),
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
    let id = card_id(&raw)?;
    let bytes = body::read(&headers, body, state.config.body_read_timeout).await?;
    let patch: PatchCard = body::parse_json(&headers, &bytes)?;
    let (fp, op) = patch_op(id, &uri, &bytes, patch)?;
    idempotency::run(&state, user, token.map(|Extension(t)| t), key, fp, op).await
}

/// A patch whose body is known to be JSON (a write of a batch).
pub(crate) fn patch_json_op(raw_id: &str, uri: &Uri, bytes: &[u8]) -> Result<Prepared, ApiError> {
    let id = card_id(raw_id)?;
    let patch: PatchCard = body::parse_json_bytes(bytes)?;
    patch_op(id, uri, bytes, patch)
}

fn patch_op(id: Uuid, uri: &Uri, bytes: &[u8], patch: PatchCard) -> Result<Prepared, ApiError> {
    if patch.changes.is_empty() {
        return Err(field_error("changes", "must change at least one field"));
    }
    validate_changes(&patch.changes).map_err(ApiError::validation)?;
    let fp = idempotency::fingerprint(&Method::PATCH, uri, bytes);
    Ok((fp, WriteOp::Patch { id, base_version: patch.base_version, changes: patch.changes }))
}

#[utoipa::path(delete, path = "/v1/cards/{id}", operation_id = "deleteCard", tag = "cards",
    params(("id" = String, Path, description = "Card id (UUID)"),
           ("base_version" = i64, Query, description = "The version being deleted"),
           ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$", description = "1..=255 visible ASCII characters")),
    responses(
        (status = 200, description = "The tombstone", body = deckhand_protocol::Card),
        (status = 400, description = "Missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale base_version (`current`) or key in flight", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Already deleted; `current` is the tombstone", body = Problem, content_type = "application/problem+json"),
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
    let (fp, op) = delete_op(&raw, &q, &uri)?;
    idempotency::run(&state, user, token.map(|Extension(t)| t), key, fp, op).await
}

/// A delete from its path id and query (also a write of a batch).
pub(crate) fn delete_op(raw_id: &str, q: &HashMap<String, String>, uri: &Uri) -> Result<Prepared, ApiError> {
    let id = card_id(raw_id)?;
    let base_version = q
        .get("base_version")
        .ok_or_else(|| field_error("base_version", "is required"))?
        .parse::<i64>()
        .map_err(|_| field_error("base_version", "must be an integer"))?;
    Ok((idempotency::fingerprint(&Method::DELETE, uri, b""), WriteOp::Delete { id, base_version }))
}

#[utoipa::path(post, path = "/v1/cards/{id}/restore", operation_id = "restoreCard", request_body = RestoreCard, tag = "cards",
    params(("id" = String, Path, description = "Card id (UUID)"),
           ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$", description = "1..=255 visible ASCII characters")),
    responses(
        (status = 200, description = "The live card again, tombstone version + 1", body = deckhand_protocol::Card),
        (status = 400, description = "Malformed JSON or missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card (never existed, or purged)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale base_version or not deleted (`current`), or key in flight", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 256 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body or key reused", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn restore(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    token: Option<Extension<crate::auth::TokenHash>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency::key_from(&headers)?;
    let id = card_id(&raw)?;
    let bytes = body::read(&headers, body, state.config.body_read_timeout).await?;
    let restore: RestoreCard = body::parse_json(&headers, &bytes)?;
    let (fp, op) = restore_op(id, &uri, &bytes, restore);
    idempotency::run(&state, user, token.map(|Extension(t)| t), key, fp, op).await
}

/// A restore whose body is known to be JSON (a write of a batch).
pub(crate) fn restore_json_op(raw_id: &str, uri: &Uri, bytes: &[u8]) -> Result<Prepared, ApiError> {
    let id = card_id(raw_id)?;
    let restore: RestoreCard = body::parse_json_bytes(bytes)?;
    Ok(restore_op(id, uri, bytes, restore))
}

fn restore_op(id: Uuid, uri: &Uri, bytes: &[u8], restore: RestoreCard) -> Prepared {
    (idempotency::fingerprint(&Method::POST, uri, bytes), WriteOp::Restore { id, base_version: restore.base_version })
}
