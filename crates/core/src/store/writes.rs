//! Optimistic local writes: each changes the local view AND queues (or coalesces) an outbox op
//! in the caller's transaction. Also the user's outbox actions (discard) and conflict resolution.

use chrono::{SubsecRound, Utc};
use deckhand_protocol::{Card, CardChanges, NewCard, validate_changes, validate_new_card};
use rusqlite::Connection;
use uuid::Uuid;

use super::Result;
use super::cards::{self, LocalCard};
use super::outbox::{self, Enqueued, OpPayload};
use super::{conflicts, history, remote};
use crate::error::StoreError;
use crate::fields;
use crate::model::{BulkAction, CardFields, CardView, ConflictKind, NewCardInput, OpState, Priority, Resolution, SyncState};

pub fn create(conn: &Connection, input: &NewCardInput) -> Result<Uuid> {
    create_local(conn, input).map(|l| l.id)
}

/// `create`, answering with the new card's view built from the row just written: a fresh id has
/// no confirmed copy and one queued op, so nothing needs reading back (P1 in docs/benchmarks.md).
pub fn create_view(conn: &Connection, input: &NewCardInput) -> Result<CardView> {
    let local = create_local(conn, input)?;
    Ok(cards::view_of(local, None, SyncState::Pending, None))
}

fn create_local(conn: &Connection, input: &NewCardInput) -> Result<LocalCard> {
    let lane = input.lane.clone().unwrap_or_else(|| deckhand_protocol::DEFAULT_LANE.to_string());
    let position = match input.position {
        Some(p) => p,
        None => cards::next_position(conn, &lane)?,
    };
    let new = NewCard {
        id: Uuid::now_v7(),
        title: input.title.clone(),
        body: input.body.clone().unwrap_or_default(),
        url: input.url.clone(),
        tags: input.tags.clone().unwrap_or_default(),
        lane,
        position,
        pinned: input.pinned.unwrap_or(false),
    };
    create_card_local(conn, new, Priority::Normal)
}

pub(crate) fn create_card(conn: &Connection, new: NewCard, priority: Priority) -> Result<Uuid> {
    create_card_local(conn, new, priority).map(|l| l.id)
}

fn create_card_local(conn: &Connection, new: NewCard, priority: Priority) -> Result<LocalCard> {
    validate_new_card(&new).map_err(StoreError::Validation)?;
    // Stored with microseconds: the same precision the returned view gets.
    let now = Utc::now().trunc_subsecs(6);
    let id = new.id;
    let local = LocalCard { id, fields: fields::of_new(&new), created_at: now, updated_at: now };
    cards::upsert_local(conn, &local)?;
    outbox::enqueue(conn, id, OpPayload::Create(new), None, priority)?;
    Ok(local)
}

/// Apply `changes` to the card's local view and queue them. Returns false when nothing changed.
pub fn update(conn: &Connection, id: Uuid, changes: &CardChanges, priority: Priority) -> Result<bool> {
    update_local_and_queue(conn, id, changes, priority).map(|u| u.is_some())
}

/// `update`, answering with whether anything changed and the card's view, built from what was
/// just written plus one lookup of the card's failed or conflicting ops (P1 in
/// docs/benchmarks.md) instead of the generic view query.
pub fn update_view(conn: &Connection, id: Uuid, changes: &CardChanges, priority: Priority) -> Result<(bool, CardView)> {
    let Some((local, base)) = update_local_and_queue(conn, id, changes, priority)? else {
        return Ok((false, cards::view(conn, id)?.ok_or(StoreError::NotFound(id))?));
    };
    // The card now has at least one queued op: pending, unless one of its ops failed or conflicts.
    let (conflict, error) = outbox::stuck(conn, id)?;
    let sync_state = match (conflict, &error) {
        (true, _) => SyncState::Conflict,
        (false, Some(_)) => SyncState::Failed,
        (false, None) => SyncState::Pending,
    };
    Ok((true, cards::view_of(local, base.map(|b| b.version), sync_state, error)))
}

/// The new local row and the confirmed copy the edit was based on; `None` when nothing changed.
fn update_local_and_queue(conn: &Connection, id: Uuid, changes: &CardChanges, priority: Priority) -> Result<Option<(LocalCard, Option<Card>)>> {
    validate_changes(changes).map_err(StoreError::Validation)?;
    let mut local = cards::get_local(conn, id)?.ok_or(StoreError::NotFound(id))?;
    let mut f = local.fields.clone();
    fields::apply(&mut f, changes);
    let delta = fields::diff(&local.fields, &f);
    if delta.is_empty() {
        return Ok(None);
    }
    let old = std::mem::replace(&mut local.fields, f);
    // Stored with microseconds: the same precision the returned view gets.
    local.updated_at = Utc::now().trunc_subsecs(6);
    cards::update_local(conn, &old, &local)?;
    let base = remote::confirmed(conn, id)?.filter(|c| !c.deleted);
    outbox::enqueue(conn, id, OpPayload::Update(delta), base.as_ref(), priority)?;
    Ok(Some((local, base)))
}

pub fn delete(conn: &Connection, id: Uuid, priority: Priority) -> Result<()> {
    if !cards::exists(conn, id)? {
        return Err(StoreError::NotFound(id));
    }
    cards::delete_local(conn, id)?;
    let conf = remote::confirmed(conn, id)?;
    let ops = outbox::for_card(conn, id)?;
    // A conflict on a card the user now deletes is settled by the delete.
    if conflicts::remove(conn, id)? {
        outbox::remove_card_ops(conn, id)?;
        if let Some(c) = conf.as_ref().filter(|c| !c.deleted) {
            outbox::enqueue(conn, id, OpPayload::Delete, Some(c), priority)?;
        }
        return Ok(());
    }
    // Edits the server refused for good are superseded by the delete (they would block it).
    let mut ops = ops;
    for op in ops.iter().filter(|o| o.state == OpState::Failed && !matches!(o.payload, OpPayload::Create(_))) {
        outbox::remove(conn, op.op_id)?;
    }
    ops.retain(|o| o.state != OpState::Failed || matches!(o.payload, OpPayload::Create(_)));
    // Never confirmed and nothing that may have reached the server: nothing to tell the server.
    if conf.is_none() && ops.iter().all(|o| !o.sent || o.state == OpState::Failed) {
        outbox::remove_card_ops(conn, id)?;
        return Ok(());
    }
    match outbox::enqueue(conn, id, OpPayload::Delete, conf.as_ref().filter(|c| !c.deleted), priority)? {
        Enqueued::Cancelled | Enqueued::Appended(_) | Enqueued::Coalesced(_) => Ok(()),
    }
}

/// Apply a bulk action; `progress(done, total)` is called as it goes. Missing ids are skipped.
pub fn bulk(conn: &Connection, ids: &[Uuid], action: &BulkAction, mut progress: impl FnMut(u32, u32)) -> Result<(u32, Vec<Uuid>)> {
    let total = ids.len() as u32;
    let mut affected = Vec::new();
    if let BulkAction::Update { changes } = action {
        validate_changes(changes).map_err(StoreError::Validation)?;
    }
    for (i, id) in ids.iter().enumerate() {
        let Some(local) = cards::get_local(conn, *id)? else { continue };
        let changed = match action {
            BulkAction::Delete => {
                delete(conn, *id, Priority::Low)?;
                true
            }
            BulkAction::Move { lane } => {
                let ch = CardChanges { lane: Some(lane.clone()), ..Default::default() };
                update(conn, *id, &ch, Priority::Low)?
            }
            BulkAction::AddTag { tag } => {
                let mut tags = local.fields.tags.clone();
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
                update(conn, *id, &CardChanges { tags: Some(tags), ..Default::default() }, Priority::Low)?
            }
            BulkAction::RemoveTag { tag } => {
                let tags: Vec<String> = local.fields.tags.iter().filter(|t| *t != tag).cloned().collect();
                update(conn, *id, &CardChanges { tags: Some(tags), ..Default::default() }, Priority::Low)?
            }
            BulkAction::Update { changes } => update(conn, *id, changes, Priority::Low)?,
        };
        if changed {
            affected.push(*id);
        }
        let done = i as u32 + 1;
        if done.is_multiple_of(100) || done == total {
            progress(done, total);
        }
    }
    Ok((affected.len() as u32, affected))
}

/// Drop an op. The card rolls back to its confirmed copy plus its remaining ops; discarding a
/// create drops the card's whole queue (nothing else can be sent without it).
pub fn discard(conn: &Connection, op_id: i64) -> Result<Uuid> {
    let op = outbox::get(conn, op_id)?.ok_or(StoreError::OpNotFound(op_id))?;
    if op.state == OpState::InFlight {
        return Err(StoreError::InvalidState(format!("op {op_id} is being sent; try again in a moment")));
    }
    if matches!(op.payload, OpPayload::Create(_)) && remote::confirmed(conn, op.card_id)?.is_none() {
        outbox::remove_card_ops(conn, op.card_id)?;
    } else {
        outbox::remove(conn, op_id)?;
    }
    conflicts::remove(conn, op.card_id)?;
    remote::rebase(conn, op.card_id)?;
    history::add(conn, "op.discarded", Some(op.card_id), &format!("op {op_id} discarded"))?;
    Ok(op.card_id)
}

/// Settle a conflict. Returns the ids whose local view changed (a restored card gets a new id).
pub fn resolve(conn: &Connection, card_id: Uuid, resolution: &Resolution) -> Result<Vec<Uuid>> {
    let (rec, op_id) = conflicts::get(conn, card_id)?
        .ok_or_else(|| StoreError::InvalidState(format!("card {card_id} has no conflict")))?;
    let theirs = rec.theirs.clone();
    let chosen: Option<CardFields> = match resolution {
        Resolution::KeepTheirs => None,
        // For edit-vs-delete the local view also carries edits made after the conflict.
        Resolution::KeepMine if rec.kind == ConflictKind::EditVsDelete => {
            Some(cards::get_local(conn, card_id)?.map(|l| l.fields).unwrap_or_else(|| rec.mine.clone()))
        }
        Resolution::KeepMine => Some(rec.mine.clone()),
        Resolution::Merged { fields } => {
            validate_new_card(&fields::to_new(card_id, fields)).map_err(StoreError::Validation)?;
            Some(fields.clone())
        }
    };
    conflicts::remove(conn, card_id)?;
    remote::put_confirmed(conn, &theirs)?;
    let mut ids = vec![card_id];
    match (rec.kind, chosen) {
        (ConflictKind::Fields, None) => outbox::remove(conn, op_id)?,
        (ConflictKind::Fields, Some(f)) => {
            let ch = fields::diff(&fields::of_card(&theirs), &f);
            if ch.is_empty() {
                outbox::remove(conn, op_id)?;
            } else {
                outbox::rewrite(conn, op_id, &OpPayload::Update(ch), Some(&theirs))?;
            }
        }
        (ConflictKind::EditVsDelete, None) => {
            outbox::remove_card_ops(conn, card_id)?;
        }
        (ConflictKind::EditVsDelete, Some(f)) => {
            // The server never revives a tombstone (POST on a known id is 409 already_exists),
            // so "restore" re-creates the card under a new id with the chosen values.
            outbox::remove_card_ops(conn, card_id)?;
            cards::delete_local(conn, card_id)?;
            let new_id = create_card(conn, fields::to_new(Uuid::now_v7(), &f), Priority::High)?;
            ids.push(new_id);
            history::add(conn, "conflict.restored", Some(new_id), &format!("card {card_id} restored as {new_id}"))?;
        }
    }
    remote::rebase(conn, card_id)?;
    history::add(conn, "conflict.resolved", Some(card_id), &format!("{:?} resolved", rec.kind))?;
    Ok(ids)
}
