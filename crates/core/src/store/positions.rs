//! Where a moved card lands in its lane. The protocol's `position` stays an f64; a lane is ordered
//! by (position, id) everywhere, so equal positions from two devices show the same order on both.
//! A move between two neighbours normally takes their midpoint. When the gap is too small for a
//! distinct f64 midpoint (about 50 inserts at one spot) or the neighbours collide, the lane is
//! rebalanced: its cards get the positions 1.0, 2.0, … in their current order with the moved card
//! in place. Each changed position is an ordinary queued update in the move's transaction (low
//! priority), so a rebalance syncs and merges like any other move.

use deckhand_protocol::CardChanges;
use rusqlite::Connection;
use uuid::Uuid;

use super::Result;
use super::cards::parse_uuid;
use super::writes::{self, Updated};
use crate::model::Priority;

/// What `move_between` did.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The moved card's update (its view, whether it changed, a conflict it folded into).
    pub updated: Updated,
    /// Other cards of the lane whose position a rebalance changed.
    pub rebalanced: Vec<Uuid>,
}

/// The lane's cards in display order, (id, position).
pub fn lane_order(conn: &Connection, lane: &str) -> Result<Vec<(Uuid, f64)>> {
    let mut st = conn.prepare_cached("SELECT id, position FROM cards WHERE lane = ?1 COLLATE NOCASE ORDER BY position, id")?;
    let rows = st.query_map([lane], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(|(id, p)| Ok((parse_uuid(&id)?, p))).collect()
}

/// A position strictly between `prev` and `next` (either may be absent), or None when f64 has
/// none to give (adjacent floats, a collision, or a position too large to step past).
pub fn slot(prev: Option<f64>, next: Option<f64>) -> Option<f64> {
    let p = match (prev, next) {
        (Some(a), Some(b)) => a + (b - a) / 2.0,
        (Some(a), None) => a.floor() + 1.0,
        (None, Some(b)) => b.ceil() - 1.0,
        (None, None) => 1.0,
    };
    let fits = p.is_finite() && prev.is_none_or(|a| a < p) && next.is_none_or(|b| p < b);
    fits.then_some(p)
}

/// Move card `id` into `lane` directly after `before` (the card that will precede it) or, when
/// `before` is None or not in the lane, directly before `after` (the card that will follow it);
/// with neither, to the end of the lane. The neighbours are re-read here, so a stale pair from
/// the UI still lands the card next to the card the user pointed at.
pub fn move_between(conn: &Connection, id: Uuid, lane: &str, before: Option<Uuid>, after: Option<Uuid>) -> Result<Placed> {
    let order = lane_order(conn, lane)?;
    let current = order.iter().find(|(c, _)| *c == id).map(|(_, p)| *p);
    let others: Vec<(Uuid, f64)> = order.into_iter().filter(|(c, _)| *c != id).collect();
    let index_of = |n: Option<Uuid>| n.and_then(|n| others.iter().position(|(c, _)| *c == n));
    let at = match (index_of(before), index_of(after)) {
        (Some(i), _) => i + 1,
        (None, Some(i)) => i,
        (None, None) => others.len(),
    };
    let prev = at.checked_sub(1).map(|i| others[i].1);
    let next = others.get(at).map(|(_, p)| *p);
    // Already in that spot with a position that fits: nothing to change, nothing to sync.
    let fits_now = current.filter(|&p| prev.is_none_or(|a| a < p) && next.is_none_or(|b| p < b));
    let mut rebalanced = Vec::new();
    let position = match fits_now.or_else(|| slot(prev, next)) {
        Some(p) => p,
        None => {
            let _span = tracing::info_span!("rebalance", card = %id, lane, cards = others.len() + 1).entered();
            for (i, (other, old)) in others.iter().enumerate() {
                // The moved card takes slot `at`; the cards from there on shift one down.
                let new = (if i < at { i + 1 } else { i + 2 }) as f64;
                if *old != new {
                    let changes = CardChanges { position: Some(new), ..Default::default() };
                    if writes::update(conn, *other, &changes, Priority::Low)? {
                        rebalanced.push(*other);
                    }
                }
            }
            tracing::info!(changed = rebalanced.len(), "lane rebalanced: no distinct position between the neighbours");
            (at + 1) as f64
        }
    };
    let changes = CardChanges { lane: Some(lane.to_string()), position: Some(position), ..Default::default() };
    let updated = writes::update_view(conn, id, &changes, None, Priority::Normal)?;
    Ok(Placed { updated, rebalanced })
}
