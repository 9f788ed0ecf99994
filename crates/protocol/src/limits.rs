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
/// A card "fits" when its JSON encoding (as a create body) is at most this many bytes: the one
/// definition shared by client validation, merge output and the server, so that anything accepted
/// locally can always be sent (a PATCH carries a subset of the card's fields, a create all of
/// them, plus a few bytes of framing well inside the remaining margin).
pub const CARD_MAX_ENCODED_BYTES: usize = REQUEST_BODY_MAX_BYTES - 1024;
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
/// Writes in one `POST /v1/batch`, and the batch body's size (each write's own body still obeys
/// `REQUEST_BODY_MAX_BYTES`).
pub const BATCH_MAX_WRITES: usize = 100;
pub const BATCH_BODY_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Page size bounds for `GET /v1/cards` and `GET /v1/changes`.
pub const PAGE_DEFAULT: u32 = 100;
pub const PAGE_MAX: u32 = 1_000;
/// A page of `GET /v1/cards` or `GET /v1/changes` (and a database page of an SSE replay) ends
/// early once its cards add up to about this many bytes of JSON, whatever `limit` says: a page of
/// 1,000 maximal cards would otherwise be ~250 MiB built in memory per request. Clients page by
/// `next_cursor` / `has_more`, never by counting items.
pub const PAGE_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Live lanes per user (a create past it answers `422`).
pub const LANES_MAX: usize = 200;
