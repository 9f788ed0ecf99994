//! `POST /v1/batch`: several writes in one request. Each write is exactly the single request it
//! stands for (method, path with query, Idempotency-Key, body text), so its idempotency record is
//! shared with that request: a write first sent alone may be retried in a batch and vice versa,
//! and is applied once either way.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchWrite {
    /// `POST`, `PATCH` or `DELETE`.
    #[schema(example = "POST")]
    pub method: String,
    /// The single request's path and query: `/v1/cards`, `/v1/cards/{id}`,
    /// `/v1/cards/{id}?base_version=n`.
    #[schema(example = "/v1/cards")]
    pub path: String,
    /// The single request's `Idempotency-Key`.
    #[schema(min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$")]
    pub idempotency_key: String,
    /// The single request's JSON body as text (absent for DELETE). The idempotency fingerprint
    /// covers these exact bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Body of `POST /v1/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchRequest {
    #[schema(min_items = 1, max_items = 100)]
    pub writes: Vec<BatchWrite>,
}

/// What one write answered, as its single request would have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    /// The single request's status code.
    pub status: u16,
    /// The single request's body: a card, or a problem (RFC 9457) with its stable `code`.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    /// The answer is a stored one (`Idempotent-Replayed: true` on a single request).
    #[serde(default)]
    pub replayed: bool,
    /// The single request's `Retry-After` in seconds (429, 503): a client backs off this write
    /// exactly as it would after the single request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// Response of `POST /v1/batch`: one result per write, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
}
