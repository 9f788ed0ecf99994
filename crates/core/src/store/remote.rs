//! Server-confirmed copies (`confirmed`), rebasing the local view on them, and applying remote
//! changes from the change feed or the event stream.

use chrono::Utc;
use deckhand_protocol::Card;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::Result;
use super::cards::{self, LocalCard};
use super::outbox::{self, OpPayload};
use super::sync_state;
use crate::model::{CardFields, ConflictRecord, OpState};

/// Earlier confirmed copies kept per card (`confirmed_versions`), so an edit made on an older copy
/// (an editor left open while a remote change landed) still has its base.
const VERSIONS_KEPT: i64 = 32;

pub fn confirmed(conn: &Connection, id: Uuid) -> Result<Option<Card>> {
    let mut st = conn.prepare_cached("SELECT card FROM confirmed WHERE id = ?1")?;
    let s: Option<String> = st.query_row([id.to_string()], |r| r.get(0)).optional()?;
    Ok(s.map(|s| serde_json::from_str(&s)).transpose()?)
}

/// The confirmed copy's version, if it is live (no JSON parsed: an edit needs only this).
pub fn live_version(conn: &Connection, id: Uuid) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT version FROM confirmed WHERE id = ?1 AND deleted = 0")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?)
}

/// Store `card` as confirmed unless a copy at the same or a newer version is already there (a
/// tombstone wins a tie). Since a restore revives a tombstone at a higher version, an older
/// tombstone (a stale event) never overrides a restored card.
/// Returns whether it was stored.
pub fn put_confirmed(conn: &Connection, card: &Card) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO confirmed(id, version, deleted, card) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, card = excluded.card
             WHERE excluded.version > confirmed.version
                OR (excluded.deleted AND NOT confirmed.deleted AND excluded.version >= confirmed.version)",
        )?
        .execute(params![card.id.to_string(), card.version, card.deleted, serde_json::to_string(card)?])?;
    if n > 0 && !card.deleted {
        conn.prepare_cached("INSERT OR REPLACE INTO confirmed_versions(id, version, card) VALUES (?1, ?2, ?3)")?
            .execute(params![card.id.to_string(), card.version, serde_json::to_string(&CardFields::from_card(card))?])?;
        conn.prepare_cached("DELETE FROM confirmed_versions WHERE id = ?1 AND version <= ?2")?
            .execute(params![card.id.to_string(), card.version - VERSIONS_KEPT])?;
    }
    Ok(n > 0)
}

/// The card's fields as confirmed at `version`, if that copy is still kept.
pub fn confirmed_fields_at(conn: &Connection, id: Uuid, version: i64) -> Result<Option<CardFields>> {
    let s: Option<String> = conn
        .prepare_cached("SELECT card FROM confirmed_versions WHERE id = ?1 AND version = ?2")?
        .query_row(params![id.to_string(), version], |r| r.get(0))
        .optional()?;
    Ok(s.map(|s| serde_json::from_str(&s)).transpose()?)
}

pub fn remove_confirmed(conn: &Connection, id: Uuid) -> Result<()> {
    conn.prepare_cached("DELETE FROM confirmed WHERE id = ?1")?.execute([id.to_string()])?;
    conn.prepare_cached("DELETE FROM confirmed_versions WHERE id = ?1")?.execute([id.to_string()])?;
    Ok(())
}

/// The local fields the card would show: confirmed copy + the card's ops replayed in order.
/// `None` = the card is not visible (never confirmed and no create, or deleted).
pub fn replayed_fields(conf: Option<&Card>, ops: &[outbox::Op]) -> Option<CardFields> {
    let in_conflict = ops.iter().any(|o| o.state == OpState::Conflict);
    // A card deleted remotely while it has conflicting local edits keeps showing those edits.
    let mut f = conf.filter(|c| !c.deleted || in_conflict).map(CardFields::from_card);
    for op in ops {
        match &op.payload {
            OpPayload::Create(n) => f = Some(CardFields::from_new_card(n)),
            OpPayload::Update(ch) => {
                if let Some(f) = f.as_mut() {
                    *f = f.apply(ch)
                }
            }
            OpPayload::Delete => f = None,
            // The card comes back with the fields its tombstone kept.
            OpPayload::Restore => f = conf.map(CardFields::from_card),
        }
    }
    f
}

/// Rebuild the local view of one card from its confirmed copy and its remaining ops.
/// Returns whether the visible card changed.
pub fn rebase(conn: &Connection, id: Uuid) -> Result<bool> {
    let conf = confirmed(conn, id)?;
    let ops = outbox::for_card(conn, id)?;
    let existing = cards::get_local(conn, id)?;
    match replayed_fields(conf.as_ref(), &ops) {
        None => Ok(existing.is_some() && cards::delete_local(conn, id)?),
        Some(fields) => {
            if existing.as_ref().is_some_and(|e| e.fields == fields) {
                return Ok(false);
            }
            let now = Utc::now();
            let created_at = conf.as_ref().map(|c| c.created_at).or(existing.as_ref().map(|e| e.created_at)).unwrap_or(now);
            let updated_at = if ops.is_empty() { conf.as_ref().map(|c| c.updated_at).unwrap_or(now) } else { now };
            cards::upsert_local(conn, &LocalCard { id, fields, created_at, updated_at })?;
            Ok(true)
        }
    }
}

/// What applying one remote card did.
#[derive(Debug, Default)]
pub struct RemoteOutcome {
    /// The local view of the card changed.
    pub changed: bool,
    /// The remote copy was older than or equal to what we had (an echo of our own write).
    pub ignored: bool,
    pub conflict: Option<ConflictRecord>,
}

/// Apply a card from the change feed or the event stream, and advance the cursor to `seq` in
/// the same transaction. Echoes (confirmed.version >= incoming) are ignored; pending local ops
/// stay replayed on top; a pending or confirmed local delete is never undone.
pub fn apply_remote(conn: &Connection, card: &Card, seq: Option<i64>) -> Result<RemoteOutcome> {
    if let Some(seq) = seq {
        sync_state::advance_cursor(conn, seq)?;
    }
    let mut out = RemoteOutcome::default();
    if !put_confirmed(conn, card)? {
        out.ignored = true;
        return Ok(out);
    }
    let ops = outbox::for_card(conn, card.id)?;
    if card.deleted && !ops.is_empty() && !ops.iter().any(|o| o.state == OpState::InFlight || o.state == OpState::Conflict) {
        // Remote delete while we have local edits: the user decides.
        if let Some(op) = ops.iter().find(|o| matches!(o.payload, OpPayload::Update(_))) {
            out.conflict = super::apply::park_edit_vs_delete(conn, op, card)?;
        }
    }
    out.changed = rebase(conn, card.id)?;
    let kind = deckhand_protocol::EventKind::for_card(card);
    super::history::add(conn, &format!("remote.{}", kind.as_str()), Some(card.id), &format!("v{}", card.version))?;
    super::history::metric_add(conn, "remote_changes_applied", 1)?;
    Ok(out)
}
