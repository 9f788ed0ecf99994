//! The Trash: cards deleted here or on another device that can still be restored. A card is in
//! the Trash when it has no local view and the server's copy is a tombstone, or its local delete
//! is still queued (the confirmed copy is live until the server answers).

use deckhand_protocol::Card;
use rusqlite::Connection;

use super::Result;

/// Forget the tombstones the server just purged ("empty trash"): confirmed tombstones without
/// queued ops (a restore or delete still queued keeps its card; its answer settles it).
/// Returns the ids dropped.
pub fn forget_tombstones(conn: &Connection) -> Result<Vec<uuid::Uuid>> {
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM confirmed c WHERE deleted = 1 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.card_id = c.id)")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let id: uuid::Uuid = id.parse().map_err(|e| crate::error::StoreError::Corrupt(format!("confirmed id {id:?}: {e}")))?;
        super::remote::remove_confirmed(conn, id)?;
        out.push(id);
    }
    super::history::add(conn, "trash.emptied", None, &format!("{} card(s) purged", out.len()))?;
    Ok(out)
}

/// Cards in the Trash, most recently deleted first. Each is the confirmed copy with
/// `deleted: true` (a delete still queued shows the fields it will keep).
pub fn list(conn: &Connection) -> Result<Vec<Card>> {
    let mut st = conn.prepare_cached(
        "SELECT c.card FROM confirmed c
         WHERE NOT EXISTS (SELECT 1 FROM cards l WHERE l.id = c.id)
           AND (c.deleted = 1 OR EXISTS (SELECT 1 FROM outbox o WHERE o.card_id = c.id AND o.kind = 'delete'))",
    )?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for s in rows {
        let mut card: Card = serde_json::from_str(&s?)?;
        card.deleted = true;
        out.push(card);
    }
    out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
    Ok(out)
}
