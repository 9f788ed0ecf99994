//! The change feed of one user: card changes and lane changes share the user's seq, so a page
//! (of `/v1/changes` or of an SSE replay) is the merge of both, cut where both are complete.

use deckhand_protocol::{Change, LaneChange};

use crate::storage::{Result, Storage, UserId};

pub struct FeedPage {
    pub cards: Vec<Change>,
    pub lanes: Vec<LaneChange>,
    pub more: bool,
    /// The highest seq the page covers (`since` when empty).
    pub next_since: i64,
}

/// Every change after `since`, both kinds, by seq: at most `limit` entries, the cards bounded by
/// `max_bytes` as in `Storage::changes_page`. Each kind is read as a prefix; the page keeps only
/// what lies at or below the point where both prefixes are complete, so `next_since` never
/// skips a change of the other kind.
pub fn page(s: &dyn Storage, user: UserId, since: i64, limit: u32, max_bytes: usize) -> Result<FeedPage> {
    let (mut cards, cards_more) = s.changes_page(user, since, limit, max_bytes)?;
    let (mut lanes, lanes_more) = s.lane_changes(user, since, limit)?;
    let mut cut = i64::MAX;
    if cards_more {
        cut = cut.min(cards.last().map_or(since, |c| c.seq));
    }
    if lanes_more {
        cut = cut.min(lanes.last().map_or(since, |l| l.seq));
    }
    // Together at most `limit`: the `limit` lowest seqs of both.
    let mut seqs: Vec<i64> = cards.iter().map(|c| c.seq).chain(lanes.iter().map(|l| l.seq)).filter(|s| *s <= cut).collect();
    seqs.sort_unstable();
    let mut more = cards_more || lanes_more;
    if seqs.len() > limit as usize {
        cut = seqs[limit as usize - 1];
        more = true;
    }
    cards.retain(|c| c.seq <= cut);
    lanes.retain(|l| l.seq <= cut);
    let next_since = cards.iter().map(|c| c.seq).chain(lanes.iter().map(|l| l.seq)).max().unwrap_or(since);
    Ok(FeedPage { cards, lanes, more, next_since })
}
