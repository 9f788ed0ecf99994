use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Card, LaneChange};

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
    /// The server database's identity (see `ServerEpoch`). A client that stored another epoch,
    /// or whose `since` is beyond `last_seq`, is talking to a restored or reset server and must
    /// resync from 0.
    pub epoch: String,
    /// The caller's latest seq on this server when the page was read.
    #[ts(type = "number")]
    pub last_seq: i64,
    /// The purge horizon: the highest seq of a tombstone the server has purged (Trash retention
    /// or "empty trash"; 0 = none). A client whose cursor is below it may have missed a delete
    /// that no longer appears in the feed, and must resync from 0 (docs/protocol.md, "Trash").
    #[serde(default)]
    #[ts(type = "number")]
    pub purged_seq: i64,
    /// Lane changes after `since`, in the same seq space as `changes` (a page covers every seq up
    /// to `next_since` of both). Absent from old servers; old clients ignore it.
    #[serde(default)]
    pub lanes: Vec<LaneChange>,
}

/// SSE `event:` name of the first event of every `GET /v1/events` stream.
pub const CONNECTED_EVENT: &str = "connected";

/// `data:` of the stream's `connected` event: who the client is talking to and how often the
/// stream proves it is alive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct StreamHello {
    /// The server database's identity: made at random when the database is created and again
    /// by `deckhand-server reset-epoch` after a restore. Travels with every change page too.
    pub epoch: String,
    /// The caller's latest seq on this server when the stream opened.
    #[ts(type = "number")]
    pub last_seq: i64,
    /// Milliseconds between the stream's heartbeats (a client's watchdog waits a few of these).
    #[ts(type = "number")]
    pub heartbeat_ms: u64,
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
