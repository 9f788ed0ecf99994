//! Deckhand JSON: every field of every card, ids included, so export → import into an empty
//! store → export gives the same bytes. Timestamps are not carried: the server stamps its own
//! when an imported card syncs, so they would not survive the round trip anyway.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Item, Parsed, TransferError};
use crate::model::CardView;

pub const FORMAT: &str = "deckhand";
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Doc<C> {
    format: String,
    version: u32,
    cards: Vec<C>,
}

#[derive(Serialize, Deserialize)]
struct JsonCard {
    id: Uuid,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default = "default_lane")]
    lane: String,
    #[serde(default)]
    position: Option<f64>,
    #[serde(default)]
    pinned: bool,
}

fn default_lane() -> String {
    deckhand_protocol::DEFAULT_LANE.into()
}

pub fn export(cards: &[CardView]) -> Vec<u8> {
    let cards = cards
        .iter()
        .map(|c| JsonCard {
            id: c.id,
            title: c.title.clone(),
            body: c.body.clone(),
            url: c.url.clone(),
            tags: c.tags.clone(),
            lane: c.lane.clone(),
            position: Some(c.position),
            pinned: c.pinned,
        })
        .collect();
    let mut out = serde_json::to_vec_pretty(&Doc { format: FORMAT.into(), version: VERSION, cards }).expect("cards serialise");
    out.push(b'\n');
    out
}

pub fn parse(text: &str) -> Result<Parsed, TransferError> {
    let malformed = |item: String, e: serde_json::Error| TransferError::Malformed { item, message: e.to_string() };
    let doc: Doc<serde_json::Value> = serde_json::from_str(text).map_err(|e| malformed(format!("line {}", e.line()), e))?;
    if doc.format != FORMAT {
        return Err(TransferError::Malformed { item: "format".into(), message: format!("{:?} is not a Deckhand export", doc.format) });
    }
    if doc.version != VERSION {
        return Err(TransferError::Malformed { item: "version".into(), message: format!("version {} is not known to this build (newer app?)", doc.version) });
    }
    let mut items = Vec::with_capacity(doc.cards.len());
    for (i, v) in doc.cards.into_iter().enumerate() {
        let label = format!("cards[{i}]");
        let c: JsonCard = serde_json::from_value(v).map_err(|e| malformed(label.clone(), e))?;
        // The card's own id is its stable key: a re-import (or an import on a device that
        // already synced the card) finds it.
        items.push(Item { id: c.id, label, title: c.title, body: c.body, url: c.url, tags: c.tags, lane: c.lane, position: c.position, pinned: c.pinned });
    }
    Ok(Parsed { items, ..Default::default() })
}
