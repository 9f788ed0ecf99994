//! Writing parsed items into the store: each card a normal create (local row + outbox op, synced
//! like any other), a chunk of them per transaction. An item whose id this store already knows —
//! a live card, a confirmed copy or tombstone, or a queued op — is left alone: that is what makes
//! a second import of the same file create nothing.

use deckhand_protocol::{NewCard, validate_new_card};
use rusqlite::Connection;
use uuid::Uuid;

use super::{Item, TransferError};
use crate::model::Priority;
use crate::store::{Result, cards, outbox, remote, writes};

/// Cards per transaction: big enough to import 10,000 bookmarks in a few commits, small enough
/// that a user's own write never waits long behind one.
pub const CHUNK: usize = 500;

fn new_card(item: &Item, position: f64) -> NewCard {
    NewCard {
        id: item.id,
        title: item.title.clone(),
        body: item.body.clone(),
        url: item.url.clone(),
        tags: item.tags.clone(),
        lane: item.lane.clone(),
        position,
        pinned: item.pinned,
        // Fetched again on the importing device (exports do not carry another device's fetch).
        link_meta: None,
    }
}

/// The checks every create makes, up front: an import either validates whole or writes nothing.
pub fn validate(item: &Item) -> std::result::Result<(), TransferError> {
    validate_new_card(&new_card(item, item.position.unwrap_or(0.0)))
        .map_err(|errors| TransferError::Invalid { item: item.label.clone(), errors })
}

/// Whether this store knows card `id` in any form (so an import must not create it again).
fn known(conn: &Connection, id: Uuid) -> Result<bool> {
    Ok(cards::exists(conn, id)? || remote::confirmed(conn, id)?.is_some() || !outbox::for_card(conn, id)?.is_empty())
}

/// Write one chunk in the caller's transaction. Returns the ids created and how many items were
/// already there.
pub fn chunk(conn: &Connection, items: &[Item]) -> Result<(Vec<Uuid>, u32)> {
    let (mut created, mut existing) = (Vec::new(), 0);
    for item in items {
        if known(conn, item.id)? {
            existing += 1;
            continue;
        }
        let position = match item.position {
            Some(p) => p,
            None => cards::next_position(conn, &item.lane)?,
        };
        // Low priority, like a bulk action: the user's own edits go out first.
        writes::create_card(conn, new_card(item, position), Priority::Low)?;
        created.push(item.id);
    }
    Ok((created, existing))
}
