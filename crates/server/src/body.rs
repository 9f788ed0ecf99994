//! Reading and parsing request bodies with the protocol's error rules: over 256 KiB → 413,
//! not JSON → 415/400, well-formed but wrong → 422.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use deckhand_protocol::limits::REQUEST_BODY_MAX_BYTES;
use deckhand_protocol::{ErrorCode, FieldError};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The whole body, at most 256 KiB, arriving within `timeout` (a client trickling its body byte by
/// byte must not hold a connection and a concurrency permit for ever).
pub async fn read(headers: &HeaderMap, body: Body, timeout: std::time::Duration) -> Result<Bytes, ApiError> {
    read_at_most(headers, body, timeout, REQUEST_BODY_MAX_BYTES).await
}

/// Like `read` with another size cap (a batch of writes).
pub async fn read_at_most(headers: &HeaderMap, body: Body, timeout: std::time::Duration, max: usize) -> Result<Bytes, ApiError> {
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok()) {
        if len > max {
            return Err(too_large(max));
        }
    }
    // 408, not 400: the request was fine as far as it came, and a client may well send it again.
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await.map_err(|_| {
        ApiError::new(ErrorCode::RequestTimeout, format!("the request body did not arrive within {} s", timeout.as_secs_f64()))
    })?;
    let bytes = read.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            too_large(max)
        } else {
            ApiError::new(ErrorCode::MalformedRequest, format!("could not read the body: {e}"))
        }
    })?;
    Ok(bytes)
}

pub fn too_large(max: usize) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("request body is larger than {max} bytes"))
}

pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "application/json" && !mime.ends_with("+json") {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "send the body as application/json"));
    }
    parse_json_bytes(bytes)
}

/// `parse_json` for a body known to be JSON (a write inside a batch).
pub fn parse_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // First as a plain JSON value: syntax (incl. bad UTF-8, nesting past serde_json's recursion
    // limit of 128) → 400. Then the shape: serde's derived structs also accept a JSON array of the
    // fields in order (`["<uuid>","title"]`), which the contract does not allow → 422.
    let malformed = |e: serde_json::Error| ApiError::new(ErrorCode::MalformedRequest, format!("body is not valid JSON: {e}"));
    let whole: serde_json::Value = serde_json::from_slice(bytes).map_err(malformed)?;
    let Some(object) = whole.as_object() else {
        return Err(ApiError::validation(vec![FieldError { field: "body".into(), message: "must be a JSON object".into() }]));
    };
    if object.get("changes").is_some_and(|c| !c.is_object()) {
        return Err(ApiError::validation(vec![FieldError { field: "changes".into(), message: "must be a JSON object".into() }]));
    }
    // Then typed, from the bytes (not the value) so duplicate keys are still refused.
    let malformed = |e: serde_json::Error| ApiError::new(ErrorCode::MalformedRequest, format!("body is not valid JSON: {e}"));
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            // Well-formed JSON of the wrong shape: name the field that is wrong.
            serde_json::error::Category::Data => ApiError::validation(vec![FieldError {
                field: if path == "." || path.is_empty() { "body".into() } else { path },
                message: inner.to_string(),
            }]),
            _ => malformed(inner),
        }
    })?;
    de.end().map_err(malformed)?;
    Ok(value)
}
