//! Applying the server's answer to an outbox op (called by the drain, one transaction each).

use chrono::Utc;
use deckhand_protocol::Card;
use rusqlite::Connection;

use super::Result;
use super::outbox::{self, Op, OpPayload};
use super::{cards, conflicts, history, remote};
use crate::fields;
use crate::merge_shim::merge3;
use crate::model::{ConflictKind, ConflictRecord, OpError};

/// 2xx (or an answer that proves the op's effect is in place): confirm, drop the op, rebase.
pub fn succeeded(conn: &Connection, op: &Op, card: &Card) -> Result<bool> {
    remote::put_confirmed(conn, card)?;
    outbox::remove(conn, op.op_id)?;
    history::metric_add(conn, "ops_succeeded", 1)?;
    history::add(conn, "op.sent", Some(op.card_id), &format!("{:?} confirmed at v{}", op.payload.kind(), card.version))?;
    remote::rebase(conn, op.card_id)
}

#[derive(Debug)]
pub enum ConflictOutcome {
    /// Nothing left to send (the server already has our values).
    Done,
    /// Merged cleanly; the op was rewritten against the current version and is due again.
    Rebased,
    Conflict(Box<ConflictRecord>),
}

/// 409 with `current`. Creates: the id is ours, so an existing card means our create landed.
/// Deletes: retried against the current version (the user asked to delete). Updates: 3-way merge.
pub fn version_conflict(conn: &Connection, op: &Op, current: &Card) -> Result<ConflictOutcome> {
    match &op.payload {
        OpPayload::Create(_) => {
            succeeded(conn, op, current)?;
            Ok(ConflictOutcome::Done)
        }
        OpPayload::Delete if current.deleted => {
            succeeded(conn, op, current)?;
            Ok(ConflictOutcome::Done)
        }
        OpPayload::Delete => {
            remote::put_confirmed(conn, current)?;
            outbox::rewrite(conn, op.op_id, &OpPayload::Delete, Some(current))?;
            Ok(ConflictOutcome::Rebased)
        }
        OpPayload::Update(_) if current.deleted => gone(conn, op, current).map(|r| match r {
            Some(rec) => ConflictOutcome::Conflict(Box::new(rec)),
            None => ConflictOutcome::Done,
        }),
        OpPayload::Update(ch) => {
            let theirs = fields::of_card(current);
            let base = op.base.clone().or(remote::confirmed(conn, op.card_id)?).unwrap_or_else(|| current.clone());
            let mine = cards::get_local(conn, op.card_id)?.map(|l| l.fields).unwrap_or_else(|| {
                let mut f = fields::of_card(&base);
                fields::apply(&mut f, ch);
                f
            });
            remote::put_confirmed(conn, current)?;
            history::metric_add(conn, "version_conflicts", 1)?;
            let m = merge3(&fields::of_card(&base), &mine, &theirs);
            if m.conflicting.is_empty() {
                let delta = fields::diff(&theirs, &m.merged);
                if delta.is_empty() {
                    outbox::remove(conn, op.op_id)?;
                    remote::rebase(conn, op.card_id)?;
                    return Ok(ConflictOutcome::Done);
                }
                outbox::rewrite(conn, op.op_id, &OpPayload::Update(delta), Some(current))?;
                history::add(conn, "conflict.merged", Some(op.card_id), "merged concurrent edits")?;
                history::metric_add(conn, "auto_merges", 1)?;
                remote::rebase(conn, op.card_id)?;
                return Ok(ConflictOutcome::Rebased);
            }
            let rec = ConflictRecord {
                card_id: op.card_id,
                kind: ConflictKind::Fields,
                base: Some(base),
                mine,
                theirs: current.clone(),
                fields: m.conflicting.clone(),
                suggested: m.merged,
                detected_at: Utc::now(),
            };
            conflicts::insert(conn, &rec, op.op_id)?;
            outbox::mark_conflict(conn, op.op_id)?;
            history::add(conn, "conflict.detected", Some(op.card_id), &format!("fields: {}", m.conflicting.join(", ")))?;
            remote::rebase(conn, op.card_id)?;
            Ok(ConflictOutcome::Conflict(Box::new(rec)))
        }
    }
}

/// 410 with the tombstone. A delete is done; an edit becomes an edit-vs-delete conflict.
pub fn gone(conn: &Connection, op: &Op, tombstone: &Card) -> Result<Option<ConflictRecord>> {
    match &op.payload {
        OpPayload::Update(_) => {
            remote::put_confirmed(conn, tombstone)?;
            // Parking the op first makes the rebase replay my edits over the tombstone (the card
            // may have been hidden meanwhile by the tombstone arriving from the feed).
            outbox::mark_conflict(conn, op.op_id)?;
            remote::rebase(conn, op.card_id)?;
            let mine = cards::get_local(conn, op.card_id)?.map(|l| l.fields).unwrap_or_else(|| fields::of_card(tombstone));
            let rec = ConflictRecord {
                card_id: op.card_id,
                kind: ConflictKind::EditVsDelete,
                base: op.base.clone(),
                mine: mine.clone(),
                theirs: tombstone.clone(),
                fields: Vec::new(),
                suggested: mine,
                detected_at: Utc::now(),
            };
            conflicts::insert(conn, &rec, op.op_id)?;
            outbox::mark_conflict(conn, op.op_id)?;
            history::add(conn, "conflict.detected", Some(op.card_id), "edited here, deleted on the server")?;
            remote::rebase(conn, op.card_id)?;
            Ok(Some(rec))
        }
        _ => {
            succeeded(conn, op, tombstone)?;
            Ok(None)
        }
    }
}

pub fn failed(conn: &Connection, op: &Op, err: &OpError) -> Result<()> {
    outbox::mark_failed(conn, op.op_id, err)?;
    history::metric_add(conn, "ops_failed", 1)?;
    history::add(conn, "op.failed", Some(op.card_id), &format!("{}: {}", err.code, err.message))
}

pub fn retry_later(conn: &Connection, op: &Op, next_at_ms: i64, err: &OpError) -> Result<()> {
    outbox::mark_retry(conn, op.op_id, next_at_ms, err)?;
    history::metric_add(conn, "ops_retried", 1)
}
