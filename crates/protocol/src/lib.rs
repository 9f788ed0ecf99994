//! Deckhand protocol v1: the single definition of what crosses the wire.
//!
//! Client (`deckhand-core`) and server (`deckhand-server`) both depend on this crate, so a
//! field renamed here is renamed everywhere; `docs/protocol.md` describes the same contract.

pub mod batch;
pub mod card;
pub mod changes;
pub mod lane;
pub mod limits;
pub mod link;
pub mod problem;
pub mod validate;

pub use batch::{BatchRequest, BatchResponse, BatchResult, BatchWrite};
pub use card::{Card, CardChanges, CardsPage, NewCard, PatchCard, RestoreCard, TrashEmptied, CardVersion, VersionsPage, DEFAULT_LANE};
pub use lane::{DEFAULT_LANES, LANE_DELETED_EVENT, LANE_UPDATED_EVENT, Lane, LaneChange, LaneChanges, LanesPage, NewLane, PatchLane, lane_key, validate_lane_changes, validate_new_lane};
pub use changes::{CONNECTED_EVENT, Change, ChangesPage, EventKind, StreamHello};
pub use link::{LinkMeta, LinkStatus};
pub use problem::{ErrorCode, FieldError, Problem, PROBLEM_CONTENT_TYPE};
pub use validate::{card_fits, encoded_len, validate_changes, validate_new_card};

/// HTTP header names used by the protocol.
pub mod headers {
    pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
    pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
    pub const REQUEST_ID: &str = "x-request-id";
    pub const LAST_EVENT_ID: &str = "last-event-id";
    pub const RETRY_AFTER: &str = "retry-after";
}

/// Route prefix of protocol v1.
pub const API_PREFIX: &str = "/v1";
