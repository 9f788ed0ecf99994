//! Every failure a handler can answer with, rendered as `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use deckhand_protocol::{ErrorCode, FieldError, PROBLEM_CONTENT_TYPE, Problem};

use crate::storage::StorageError;

/// A problem document plus optional `Retry-After` seconds.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub problem: Problem,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError { problem: Problem::new(code, detail), retry_after: None }
    }

    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        ApiError { problem: Problem::new(ErrorCode::ValidationFailed, detail).with_errors(errors), retry_after: None }
    }

    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "no such resource")
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> ApiError {
        ApiError { problem, retry_after: None }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        tracing::error!(error = %e, "storage failure");
        match e {
            StorageError::Retryable(_) => ApiError::new(ErrorCode::Overloaded, "database busy, retry").retry_after(1),
            _ => ApiError::new(ErrorCode::Internal, "internal storage error"),
        }
    }
}

/// Renders a problem with its status; shared by handlers and middleware.
pub fn problem_response(problem: &Problem, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).expect("problem serialises");
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if problem.code == ErrorCode::Unauthorized {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"deckhand\""));
    }
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem_response(&self.problem, self.retry_after)
    }
}
