//! Health, metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Json, Response};
use utoipa::OpenApi;

use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Liveness: no auth, no database.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut resp = state.metrics.render().into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "openapi", tag = "meta",
    responses(
        (status = 200, description = "This OpenAPI document", content_type = "application/json"),
        (status = 401, description = "No valid token", body = deckhand_protocol::Problem, content_type = "application/problem+json"),
    ))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
