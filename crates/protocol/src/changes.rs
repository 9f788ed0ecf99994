use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::Card;

/// One entry of the per-user change feed. `seq` strictly increases per user; every write gets one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct Change {
    #[ts(type = "number")]
    pub seq: i64,
    pub card: Card,
}

/// Response of `GET /v1/changes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    #[ts(type = "number")]
    pub next_since: i64,
    pub has_more: bool,
}

/// SSE `event:` names on `GET /v1/events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub enum EventKind {
    #[serde(rename = "card.created")]
    Created,
    #[serde(rename = "card.updated")]
    Updated,
    #[serde(rename = "card.deleted")]
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "card.created",
            EventKind::Updated => "card.updated",
            EventKind::Deleted => "card.deleted",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "card.created" => Some(EventKind::Created),
            "card.updated" => Some(EventKind::Updated),
            "card.deleted" => Some(EventKind::Deleted),
            _ => None,
        }
    }

    /// The event a stored card version stands for.
    pub fn for_card(card: &Card) -> EventKind {
        if card.deleted {
            EventKind::Deleted
        } else if card.version == 1 {
            EventKind::Created
        } else {
            EventKind::Updated
        }
    }
}
