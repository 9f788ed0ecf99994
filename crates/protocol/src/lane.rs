//! Lanes as synced records: a lane has an id, a name and a position, versioned like a card and
//! riding the same per-user change feed. Cards still name their lane (`Card::lane`), so a lane is
//! found by its name, compared case-insensitively (`lane_key`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::FieldError;
use crate::limits::LANE_MAX_CHARS;

/// A lane as the server stores it. Tombstones (`deleted: true`) keep their last name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct Lane {
    pub id: Uuid,
    pub name: String,
    /// Board order: lanes sort by (position, id), the scheme cards use inside a lane.
    pub position: f64,
    /// Server-assigned: 1 on create, +1 on every change.
    #[ts(type = "number")]
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub deleted: bool,
}

/// Body of `POST /v1/lanes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct NewLane {
    pub id: Uuid,
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub position: f64,
}

/// A rename, a move, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct LaneChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false, min_length = 1, max_length = 64, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub position: Option<f64>,
}

impl LaneChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.position.is_none()
    }

    pub fn apply_to(&self, lane: &mut Lane) {
        if let Some(n) = &self.name {
            lane.name = n.clone();
        }
        if let Some(p) = self.position {
            lane.position = p;
        }
    }

    /// Later wins field by field (coalescing queued lane edits).
    pub fn merged_with(&self, later: &LaneChanges) -> LaneChanges {
        LaneChanges { name: later.name.clone().or_else(|| self.name.clone()), position: later.position.or(self.position) }
    }
}

/// Body of `PATCH /v1/lanes/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PatchLane {
    #[ts(type = "number")]
    pub base_version: i64,
    pub changes: LaneChanges,
}

/// Response of `GET /v1/lanes`: the caller's live lanes in board order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct LanesPage {
    pub items: Vec<Lane>,
}

/// One lane entry of the change feed (`ChangesPage::lanes`): same `seq` space as cards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct LaneChange {
    #[ts(type = "number")]
    pub seq: i64,
    pub lane: Lane,
}

/// SSE `event:` names of lane changes.
pub const LANE_UPDATED_EVENT: &str = "lane.updated";
pub const LANE_DELETED_EVENT: &str = "lane.deleted";

impl Lane {
    pub fn event_name(&self) -> &'static str {
        if self.deleted { LANE_DELETED_EVENT } else { LANE_UPDATED_EVENT }
    }
}

/// What names compare by: trimmed, lower-cased. "Inbox", "inbox" and " INBOX" are one lane.
pub fn lane_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The first-run lanes, with ids fixed for every user and device: two devices doing first run
/// offline both create the same three ids, and the second create of each is answered
/// `already_exists` with the first (no duplicate lanes after sync). "Inbox" is the lane cards
/// get by default (`DEFAULT_LANE`, compared case-insensitively).
pub const DEFAULT_LANES: [(Uuid, &str, f64); 3] = [
    (Uuid::from_u128(0x00000000_0000_7000_8000_000000000001), "Inbox", 1.0),
    (Uuid::from_u128(0x00000000_0000_7000_8000_000000000002), "Doing", 2.0),
    (Uuid::from_u128(0x00000000_0000_7000_8000_000000000003), "Done", 3.0),
];

fn check_name(name: &str, out: &mut Vec<FieldError>, field: &str) {
    let n = name.chars().count();
    if name.trim().is_empty() || n > LANE_MAX_CHARS {
        out.push(FieldError { field: field.into(), message: format!("must be 1 to {LANE_MAX_CHARS} characters, not blank") });
    }
}

fn check_position(p: f64, out: &mut Vec<FieldError>, field: &str) {
    if !p.is_finite() {
        out.push(FieldError { field: field.into(), message: "must be a finite number".into() });
    }
}

pub fn validate_new_lane(l: &NewLane) -> Result<(), Vec<FieldError>> {
    let mut out = Vec::new();
    check_name(&l.name, &mut out, "name");
    check_position(l.position, &mut out, "position");
    if out.is_empty() { Ok(()) } else { Err(out) }
}

pub fn validate_lane_changes(c: &LaneChanges) -> Result<(), Vec<FieldError>> {
    let mut out = Vec::new();
    if c.is_empty() {
        out.push(FieldError { field: "changes".into(), message: "must change at least one field".into() });
    }
    if let Some(n) = &c.name {
        check_name(n, &mut out, "changes.name");
    }
    if let Some(p) = c.position {
        check_position(p, &mut out, "changes.position");
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_edges() {
        assert_eq!(lane_key(" Inbox "), lane_key("INBOX"));
        assert_eq!(lane_key("Inbox"), lane_key(crate::DEFAULT_LANE));
        assert_ne!(lane_key("Doing"), lane_key("Done"));
    }

    #[test]
    fn validation_names_the_fields() {
        let bad = LaneChanges { name: Some(" ".into()), position: Some(f64::NAN) };
        let fields: Vec<_> = validate_lane_changes(&bad).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["changes.name", "changes.position"]);
        assert!(validate_lane_changes(&LaneChanges::default()).is_err());
        assert!(validate_new_lane(&NewLane { id: Uuid::nil(), name: "x".repeat(65), position: 0.0 }).is_err());
    }
}
