//! `GET /v1/changes`: the per-user change feed, tombstones included.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Json;
use deckhand_protocol::{ChangesPage, FieldError, Problem};

use crate::auth::User;
use crate::error::ApiError;
use crate::routes::cards::parse_limit;
use crate::state::AppState;

#[utoipa::path(get, path = "/v1/changes", operation_id = "listChanges", tag = "changes",
    params(
        ("since" = Option<i64>, Query, minimum = 0, description = "Last seq the caller has; default 0"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "1..=1000, default 100"),
    ),
    responses(
        (status = 200, description = "Card and lane changes after `since`, by seq", body = ChangesPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad since or limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Extension(User(user)): Extension<User>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<ChangesPage>, ApiError> {
    let limit = parse_limit(&q)?;
    let since = match q.get("since") {
        None => 0,
        Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::validation(vec![FieldError { field: "since".into(), message: "must be a non-negative integer".into() }])
        })?,
    };
    // Bounded by count and by bytes; the storage tells whether more remain.
    let max_bytes = state.config.page_max_bytes;
    // The epoch and last_seq let a client notice a restored or reset server (docs/protocol.md, "Epoch").
    // purged_seq: the purge horizon; a client whose cursor is below it resyncs (docs/protocol.md, "Trash").
    // Card and lane changes share the seq; the page covers both up to `next_since`.
    let (page, epoch, last_seq, purged_seq) = state
        .db(move |s| Ok((crate::feed::page(s, user, since, limit, max_bytes)?, s.epoch()?, s.last_seq(user)?, s.purged_seq(user)?)))
        .await?;
    Ok(Json(ChangesPage { changes: page.cards, next_since: page.next_since, has_more: page.more, epoch, last_seq, purged_seq, lanes: page.lanes }))
}
