//! Deckhand reference sync server (protocol v1): axum over an embedded SQLite store, or over
//! PostgreSQL shared by several instances.

pub mod auth;
mod body;
pub mod config;
pub mod domain;
pub mod error;
pub mod hub;
pub mod feed;
pub mod lanes;
mod idempotency;
mod limits;
mod metrics;
pub mod openapi;
mod routes;
pub mod state;
pub mod storage;
pub mod testing;
mod user_queue;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post};
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
use storage::postgres::PgStorage;
use storage::sqlite::SqliteStorage;

/// Opens the configured database (PostgreSQL when `database_url` is set, else the SQLite file),
/// creating and migrating it.
pub fn open_storage(config: &ServerConfig) -> storage::Result<Arc<dyn Storage>> {
    match &config.database_url {
        Some(url) => Ok(Arc::new(PgStorage::connect(url, config.pg_pool_size)?)),
        None => Ok(Arc::new(SqliteStorage::open(&config.db_path, config.read_connections)?)),
    }
}

/// `open_storage` for `serve`: a PostgreSQL backend runs its driver on `handle` (the server's
/// runtime, `PgStorage::connect_on`). Call it off that runtime's worker threads.
pub fn open_storage_on(config: &ServerConfig, handle: tokio::runtime::Handle) -> storage::Result<Arc<dyn Storage>> {
    match &config.database_url {
        Some(url) => Ok(Arc::new(PgStorage::connect_on(url, config.pg_pool_size, handle)?)),
        None => open_storage(config),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// Every error leaves as `application/problem+json`: responses made outside our handlers (axum's
/// extractor rejections such as a path that is not UTF-8, 405 from the router, ...) are rewritten
/// into the problem of their status, keeping their text as `detail`.
async fn problems_only(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(deckhand_protocol::PROBLEM_CONTENT_TYPE));
    if is_problem {
        return resp;
    }
    let code = match status.as_u16() {
        400 => ErrorCode::MalformedRequest,
        401 => ErrorCode::Unauthorized,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::RequestTimeout,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        422 => ErrorCode::ValidationFailed,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::Overloaded,
        s if s >= 500 => ErrorCode::Internal,
        _ => ErrorCode::MalformedRequest,
    };
    let retry_after = resp.headers().get(axum::http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()?.parse().ok());
    let text = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap_or_default();
    let detail = match String::from_utf8_lossy(&text).trim() {
        "" => code.title().to_string(),
        t => t.to_string(),
    };
    error::problem_response(&deckhand_protocol::Problem::new(code, detail), retry_after)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    error::problem_response(&deckhand_protocol::Problem::new(ErrorCode::Internal, "internal error"), None)
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static(deckhand_protocol::headers::REQUEST_ID);
    // One write each, the token passed into the write's transaction: `auth::require_writer`.
    let writes = Router::new()
        .route("/v1/cards", post(routes::cards::create))
        .route("/v1/cards/{id}", axum::routing::patch(routes::cards::patch).delete(routes::cards::delete))
        .route("/v1/cards/{id}/restore", post(routes::cards::restore))
        .route("/v1/lanes", post(routes::lanes::create))
        .route("/v1/lanes/{id}", axum::routing::patch(routes::lanes::patch).delete(routes::lanes::delete))
        .route_layer(from_fn_with_state(state.clone(), auth::require_writer));
    let authed = Router::new()
        .route("/v1/cards", get(routes::cards::list))
        .route("/v1/cards/{id}", get(routes::cards::get))
        .route("/v1/trash", delete(routes::trash::empty))
        .route("/v1/cards/{id}/versions", get(routes::history::versions))
        .route("/v1/lanes", get(routes::lanes::list))
        .route("/v1/batch", post(routes::batch::batch))
        .route("/v1/changes", get(routes::changes::list))
        .route("/v1/events", get(routes::events::stream))
        .route("/v1/openapi.json", get(routes::meta::openapi))
        .route("/metrics", get(routes::meta::metrics))
        .route_layer(from_fn_with_state(state.clone(), auth::require_user));
    Router::new()
        .route("/healthz", get(routes::meta::healthz))
        .merge(authed)
        .merge(writes)
        .fallback(not_found)
        .layer(from_fn(problems_only))
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

/// Deletes expired idempotency records and tombstones past the trash retention until shutdown.
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
            let trash = chrono::Duration::from_std(state.config.trash_retention).unwrap_or(chrono::Duration::days(30));
            let before = chrono::Utc::now() - trash;
            match state.db(move |s| s.purge_tombstones(None, Some(before))).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "tombstones past the trash retention purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(detail = %e.problem.detail, "tombstone purge failed"),
            }
            let history = chrono::Duration::from_std(state.config.history_retention).unwrap_or(chrono::Duration::days(90));
            let (before, keep) = (chrono::Utc::now() - history, state.config.history_max_versions);
            match state.db(move |s| s.purge_versions(before, keep)).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "card versions past the history bounds purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(detail = %e.problem.detail, "history purge failed"),
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
    serve_state(listener, AppState::new(config, storage, shutdown)).await
}

/// `serve` with a prepared state (the test server keeps a clone to revoke tokens through it).
///
/// HTTP/1.1 only, with a header read timeout (`config.header_read_timeout`): a client that
/// trickles its request head (slow loris) or idles on a kept-alive connection is disconnected.
/// (`axum::serve` sets no timer, so hyper's header timeout would be off.)
pub async fn serve_state(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt;

    spawn_purger(state.clone());
    hub::spawn_cross_instance(state.clone());
    let header_timeout = state.config.header_read_timeout.max(Duration::from_millis(10));
    let router = app(state.clone());
    // Every connection task holds a receiver; `closed()` resolves when all have ended.
    let (conns_tx, conns_rx) = watch::channel(());
    let shutdown = state::until_shutdown(state.shutdown.clone());
    tokio::pin!(shutdown);
    let connections = Arc::new(tokio::sync::Semaphore::new(state.config.max_connections.max(1)));
    loop {
        // At the connection cap, stop accepting until one closes (clients queue in the backlog).
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = connections.clone().acquire_owned() => permit.expect("semaphore never closed"),
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(
            router.clone().map_request(|req: hyper::Request<hyper::body::Incoming>| req.map(axum::body::Body::new)),
        );
        let down = state::until_shutdown(state.shutdown.clone());
        let conns_rx = conns_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::pin!(down);
            let mut draining = false;
            loop {
                tokio::select! {
                    done = conn.as_mut() => {
                        if let Err(e) = done {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = &mut down, if !draining => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(conns_rx);
            drop(permit);
        });
    }
    drop(listener);
    drop(conns_rx);
    conns_tx.closed().await;
    Ok(())
}
