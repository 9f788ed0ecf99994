//! Field and request limits of protocol v1. Server enforces them; the client checks them
//! before queueing so a bad edit is refused at once instead of failing later in the outbox.

pub const TITLE_MAX_CHARS: usize = 500;
pub const BODY_MAX_CHARS: usize = 100_000;
pub const TAGS_MAX: usize = 32;
pub const TAG_MAX_CHARS: usize = 64;
pub const LANE_MAX_CHARS: usize = 64;
pub const URL_MAX_CHARS: usize = 2_048;
/// Largest accepted request body; larger answers 413 `payload_too_large`.
pub const REQUEST_BODY_MAX_BYTES: usize = 256 * 1024;
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
/// Page size bounds for `GET /v1/cards` and `GET /v1/changes`.
pub const PAGE_DEFAULT: u32 = 100;
pub const PAGE_MAX: u32 = 1_000;
