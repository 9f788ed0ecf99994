//! Link cards: the metadata of a card's URL (fetched in the background, stored with the card and
//! synced) and URL normalisation for duplicate detection.

mod fetch;
mod html;
mod normalize;

pub use fetch::{FetchLimits, LinkError, LinkFetcher};
pub use html::{PageMeta, decode, parse};
pub use normalize::normalize_url;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::CardView;

/// Answer of `Engine::create_checked`: the new card, or the existing card with the same URL
/// (normalised) and nothing created — the face offers "open existing" / "add anyway".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[ts(export)]
pub enum CreateOutcome {
    Created { card: CardView },
    Duplicate { existing: CardView },
}

/// What a bulk metadata refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RefreshSummary {
    /// Cards whose metadata was stored (each counted once more as ok, broken or failed).
    pub refreshed: u32,
    pub ok: u32,
    pub broken: u32,
    pub failed: u32,
    /// Cards deleted or whose URL changed while their page loaded.
    pub skipped: u32,
}
