//! `GET /v1/cards/{id}/versions`: a card's stored versions, newest first, paged by version.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Json;
use deckhand_protocol::{ErrorCode, FieldError, Problem, VersionsPage};
use uuid::Uuid;

use crate::auth::User;
use crate::error::ApiError;
use crate::routes::cards::parse_limit;
use crate::state::AppState;

#[utoipa::path(get, path = "/v1/cards/{id}/versions", operation_id = "cardVersions", tag = "cards",
    params(
        ("id" = String, Path, description = "Card id (UUID)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "1..=1000, default 100"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "The card's versions, newest first (a deleted card's too, while it is in the Trash)", body = VersionsPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card for the caller (or purged)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn versions(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<VersionsPage>, ApiError> {
    let id = Uuid::parse_str(&raw).map_err(|_| ApiError::new(ErrorCode::NotFound, format!("no card {raw:?}")))?;
    let limit = parse_limit(&q)?;
    let before = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(c.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
            ApiError::validation(vec![FieldError { field: "cursor".into(), message: "not a cursor this server issued".into() }])
        })?),
    };
    // Isolation as everywhere: another user's card id answers exactly like an absent one.
    let (card, (items, more)) = state.db(move |s| Ok((s.get_card(user, id)?, s.card_versions(user, id, before, limit)?))).await?;
    if card.is_none() {
        return Err(ApiError::new(ErrorCode::NotFound, format!("no card {id}")));
    }
    let next_cursor = if more { items.last().map(|v| v.card.version.to_string()) } else { None };
    Ok(Json(VersionsPage { items, next_cursor }))
}
