//! Full resync after the server's database was restored from a backup or reset (a new epoch, or
//! a cursor beyond the server's last seq; docs/sync-engine.md, "Server restore").
//!
//! The client pulls everything from seq 0 again. The server is the truth for what it has; what
//! the client holds and the server lost is offered again through the outbox, so nothing a client
//! holds is lost:
//! - a confirmed card the server no longer has at all (neither live nor tombstone) becomes a
//!   create with the same id and the card's local values (confirmed copy + queued ops);
//! - a confirmed card the server has at an older or different state (the restore lost later
//!   writes) gets the server's copy as confirmed and the local values as an update against it.
//!
//! The state of a resync is in `sync_state` (`resync_epoch`: the epoch being synced to) and a TEMP
//! table of the confirmed ids not seen yet (the store has one connection). A resync cut short (a
//! crash, a failed page) starts again from 0 at the next catch-up.

use deckhand_protocol::Card;
use rusqlite::{Connection, params};
use uuid::Uuid;

use super::outbox::{self, OpPayload};
use super::{Result, history, remote, sync_state};
use crate::merge;
use crate::model::{CardFields, OpState, Priority, ResyncReport};

/// The epoch a resync in progress is syncing to (None: no resync in progress).
pub fn in_progress(conn: &Connection) -> Result<Option<String>> {
    sync_state::get(conn, sync_state::RESYNC_EPOCH)
}

/// Start (or start again) a resync towards `epoch`: cursor to 0, every live confirmed id unseen.
pub fn begin(conn: &Connection, epoch: &str, reason: &str) -> Result<()> {
    sync_state::set(conn, sync_state::RESYNC_EPOCH, epoch)?;
    if reason != "resumed" {
        sync_state::set(conn, sync_state::RESYNC_REASON, reason)?;
    }
    sync_state::set(conn, sync_state::CURSOR, "0")?;
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS resync_unseen (id TEXT PRIMARY KEY) WITHOUT ROWID;
         DELETE FROM temp.resync_unseen;
         INSERT INTO temp.resync_unseen(id) SELECT id FROM confirmed WHERE deleted = 0;",
    )?;
    if sync_state::get(conn, sync_state::RESYNC_REASON)?.as_deref() == Some("trash_purged") {
        // Tombstones the server purged go from this client's Trash too.
        conn.execute_batch("INSERT OR IGNORE INTO temp.resync_unseen(id) SELECT id FROM confirmed WHERE deleted = 1;")?;
    }
    history::add(conn, "resync.begin", None, &format!("server epoch {epoch}: {reason}; pulling everything from 0"))?;
    Ok(())
}

/// What applying one page of a resync did.
#[derive(Debug, Default)]
pub struct PageOutcome {
    pub changed: Vec<Uuid>,
    pub conflicts: Vec<crate::model::ConflictRecord>,
    pub reoffered: u32,
}

/// Apply one page of the full pull (and move the cursor to `next_since`, in the caller's
/// transaction). A card the server has newer than our copy is applied as any remote change; one
/// it has older or different is taken as confirmed and our values are offered again on top.
pub fn apply_page(conn: &Connection, cards: &[Card], next_since: i64) -> Result<PageOutcome> {
    let mut out = PageOutcome::default();
    // Created on the first page of a resync that was resumed after a restart (TEMP is per connection).
    conn.execute_batch("CREATE TEMP TABLE IF NOT EXISTS resync_unseen (id TEXT PRIMARY KEY) WITHOUT ROWID;")?;
    for card in cards {
        conn.prepare_cached("DELETE FROM temp.resync_unseen WHERE id = ?1")?.execute([card.id.to_string()])?;
        let old = remote::confirmed(conn, card.id)?;
        match old {
            Some(old) if old.version >= card.version && !same_state(&old, card) => {
                force_confirmed(conn, card)?;
                if !old.deleted && !card.deleted && reoffer(conn, card.id, &old, Some(card))? {
                    out.reoffered += 1;
                }
                if remote::rebase(conn, card.id)? {
                    out.changed.push(card.id);
                }
            }
            _ => {
                let o = remote::apply_remote(conn, card, None)?;
                if o.changed {
                    out.changed.push(card.id);
                }
                out.conflicts.extend(o.conflict);
            }
        }
    }
    sync_state::advance_cursor(conn, next_since)?;
    Ok(out)
}

/// End the resync: re-offer every confirmed card the server did not send, store the new epoch.
pub fn finish(conn: &Connection, epoch: &str, reason: &str, mut report: ResyncReport) -> Result<(ResyncReport, Vec<Uuid>)> {
    conn.execute_batch("CREATE TEMP TABLE IF NOT EXISTS resync_unseen (id TEXT PRIMARY KEY) WITHOUT ROWID;")?;
    let unseen: Vec<String> = {
        let mut st = conn.prepare("SELECT id FROM temp.resync_unseen ORDER BY id")?;
        st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    let mut changed = Vec::new();
    // After a purge (not a restore) the server is not missing anything by accident: a card it
    // no longer has at all was deleted and its tombstone purged (trash retention or "empty
    // trash") while this client was away. It goes here too, queued edits and all — there is no
    // tombstone left to restore.
    let purged = sync_state::get(conn, sync_state::RESYNC_REASON)?.as_deref() == Some("trash_purged");
    for id in unseen {
        let id: Uuid = id.parse().map_err(|e| crate::error::StoreError::Corrupt(format!("confirmed id {id:?}: {e}")))?;
        let Some(old) = remote::confirmed(conn, id)? else { continue };
        if purged {
            if outbox::for_card(conn, id)?.iter().any(|o| o.state == OpState::InFlight) {
                continue; // its answer (404) settles it
            }
            outbox::remove_card_ops(conn, id)?;
            super::conflicts::remove(conn, id)?;
            remote::remove_confirmed(conn, id)?;
            history::add(conn, "resync.purged", Some(id), "deleted and purged on the server while this client was away")?;
            if remote::rebase(conn, id)? {
                changed.push(id);
            }
            continue;
        }
        if reoffer(conn, id, &old, None)? {
            report.reoffered += 1;
        }
        if remote::rebase(conn, id)? {
            changed.push(id);
        }
    }
    conn.execute_batch("DELETE FROM temp.resync_unseen;")?;
    sync_state::set(conn, sync_state::EPOCH, epoch)?;
    conn.prepare_cached("DELETE FROM sync_state WHERE key = ?1")?.execute([sync_state::RESYNC_EPOCH])?;
    conn.prepare_cached("DELETE FROM sync_state WHERE key = ?1")?.execute([sync_state::RESYNC_REASON])?;
    sync_state::set(conn, sync_state::LAST_RESYNC, &serde_json::to_string(&report)?)?;
    history::add(
        conn,
        "resync.epoch",
        None,
        &format!("resynced with server epoch {epoch} ({reason}): {} card(s) offered again", report.reoffered),
    )?;
    history::metric_add(conn, "resyncs", 1)?;
    Ok((report, changed))
}

/// The last finished resync, for `SyncStatus::last_resync`.
pub fn last(conn: &Connection) -> Result<Option<ResyncReport>> {
    Ok(sync_state::get(conn, sync_state::LAST_RESYNC)?.map(|s| serde_json::from_str(&s)).transpose()?)
}

fn same_state(a: &Card, b: &Card) -> bool {
    a.version == b.version && a.deleted == b.deleted && CardFields::from_card(a) == CardFields::from_card(b)
}

/// Replace the confirmed copy whatever its version (the server's numbering restarted).
fn force_confirmed(conn: &Connection, card: &Card) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO confirmed(id, version, deleted, card) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, card = excluded.card",
    )?
    .execute(params![card.id.to_string(), card.version, card.deleted, serde_json::to_string(card)?])?;
    Ok(())
}

/// Offer the card's local values (`old` confirmed copy + its queued ops) to the server again, as
/// ONE op that replaces the card's queue: a create when the server lacks the card (`server` None),
/// else an update against the server's copy (already stored as confirmed). The queued ops were
/// made against a copy the server no longer has, so they could not be sent as they are; their
/// effect is kept in the one op. A card whose op is in flight or in conflict is left alone (its
/// answer or the user decides). Returns whether an op was queued.
fn reoffer(conn: &Connection, id: Uuid, old: &Card, server: Option<&Card>) -> Result<bool> {
    let ops = outbox::for_card(conn, id)?;
    if ops.iter().any(|o| matches!(o.state, OpState::InFlight | OpState::Conflict)) {
        history::add(conn, "resync.skipped", Some(id), "an op of this card is in flight or in conflict")?;
        return Ok(false);
    }
    let local = remote::replayed_fields(Some(old), &ops);
    outbox::remove_card_ops(conn, id)?;
    let queued = match (server, local) {
        (None, Some(fields)) => {
            remote::remove_confirmed(conn, id)?;
            outbox::enqueue(conn, id, OpPayload::Create(fields.to_new_card(id)), None, Priority::High)?;
            true
        }
        (None, None) => {
            // Deleted here, unknown there: nothing to offer.
            remote::remove_confirmed(conn, id)?;
            false
        }
        (Some(s), Some(fields)) => {
            let theirs = CardFields::from_card(s);
            let changes = merge::diff(&theirs, &fields);
            let any = !changes.is_empty();
            if any {
                // Made on the server's copy: our values are offered on top of it.
                let seen = outbox::Seen { fields: &theirs, version: Some(s.version) };
                outbox::enqueue(conn, id, OpPayload::Update(changes), Some(seen), Priority::High)?;
            }
            any
        }
        (Some(_), None) => {
            outbox::enqueue(conn, id, OpPayload::Delete, None, Priority::High)?;
            true
        }
    };
    if queued {
        history::add(conn, "resync.reoffer", Some(id), if server.is_some() { "update" } else { "create" })?;
    }
    Ok(queued)
}
