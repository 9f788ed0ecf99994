use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::link::LinkMeta;

pub const DEFAULT_LANE: &str = "inbox";

/// A card as the server stores it. Tombstones (`deleted: true`) keep their last field values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct Card {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub lane: String,
    pub position: f64,
    pub pinned: bool,
    /// Server-assigned: 1 on create, +1 on every change.
    #[ts(type = "number")]
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted: bool,
    /// What the card's URL answered when a device last fetched it (absent: never fetched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub link_meta: Option<LinkMeta>,
}

/// Body of `POST /v1/cards`: the card fields without version or timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct NewCard {
    pub id: Uuid,
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 100000)]
    pub body: String,
    #[serde(default)]
    #[schema(max_length = 2048, pattern = r"^https?://[^\s/?#]+")]
    pub url: Option<String>,
    #[serde(default)]
    #[schema(schema_with = tags_schema)]
    pub tags: Vec<String>,
    #[serde(default = "default_lane")]
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub lane: String,
    #[serde(default)]
    pub position: f64,
    #[serde(default)]
    pub pinned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub link_meta: Option<LinkMeta>,
}

/// OpenAPI schema of `tags`: <= 32 distinct strings of 1..=64 characters (utoipa's field
/// attributes cannot reach the items of a `Vec<String>`).
fn tags_schema() -> utoipa::openapi::schema::Array {
    tags_array().build()
}

fn tags_array() -> utoipa::openapi::schema::ArrayBuilder {
    use crate::limits::{TAG_MAX_CHARS, TAGS_MAX};
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(TAG_MAX_CHARS)))
        .max_items(Some(TAGS_MAX))
        .unique_items(true)
}

fn default_lane() -> String {
    DEFAULT_LANE.to_string()
}

/// Any subset of the editable fields. `url: null` clears the link; an absent `url` leaves it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct CardChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false, min_length = 1, max_length = 500, pattern = r"\S")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false, max_length = 100000)]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable, max_length = 2048, pattern = r"^https?://[^\s/?#]+")]
    #[ts(optional, type = "string | null")]
    pub url: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(schema_with = tags_schema)]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false, min_length = 1, max_length = 64, pattern = r"\S")]
    pub lane: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub position: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub pinned: Option<bool>,
    /// Link metadata as a whole (never merged field by field); `null` clears it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<LinkMeta>, nullable)]
    #[ts(optional, as = "Option<Option<LinkMeta>>")]
    pub link_meta: Option<Option<LinkMeta>>,
}

/// Distinguishes a present `null` (`Some(None)`) from an absent field (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl CardChanges {
    pub fn is_empty(&self) -> bool {
        self == &CardChanges::default()
    }

    /// Apply these changes to a card's fields (no version or timestamp bookkeeping).
    pub fn apply_to(&self, card: &mut Card) {
        if let Some(v) = &self.title {
            card.title = v.clone();
        }
        if let Some(v) = &self.body {
            card.body = v.clone();
        }
        if let Some(v) = &self.url {
            card.url = v.clone();
        }
        if let Some(v) = &self.tags {
            card.tags = v.clone();
        }
        if let Some(v) = &self.lane {
            card.lane = v.clone();
        }
        if let Some(v) = self.position {
            card.position = v;
        }
        if let Some(v) = self.pinned {
            card.pinned = v;
        }
        if let Some(v) = &self.link_meta {
            card.link_meta = v.clone();
        }
    }

    /// Merge `later` on top of `self` (later wins field by field): used to coalesce queued edits.
    pub fn merged_with(&self, later: &CardChanges) -> CardChanges {
        CardChanges {
            title: later.title.clone().or_else(|| self.title.clone()),
            body: later.body.clone().or_else(|| self.body.clone()),
            url: later.url.clone().or_else(|| self.url.clone()),
            tags: later.tags.clone().or_else(|| self.tags.clone()),
            lane: later.lane.clone().or_else(|| self.lane.clone()),
            position: later.position.or(self.position),
            pinned: later.pinned.or(self.pinned),
            link_meta: later.link_meta.clone().or_else(|| self.link_meta.clone()),
        }
    }

    /// Names of the fields this change touches, in protocol order.
    pub fn field_names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.title.is_some() {
            out.push("title");
        }
        if self.body.is_some() {
            out.push("body");
        }
        if self.url.is_some() {
            out.push("url");
        }
        if self.tags.is_some() {
            out.push("tags");
        }
        if self.lane.is_some() {
            out.push("lane");
        }
        if self.position.is_some() {
            out.push("position");
        }
        if self.pinned.is_some() {
            out.push("pinned");
        }
        if self.link_meta.is_some() {
            out.push("link_meta");
        }
        out
    }
}

impl NewCard {
    /// The creation body that reproduces `card`'s current field values.
    pub fn from_card(card: &Card) -> NewCard {
        NewCard {
            id: card.id,
            title: card.title.clone(),
            body: card.body.clone(),
            url: card.url.clone(),
            tags: card.tags.clone(),
            lane: card.lane.clone(),
            position: card.position,
            pinned: card.pinned,
            link_meta: card.link_meta.clone(),
        }
    }
}

impl Card {
    /// True when every user-editable field equals `other`'s (ignores version, timestamps, deleted).
    pub fn same_fields(&self, other: &Card) -> bool {
        self.title == other.title
            && self.body == other.body
            && self.url == other.url
            && self.tags == other.tags
            && self.lane == other.lane
            && self.position == other.position
            && self.pinned == other.pinned
            && self.link_meta == other.link_meta
    }
}

/// Body of `PATCH /v1/cards/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PatchCard {
    #[ts(type = "number")]
    pub base_version: i64,
    pub changes: CardChanges,
}

/// Body of `POST /v1/cards/{id}/restore`: the tombstone's version, so a restore never revives a
/// card someone changed (or restored and deleted again) since the caller looked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreCard {
    pub base_version: i64,
}

/// One stored version of a card (`GET /v1/cards/{id}/versions`): the card as it was at
/// `card.version` (fields, `updated_at` = when it was written, `deleted` for the tombstone) and
/// which token wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct CardVersion {
    pub card: Card,
    /// A short, stable id of the token that wrote it (the first 16 hex digits of its SHA-256);
    /// `null` for versions written before the server kept history.
    pub writer: Option<String>,
}

/// Response of `GET /v1/cards/{id}/versions`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionsPage {
    pub items: Vec<CardVersion>,
    pub next_cursor: Option<String>,
}

/// Response of `DELETE /v1/trash` ("empty trash").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrashEmptied {
    /// Tombstones purged for good.
    pub purged: u64,
}

/// Response of `GET /v1/cards`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct CardsPage {
    pub items: Vec<Card>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_null_differs_from_absent() {
        let absent: CardChanges = serde_json::from_str(r#"{"title":"x"}"#).unwrap();
        assert_eq!(absent.url, None);
        let null: CardChanges = serde_json::from_str(r#"{"url":null}"#).unwrap();
        assert_eq!(null.url, Some(None));
        assert_eq!(serde_json::to_string(&null).unwrap(), r#"{"url":null}"#);
    }

    #[test]
    fn new_card_defaults() {
        let c: NewCard =
            serde_json::from_str(r#"{"id":"0190b1b0-0000-7000-8000-000000000000","title":"t"}"#).unwrap();
        assert_eq!(c.lane, "inbox");
        assert_eq!(c.position, 0.0);
        assert!(c.tags.is_empty() && c.url.is_none() && !c.pinned);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<CardChanges>(r#"{"colour":"red"}"#).is_err());
    }

    #[test]
    fn later_changes_win_when_merged() {
        let a = CardChanges { title: Some("a".into()), pinned: Some(true), ..Default::default() };
        let b = CardChanges { title: Some("b".into()), url: Some(None), ..Default::default() };
        let m = a.merged_with(&b);
        assert_eq!(m.title.as_deref(), Some("b"));
        assert_eq!(m.pinned, Some(true));
        assert_eq!(m.url, Some(None));
    }
}
