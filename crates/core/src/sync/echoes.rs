//! The event stream's echo of a create this engine has in flight carries nothing new: the send's
//! own answer brings the same card. Such echoes are held in memory while the send runs and applied
//! together when it ends (one transaction per request instead of one per event; during a large
//! drain that was a third of the engine's commits). Held echoes are applied whatever the send's
//! outcome, so a failed send still learns that the card exists; and the stored cursor never moves
//! past a held echo, so after a crash the stream replays it.

use deckhand_protocol::{Card, EventKind};
use uuid::Uuid;

use super::SharedRef;
use super::pull;

/// Hold `card` if it is the echo of a create in flight. Returns it back otherwise.
pub(crate) fn hold(sh: &SharedRef, kind: EventKind, card: Card, seq: Option<i64>) -> Option<(Card, Option<i64>)> {
    let mut rt = sh.rt();
    if kind == EventKind::Created && card.version == 1 && !card.deleted && rt.creates_in_flight.contains(&card.id) {
        rt.held_echoes.insert(card.id, (card, seq));
        return None;
    }
    Some((card, seq))
}

/// Apply remote cards without moving the stored cursor past any echo still held, nor past an
/// event that failed to apply (the stream replays it after its reconnect).
pub(crate) async fn apply(sh: &SharedRef, cards: Vec<(Card, Option<i64>)>) -> Result<usize, String> {
    let top = cards.iter().filter_map(|(_, s)| *s).max();
    let floor = {
        let rt = sh.rt();
        let oldest_held = rt.held_echoes.values().filter_map(|(_, s)| *s).min();
        oldest_held.into_iter().chain(rt.apply_failed_at).min()
    };
    match (top, floor) {
        (Some(top), Some(floor)) => {
            let cards = cards.into_iter().map(|(c, _)| (c, None)).collect();
            pull::apply_cards(sh, cards, Some(top.min(floor - 1))).await
        }
        _ => pull::apply_cards(sh, cards, None).await,
    }
}

/// Events (stream or held echoes) up to `seqs` could not be applied: keep the cursor below the
/// lowest and make the stream reconnect, so it replays them from the last cursor really applied.
pub(crate) fn failed(sh: &SharedRef, seqs: impl IntoIterator<Item = Option<i64>>, error: &str) {
    let lowest = seqs.into_iter().flatten().min();
    {
        let mut rt = sh.rt();
        rt.apply_failed_at = match (rt.apply_failed_at, lowest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    tracing::error!(error, seq = ?lowest, "could not apply remote change; the stream replays it after reconnecting");
    sh.history("stream.apply_failed", &format!("seq {lowest:?}: {error}"));
    sh.wake_stream.notify_one();
}

/// A send of these cards ended: they are no longer in flight, and their held echoes apply now.
pub(crate) async fn release(sh: &SharedRef, cards: &[Uuid]) {
    let held: Vec<(Card, Option<i64>)> = {
        let mut rt = sh.rt();
        cards
            .iter()
            .filter_map(|id| {
                rt.creates_in_flight.remove(id);
                rt.held_echoes.remove(id)
            })
            .collect()
    };
    if !held.is_empty() {
        let seqs: Vec<Option<i64>> = held.iter().map(|(_, s)| *s).collect();
        if let Err(e) = apply(sh, held).await {
            failed(sh, seqs, &e);
        }
    }
}
