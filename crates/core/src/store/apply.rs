//! Applying the server's answer to an outbox op (called by the drain, one transaction each), and
//! the one rebase rule an update follows whenever it meets a copy it was not made on.

use chrono::Utc;
use deckhand_protocol::{Card, CardChanges};
use rusqlite::Connection;

use super::Result;
use super::outbox::{self, Op, OpPayload};
use super::{cards, conflicts, history, remote};
use crate::merge::{diff, merge3};
use crate::model::{CardFields, ConflictKind, ConflictRecord, OpError};

/// A restore answered 404: the server purged the tombstone (past its trash retention). The card
/// is gone for good: the op, the confirmed tombstone and anything queued for the card go.
pub fn purged(conn: &Connection, op: &Op) -> Result<bool> {
    outbox::remove_card_ops(conn, op.card_id)?;
    remote::remove_confirmed(conn, op.card_id)?;
    history::add(conn, "restore.purged", Some(op.card_id), "the server no longer has this card (trash emptied or expired)")?;
    remote::rebase(conn, op.card_id)
}

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
/// Deletes: retried against the current version (the user asked to delete). Updates: the rebase
/// rule against `current`.
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
        // Not deleted any more: restored already (by this op whose record expired, or another
        // device) — the effect the user asked for is in place.
        OpPayload::Restore if !current.deleted => {
            succeeded(conn, op, current)?;
            Ok(ConflictOutcome::Done)
        }
        // Deleted again since (restored and deleted elsewhere): restore that tombstone.
        OpPayload::Restore => {
            remote::put_confirmed(conn, current)?;
            outbox::rewrite(conn, op.op_id, &OpPayload::Restore, Some(current))?;
            Ok(ConflictOutcome::Rebased)
        }
        OpPayload::Update(_) if current.deleted => gone(conn, op, current).map(|r| match r {
            Some(rec) => ConflictOutcome::Conflict(Box::new(rec)),
            None => ConflictOutcome::Done,
        }),
        OpPayload::Update(ch) => {
            remote::put_confirmed(conn, current)?;
            history::metric_add(conn, "version_conflicts", 1)?;
            // The base the request was made on (pinned by `outbox::prepare`).
            let base = match &op.base {
                Some(b) => b.clone(),
                None => remote::confirmed(conn, op.card_id)?.map(|c| CardFields::from_card(&c)).unwrap_or_else(|| CardFields::from_card(current)),
            };
            Ok(match rebase_update(conn, op, &base, ch, current)? {
                Rebased::Done => ConflictOutcome::Done,
                Rebased::Rewritten => ConflictOutcome::Rebased,
                Rebased::Conflict(rec) => ConflictOutcome::Conflict(rec),
            })
        }
    }
}

/// What `rebase_update` did.
#[derive(Debug)]
pub enum Rebased {
    /// `theirs` already has the op's values: the op is gone.
    Done,
    /// The op is now its own changes on top of `theirs` (new key, due now).
    Rewritten,
    /// The card's queue is parked in this conflict.
    Conflict(Box<ConflictRecord>),
}

/// The rebase rule (docs/sync-engine.md, "Rules"): an update made on `base` meets `theirs`, a
/// copy it did not see (the confirmed copy at send time, or the server's `current` on a 409).
/// `merge3(base, base + changes, theirs)`: clean → the op becomes the merged result's diff
/// against `theirs`; a conflict → the card's later queued ops fold into this one (so "mine" is
/// what the user sees, and a resolution settles the whole queue), merged again, and parked when
/// that still conflicts.
pub fn rebase_update(conn: &Connection, op: &Op, base: &CardFields, ch: &CardChanges, theirs: &Card) -> Result<Rebased> {
    let theirs_f = CardFields::from_card(theirs);
    let mine = base.apply(ch);
    let mut m = merge3(base, &mine, &theirs_f);
    let mut folded_queue = None;
    if !m.is_clean() {
        let later: Vec<Op> = outbox::for_card(conn, op.card_id)?.into_iter().filter(|o| o.op_id > op.op_id).collect();
        if later.iter().any(|o| matches!(o.payload, OpPayload::Delete)) {
            // The user deleted the card since: the delete settles it (delete wins).
            for o in &later {
                outbox::remove(conn, o.op_id)?;
            }
            outbox::rewrite(conn, op.op_id, &OpPayload::Delete, Some(theirs))?;
            remote::rebase(conn, op.card_id)?;
            return Ok(Rebased::Rewritten);
        }
        let mut edits: Vec<(Option<&CardFields>, &CardChanges)> = vec![(Some(base), ch)];
        edits.extend(later.iter().filter_map(|o| match &o.payload {
            OpPayload::Update(c) => Some((o.base.as_ref(), c)),
            _ => None,
        }));
        let (queue_base, all) = folded(base, &edits);
        for o in &later {
            outbox::remove(conn, o.op_id)?;
        }
        m = merge3(&queue_base, &all, &theirs_f);
        folded_queue = Some((queue_base, all));
    }
    if m.is_clean() {
        let delta = diff(&theirs_f, &m.merged);
        let done = delta.is_empty();
        if done {
            outbox::remove(conn, op.op_id)?;
        } else {
            outbox::rewrite(conn, op.op_id, &OpPayload::Update(delta), Some(theirs))?;
            if base != &theirs_f {
                history::add(conn, "conflict.merged", Some(op.card_id), "merged concurrent edits")?;
                history::metric_add(conn, "auto_merges", 1)?;
            }
        }
        remote::rebase(conn, op.card_id)?;
        return Ok(if done { Rebased::Done } else { Rebased::Rewritten });
    }
    let (base, mine) = folded_queue.unwrap_or((base.clone(), mine));
    outbox::set_payload(conn, op.op_id, &OpPayload::Update(diff(&base, &mine)))?;
    let rec = ConflictRecord {
        card_id: op.card_id,
        kind: ConflictKind::Fields,
        base: Some(base),
        mine,
        theirs: theirs.clone(),
        fields: m.conflicting.clone(),
        suggested: m.merged,
        detected_at: Utc::now(),
    };
    conflicts::insert(conn, &rec, op.op_id)?;
    outbox::mark_conflict(conn, op.op_id)?;
    history::add(conn, "conflict.detected", Some(op.card_id), &format!("fields: {}", m.conflicting.join(", ")))?;
    remote::rebase(conn, op.card_id)?;
    Ok(Rebased::Conflict(Box::new(rec)))
}

/// A queue of edits folded into one (a conflict parks the card's whole queue): "mine" is every
/// change replayed in order; each field's base is what the user saw when the run of edits that
/// produced its final value began. An edit made on a value its predecessor did not leave (a
/// remote change it saw, or an older copy) starts a new run on what it saw; fields no edit touched
/// keep the head's base. So `merge3(base, mine, theirs)` asks, per field, exactly what the user
/// knew — a queued edit made on an older copy is never treated as made on the head's newer base.
fn folded(head_base: &CardFields, edits: &[(Option<&CardFields>, &CardChanges)]) -> (CardFields, CardFields) {
    let mut base = head_base.clone();
    let mut mine = head_base.clone();
    macro_rules! field {
        ($f:ident) => {{
            let mut left = None;
            for (seen, ch) in edits {
                if let Some(v) = &ch.$f {
                    let seen_value = seen.map(|s| s.$f.clone()).unwrap_or_else(|| mine.$f.clone());
                    if left.as_ref() != Some(&seen_value) {
                        base.$f = seen_value;
                    }
                    left = Some(v.clone());
                    mine.$f = v.clone();
                }
            }
        }};
    }
    field!(title);
    field!(body);
    field!(url);
    field!(tags);
    field!(lane);
    field!(position);
    field!(pinned);
    (base, mine)
}

/// 410 with the tombstone. A delete is done; an edit becomes an edit-vs-delete conflict.
pub fn gone(conn: &Connection, op: &Op, tombstone: &Card) -> Result<Option<ConflictRecord>> {
    match &op.payload {
        OpPayload::Update(_) => {
            remote::put_confirmed(conn, tombstone)?;
            park_edit_vs_delete(conn, op, tombstone)
        }
        _ => {
            succeeded(conn, op, tombstone)?;
            Ok(None)
        }
    }
}

/// The card was deleted on the server while `op` (an update) and maybe later edits are queued:
/// the whole queue folds into `op`, parked in an edit-vs-delete conflict; "mine" is what the user
/// sees. When the user deleted the card too, the delete settles it: nothing to ask.
pub fn park_edit_vs_delete(conn: &Connection, op: &Op, tombstone: &Card) -> Result<Option<ConflictRecord>> {
    let ops = outbox::for_card(conn, op.card_id)?;
    if ops.iter().any(|o| matches!(o.payload, OpPayload::Delete)) {
        outbox::remove_card_ops(conn, op.card_id)?;
        remote::rebase(conn, op.card_id)?;
        return Ok(None);
    }
    let base = op.base.clone();
    let start = base.clone().or_else(|| cards::get_local(conn, op.card_id).ok().flatten().map(|l| l.fields)).unwrap_or_else(|| CardFields::from_card(tombstone));
    let mut mine = start.clone();
    for o in ops.iter().filter(|o| o.op_id >= op.op_id) {
        if let OpPayload::Update(c) = &o.payload {
            mine = mine.apply(c);
        }
        if o.op_id != op.op_id {
            outbox::remove(conn, o.op_id)?;
        }
    }
    outbox::set_payload(conn, op.op_id, &OpPayload::Update(diff(&start, &mine)))?;
    // Parking the op first makes the rebase replay my edits over the tombstone.
    outbox::mark_conflict(conn, op.op_id)?;
    let rec = ConflictRecord {
        card_id: op.card_id,
        kind: ConflictKind::EditVsDelete,
        base,
        mine: mine.clone(),
        theirs: tombstone.clone(),
        fields: Vec::new(),
        suggested: mine,
        detected_at: Utc::now(),
    };
    conflicts::insert(conn, &rec, op.op_id)?;
    history::add(conn, "conflict.detected", Some(op.card_id), "edited here, deleted on the server")?;
    remote::rebase(conn, op.card_id)?;
    Ok(Some(rec))
}

pub fn failed(conn: &Connection, op: &Op, err: &OpError) -> Result<()> {
    outbox::mark_failed(conn, op.op_id, err)?;
    history::metric_add(conn, "ops_failed", 1)?;
    history::add(conn, "op.failed", Some(op.card_id), &format!("{}: {}", err.code, err.message))
}

pub fn retry_later(conn: &Connection, op: &Op, next_at_ms: i64, err: &OpError, never_left: bool) -> Result<()> {
    outbox::mark_retry(conn, op, next_at_ms, err, never_left)?;
    history::metric_add(conn, "ops_retried", 1)
}
