//! `DELETE /v1/trash`: "empty trash" — the caller's tombstones are purged for good now instead of
//! after the retention (`--trash-days`). Naturally idempotent (emptying an empty Trash purges 0),
//! so it takes no Idempotency-Key.

use axum::Extension;
use axum::extract::State;
use axum::response::Json;
use deckhand_protocol::{Problem, TrashEmptied};

use crate::auth::User;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(delete, path = "/v1/trash", operation_id = "emptyTrash", tag = "cards",
    responses(
        (status = 200, description = "The caller's tombstones were purged; the purge horizon (`purged_seq` of `/v1/changes`) moved past them", body = TrashEmptied),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn empty(State(state): State<AppState>, Extension(User(user)): Extension<User>) -> Result<Json<TrashEmptied>, ApiError> {
    let purged = state.db(move |s| s.purge_tombstones(Some(user), None)).await?;
    tracing::info!(user, purged, "trash emptied");
    Ok(Json(TrashEmptied { purged: purged as u64 }))
}
