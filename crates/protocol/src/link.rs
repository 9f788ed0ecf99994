//! Link metadata: what a card's URL answered when a device last fetched it. Stored with the card
//! (one field, `link_meta`) so other devices show it without fetching the page themselves.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Longest stored title / description / site name (characters); longer page values are cut.
pub const LINK_TITLE_MAX_CHARS: usize = 500;
pub const LINK_DESCRIPTION_MAX_CHARS: usize = 1_000;
pub const LINK_SITE_MAX_CHARS: usize = 200;
/// Largest icon kept, as raw bytes before base64 (the data URI is about 4/3 of this).
pub const LINK_ICON_MAX_BYTES: usize = 64 * 1024;
/// Longest accepted icon data URI: base64 of `LINK_ICON_MAX_BYTES` plus room for the prefix.
pub const LINK_ICON_URI_MAX_CHARS: usize = 88_000;
pub const LINK_ERROR_MAX_CHARS: usize = 1_000;
pub const LINK_ERROR_CODE_MAX_CHARS: usize = 64;

/// Outcome of the last fetch of a card's URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum LinkStatus {
    /// The page answered with HTML; the fields are what it said about itself.
    Ok,
    /// The URL no longer answers: an HTTP error status (4xx/5xx), an unknown host or a refused
    /// connection. Listed by the "broken links" view.
    Broken,
    /// The URL answered but gave no metadata within the limits (timeout, redirect loop, not
    /// HTML): not necessarily broken, so not listed as broken.
    Failed,
}

/// Metadata of a card's URL. `icon` is a `data:` URI only (the app's CSP allows no remote image).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, TS)]
#[ts(export)]
pub struct LinkMeta {
    pub status: LinkStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(max_length = 500)]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(max_length = 200)]
    pub site_name: Option<String>,
    /// `data:image/...;base64,...`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(pattern = "^data:image/", max_length = 88000)]
    pub icon: Option<String>,
    /// The HTTP status of the last answer, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(minimum = 0, maximum = 65535)]
    pub http_status: Option<u16>,
    /// Why the fetch failed (`timeout`, `too_many_redirects`, `not_html`, `http_status`,
    /// `connect`, ...), with `error` the human message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(max_length = 64)]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(max_length = 1000)]
    pub error: Option<String>,
    /// The URL this metadata is for (a later URL change makes it stale).
    #[schema(max_length = 2048)]
    pub url: String,
    pub fetched_at: DateTime<Utc>,
}
