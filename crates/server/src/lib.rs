//! Deckhand reference sync server (protocol v1): axum over an embedded SQLite store.

pub mod auth;
mod body;
pub mod config;
pub mod domain;
pub mod error;
mod hub;
mod idempotency;
mod limits;
mod metrics;
pub mod openapi;
mod routes;
pub mod state;
pub mod storage;
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use deckhand_protocol::ErrorCode;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use config::ServerConfig;
use error::ApiError;
use state::AppState;
use storage::Storage;
use storage::sqlite::SqliteStorage;

/// Opens the configured SQLite database (creating and migrating it).
pub fn open_storage(config: &ServerConfig) -> storage::Result<Arc<dyn Storage>> {
    Ok(Arc::new(SqliteStorage::open(&config.db_path, config.read_connections)?))
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let resp = next.run(req).await;
    if resp.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED {
        return error::problem_response(
            &deckhand_protocol::Problem::new(ErrorCode::MethodNotAllowed, "this route does not take that method"),
            None,
        );
    }
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    error::problem_response(&deckhand_protocol::Problem::new(ErrorCode::Internal, "internal error"), None)
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static(deckhand_protocol::headers::REQUEST_ID);
    let authed = Router::new()
        .route("/v1/cards", get(routes::cards::list).post(routes::cards::create))
        .route(
            "/v1/cards/{id}",
            get(routes::cards::get).patch(routes::cards::patch).delete(routes::cards::delete),
        )
        .route("/v1/changes", get(routes::changes::list))
        .route("/v1/events", get(routes::events::stream))
        .route("/v1/openapi.json", get(routes::meta::openapi))
        .route("/metrics", get(routes::meta::metrics))
        .route_layer(from_fn_with_state(state.clone(), limits::guard))
        .route_layer(from_fn_with_state(state.clone(), auth::require_user));
    Router::new()
        .route("/healthz", get(routes::meta::healthz))
        .merge(authed)
        .fallback(not_found)
        .layer(from_fn(method_not_allowed))
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Deletes expired idempotency records until shutdown.
fn spawn_purger(state: AppState) {
    tokio::spawn(async move {
        let shutdown = state::until_shutdown(state.shutdown.clone());
        tokio::pin!(shutdown);
        let every = state.config.purge_interval.max(Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
            }
            let retention = chrono::Duration::from_std(state.config.idempotency_retention).unwrap_or(chrono::Duration::days(7));
            let before = chrono::Utc::now() - retention;
            match state.db(move |s| s.purge_idempotency(before)).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency records purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(detail = %e.problem.detail, "idempotency purge failed"),
            }
        }
    });
}

/// Serves until `shutdown` turns true: stops accepting, ends SSE streams cleanly, finishes
/// in-flight requests.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    storage: Arc<dyn Storage>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let state = AppState::new(config, storage, shutdown.clone());
    spawn_purger(state.clone());
    axum::serve(listener, app(state))
        .with_graceful_shutdown(state::until_shutdown(shutdown))
        .await
}
