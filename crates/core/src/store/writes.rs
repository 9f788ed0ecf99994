//! Optimistic local writes: each changes the local view AND queues (or coalesces) an outbox op
//! in the caller's transaction. Also the user's outbox actions (discard) and conflict resolution.

use chrono::{SubsecRound, Utc};
use deckhand_protocol::{CardChanges, NewCard, validate_changes, validate_new_card};
use rusqlite::Connection;
use uuid::Uuid;

use super::Result;
use super::cards::{self, LocalCard};
use super::outbox::{self, Enqueued, OpPayload, Seen};
use super::{conflicts, history, remote};
use crate::error::StoreError;
use crate::merge::diff;
use crate::model::{BulkAction, CardFields, CardView, ConflictKind, ConflictRecord, NewCardInput, OpState, Priority, Resolution, SyncState};

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
        link_meta: None,
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
    let local = LocalCard { id, fields: CardFields::from_new_card(&new), created_at: now, updated_at: now };
    cards::upsert_local(conn, &local)?;
    outbox::enqueue(conn, id, OpPayload::Create(new), None, priority)?;
    Ok(local)
}

/// Apply `changes` to the card's local view and queue them. Returns false when nothing changed.
pub fn update(conn: &Connection, id: Uuid, changes: &CardChanges, priority: Priority) -> Result<bool> {
    update_made_on(conn, id, changes, MadeOn::Now, priority)
}

/// What an edit was made on.
#[derive(Debug, Clone)]
pub enum MadeOn {
    /// The card as the local view shows it now.
    Now,
    /// The confirmed copy at this version (plus the card's queued edits): an editor opened then.
    Version(i64),
    /// These fields, made on the confirmed version given (a salvaged op's recorded base).
    Fields(CardFields, Option<i64>),
}

/// `update` of an edit made on `made_on` (see `MadeOn`). Returns false when nothing changed.
pub fn update_made_on(conn: &Connection, id: Uuid, changes: &CardChanges, made_on: MadeOn, priority: Priority) -> Result<bool> {
    update_local_and_queue(conn, id, changes, made_on, priority).map(|u| u.is_some())
}

/// What `update_view` did.
#[derive(Debug, Clone)]
pub struct Updated {
    pub changed: bool,
    pub view: CardView,
    /// The card's open conflict, when the edit folded into it (its "mine" changed).
    pub conflict: Option<ConflictRecord>,
}

/// `update`, made on the confirmed version `base_version` when given (the version an editor
/// showed; `None` = the card as it is now), answering with the card's view built from what was
/// just written plus one lookup of the card's failed or conflicting ops (P1 in
/// docs/benchmarks.md) instead of the generic view query.
pub fn update_view(conn: &Connection, id: Uuid, changes: &CardChanges, base_version: Option<i64>, priority: Priority) -> Result<Updated> {
    let made_on = base_version.map_or(MadeOn::Now, MadeOn::Version);
    let Some((local, conf_version, enq)) = update_local_and_queue(conn, id, changes, made_on, priority)? else {
        return Ok(Updated { changed: false, view: cards::view(conn, id)?.ok_or(StoreError::NotFound(id))?, conflict: None });
    };
    // The card now has at least one queued op: pending, unless one of its ops failed or conflicts.
    let (conflict, error) = outbox::stuck(conn, id)?;
    let sync_state = match (conflict, &error) {
        (true, _) => SyncState::Conflict,
        (false, Some(_)) => SyncState::Failed,
        (false, None) => SyncState::Pending,
    };
    let conflict = match enq {
        Enqueued::Folded(rec) => Some(*rec),
        _ => None,
    };
    Ok(Updated { changed: true, view: cards::view_of(local, conf_version, sync_state, error), conflict })
}

/// The new local row, the confirmed version and what the queue did; `None` when nothing changed.
fn update_local_and_queue(conn: &Connection, id: Uuid, changes: &CardChanges, made_on: MadeOn, priority: Priority) -> Result<Option<(LocalCard, Option<i64>, Enqueued)>> {
    validate_changes(changes).map_err(StoreError::Validation)?;
    let mut local = cards::get_local(conn, id)?.ok_or(StoreError::NotFound(id))?;
    let f = local.fields.apply(changes);
    let delta = diff(&local.fields, &f);
    if delta.is_empty() {
        return Ok(None);
    }
    // "Fits" is one definition (encoded size): anything accepted here can be sent.
    validate_new_card(&f.to_new_card(id)).map_err(StoreError::Validation)?;
    let conf_version = remote::live_version(conn, id)?;
    // What the edit was made on: the card as shown now, or — for an edit made on an older
    // confirmed copy — that copy with the card's queued edits on top, so the remote change that
    // landed since is merged (or raised as a conflict) instead of overwritten.
    let (seen_fields, seen_version) = match (made_on, conf_version) {
        (MadeOn::Fields(f, v), _) => (f, v),
        (MadeOn::Version(b), Some(c)) if b < c => {
            let old = remote::confirmed_fields_at(conn, id, b)?.ok_or_else(|| {
                StoreError::InvalidState(format!("card {id} changed since version {b} was shown (now v{c}); reopen it to edit"))
            })?;
            let mut old_card = remote::confirmed(conn, id)?.ok_or_else(|| StoreError::Corrupt(format!("card {id}: confirmed v{c} vanished inside the edit's transaction")))?;
            diff(&CardFields::from_card(&old_card), &old).apply_to(&mut old_card);
            old_card.version = b;
            (remote::replayed_fields(Some(&old_card), &outbox::for_card(conn, id)?).unwrap_or(old), Some(b))
        }
        _ => (local.fields.clone(), conf_version),
    };
    let old = std::mem::replace(&mut local.fields, f);
    // Stored with microseconds: the same precision the returned view gets.
    local.updated_at = Utc::now().trunc_subsecs(6);
    // The edit's own changes against what it saw (a stale editor's form may repeat values).
    let own = diff(&seen_fields, &seen_fields.apply(changes));
    let seen = Seen { fields: &seen_fields, version: seen_version };
    let enq = outbox::enqueue(conn, id, OpPayload::Update(if seen_fields == old { delta } else { own }), Some(seen), priority)?;
    cards::update_local(conn, &old, &local)?;
    if seen_fields != old {
        // The view is the confirmed copy plus the queue (the stale edit rides on top).
        remote::rebase(conn, id)?;
        local = cards::get_local(conn, id)?.ok_or(StoreError::NotFound(id))?;
    }
    Ok(Some((local, conf_version, enq)))
}

pub fn delete(conn: &Connection, id: Uuid, priority: Priority) -> Result<()> {
    if !cards::exists(conn, id)? {
        return Err(StoreError::NotFound(id));
    }
    cards::delete_local(conn, id)?;
    let conf = remote::confirmed(conn, id)?;
    let ops = outbox::for_card(conn, id)?;
    let seen_of = |c: &deckhand_protocol::Card| (CardFields::from_card(c), c.version);
    let conf_seen = conf.as_ref().filter(|c| !c.deleted).map(seen_of);
    let conf_seen = conf_seen.as_ref().map(|(f, v)| Seen { fields: f, version: Some(*v) });
    // A conflict on a card the user now deletes is settled by the delete.
    if conflicts::remove(conn, id)? {
        outbox::remove_card_ops(conn, id)?;
        if conf_seen.is_some() {
            outbox::enqueue(conn, id, OpPayload::Delete, conf_seen, priority)?;
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
    // A delete continues whatever the queue leaves (never a coalescing barrier of its own).
    outbox::enqueue(conn, id, OpPayload::Delete, None, priority)?;
    Ok(())
}

/// Bring a card back from the Trash with its id and its last fields. A delete that never left
/// is simply withdrawn; otherwise a restore op is queued, sent against the tombstone's version
/// (`POST /v1/cards/{id}/restore`), and the card shows again at once (offline too).
pub fn restore(conn: &Connection, id: Uuid, priority: Priority) -> Result<()> {
    if cards::exists(conn, id)? {
        return Err(StoreError::InvalidState(format!("card {id} is not in the trash")));
    }
    let conf = remote::confirmed(conn, id)?.ok_or(StoreError::NotFound(id))?;
    let ops = outbox::for_card(conn, id)?;
    if ops.iter().any(|o| o.state == OpState::Conflict) {
        return Err(StoreError::InvalidState(format!("card {id} has an open conflict; resolve it instead")));
    }
    // A restore continues whatever the queue leaves (a delete in flight is restored after it).
    let seen = conf.deleted.then(|| (CardFields::from_card(&conf), conf.version));
    let seen = seen.as_ref().map(|(f, v)| Seen { fields: f, version: Some(*v) });
    outbox::enqueue(conn, id, OpPayload::Restore, seen, priority)?;
    remote::rebase(conn, id)?;
    if !cards::exists(conn, id)? {
        return Err(StoreError::InvalidState(format!("card {id} could not be restored")));
    }
    history::add(conn, "card.restored", Some(id), "restored from the trash")?;
    Ok(())
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
        outbox::forget(conn, &op)?;
    }
    conflicts::remove(conn, op.card_id)?;
    remote::rebase(conn, op.card_id)?;
    history::add(conn, "op.discarded", Some(op.card_id), &format!("op {op_id} discarded"))?;
    Ok(op.card_id)
}

/// Settle a conflict. A resolution settles the card's WHOLE queue (docs/sync-engine.md, "Rules"):
/// every queued op of the card is replaced by at most one edit — the chosen values as a diff
/// against `theirs`, made on `theirs` — so nothing the user rejected is sent afterwards, and a
/// remote change newer than `theirs` is merged with the choice (or raised again), never
/// overwritten. Returns the ids whose local view changed.
pub fn resolve(conn: &Connection, card_id: Uuid, resolution: &Resolution) -> Result<Vec<Uuid>> {
    let (rec, op_id) = conflicts::get(conn, card_id)?
        .ok_or_else(|| StoreError::InvalidState(format!("card {card_id} has no conflict")))?;
    let priority = outbox::get(conn, op_id)?.map(|o| o.priority).unwrap_or(Priority::High);
    let theirs = rec.theirs.clone();
    let chosen: Option<CardFields> = match resolution {
        Resolution::KeepTheirs => None,
        // "mine" is kept current: edits made while the conflict was open folded into it.
        Resolution::KeepMine => Some(rec.mine.clone()),
        Resolution::Merged { fields } => {
            validate_new_card(&fields.to_new_card(card_id)).map_err(StoreError::Validation)?;
            Some(fields.clone())
        }
    };
    conflicts::remove(conn, card_id)?;
    remote::put_confirmed(conn, &theirs)?;
    outbox::remove_card_ops(conn, card_id)?;
    let ids = vec![card_id];
    match (rec.kind, chosen) {
        (ConflictKind::Fields, None) | (ConflictKind::EditVsDelete, None) => {}
        (ConflictKind::Fields, Some(f)) => {
            let theirs_f = CardFields::from_card(&theirs);
            let ch = diff(&theirs_f, &f);
            if !ch.is_empty() {
                let seen = Seen { fields: &theirs_f, version: Some(theirs.version) };
                outbox::enqueue(conn, card_id, OpPayload::Update(ch), Some(seen), priority)?;
            }
        }
        (ConflictKind::EditVsDelete, Some(f)) => {
            // "Restore with my changes" keeps the card's id: a restore of the tombstone
            // (`theirs`), then the chosen values as one edit made on the revived card — still
            // one resolution for the whole queue (rule 7).
            let theirs_f = CardFields::from_card(&theirs);
            let seen = Seen { fields: &theirs_f, version: Some(theirs.version) };
            outbox::enqueue(conn, card_id, OpPayload::Restore, Some(seen), priority)?;
            let ch = diff(&theirs_f, &f);
            if !ch.is_empty() {
                outbox::enqueue(conn, card_id, OpPayload::Update(ch), Some(seen), priority)?;
            }
            history::add(conn, "conflict.restored", Some(card_id), &format!("card {card_id} restored with the chosen values"))?;
        }
    }
    remote::rebase(conn, card_id)?;
    history::add(conn, "conflict.resolved", Some(card_id), &format!("{:?} resolved", rec.kind))?;
    Ok(ids)
}
