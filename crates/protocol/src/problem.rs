use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Card, Lane};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Stable machine-readable error codes. Clients branch on these, never on `title` or `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    /// 400: body is not JSON or not the expected shape.
    MalformedRequest,
    /// 400: `Idempotency-Key` missing, empty or longer than 255 characters.
    IdempotencyKeyInvalid,
    /// 401
    Unauthorized,
    /// 404 (also for another user's card: existence is never revealed).
    NotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 408: the request body did not arrive in time (transient: send it again).
    RequestTimeout,
    /// 409 on POST: a card with this id already exists for the caller; `current` carries it.
    AlreadyExists,
    /// 409: `base_version` is not the current version; `current` carries the card.
    VersionConflict,
    /// 409: the first request with this idempotency key is still executing.
    IdempotencyInFlight,
    /// 410: the card was deleted; `current` carries the tombstone.
    Gone,
    /// 409: another live lane of the caller has this name (compared case-insensitively);
    /// `current_lane` carries it.
    LaneNameTaken,
    /// 413
    PayloadTooLarge,
    /// 415: request body is not `application/json`.
    UnsupportedMediaType,
    /// 422: well-formed but invalid; `errors` lists the fields.
    ValidationFailed,
    /// 422: same idempotency key, different request.
    IdempotencyKeyReused,
    /// 429 with `Retry-After`.
    RateLimited,
    /// 503 with `Retry-After`.
    Overloaded,
    /// 500
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::MalformedRequest | ErrorCode::IdempotencyKeyInvalid => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::AlreadyExists | ErrorCode::VersionConflict | ErrorCode::IdempotencyInFlight | ErrorCode::LaneNameTaken => 409,
            ErrorCode::Gone => 410,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::ValidationFailed | ErrorCode::IdempotencyKeyReused => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Overloaded => 503,
            ErrorCode::Internal => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::IdempotencyKeyInvalid => "idempotency_key_invalid",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::VersionConflict => "version_conflict",
            ErrorCode::IdempotencyInFlight => "idempotency_in_flight",
            ErrorCode::Gone => "gone",
            ErrorCode::LaneNameTaken => "lane_name_taken",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Internal => "internal",
        }
    }

    /// Short human title used in the problem document.
    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "Malformed request",
            ErrorCode::IdempotencyKeyInvalid => "Missing or invalid Idempotency-Key",
            ErrorCode::Unauthorized => "Unauthorized",
            ErrorCode::NotFound => "Not found",
            ErrorCode::MethodNotAllowed => "Method not allowed",
            ErrorCode::RequestTimeout => "Request timeout",
            ErrorCode::AlreadyExists => "Card already exists",
            ErrorCode::VersionConflict => "Version conflict",
            ErrorCode::IdempotencyInFlight => "Request with this Idempotency-Key is in flight",
            ErrorCode::Gone => "Card deleted",
            ErrorCode::LaneNameTaken => "Lane name taken",
            ErrorCode::PayloadTooLarge => "Payload too large",
            ErrorCode::UnsupportedMediaType => "Unsupported media type",
            ErrorCode::ValidationFailed => "Validation failed",
            ErrorCode::IdempotencyKeyReused => "Idempotency-Key reused with a different request",
            ErrorCode::RateLimited => "Rate limited",
            ErrorCode::Overloaded => "Server overloaded",
            ErrorCode::Internal => "Internal error",
        }
    }
}

/// One invalid field of a 422 `validation_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// RFC 9457 problem document, extended with `code`, `current` and `errors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub current: Option<Card>,
    /// The lane a lane write met (`/v1/lanes`): its current state on a version conflict, the
    /// existing one on `already_exists` or `lane_name_taken`, the tombstone on `gone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub current_lane: Option<Lane>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub errors: Option<Vec<FieldError>>,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Problem {
        Problem {
            type_: format!("https://deckhand.dev/problems/{}", code.as_str().replace('_', "-")),
            title: code.title().to_string(),
            status: code.status(),
            detail: detail.into(),
            code,
            current: None,
            current_lane: None,
            errors: None,
        }
    }

    pub fn with_current(mut self, card: Card) -> Problem {
        self.current = Some(card);
        self
    }

    pub fn with_current_lane(mut self, lane: Lane) -> Problem {
        self.current_lane = Some(lane);
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.errors = Some(errors);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_serialises_as_its_stable_name() {
        for code in [ErrorCode::VersionConflict, ErrorCode::IdempotencyKeyReused, ErrorCode::Overloaded] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        let p = Problem::new(ErrorCode::Gone, "deleted");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], "https://deckhand.dev/problems/gone");
        assert_eq!(v["status"], 410);
        assert!(v.get("current").is_none());
    }
}
