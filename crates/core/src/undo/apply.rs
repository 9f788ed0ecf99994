//! Recording what an action did, and undoing it on the card as it is now.

use deckhand_protocol::CardChanges;
use rusqlite::Connection;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::stack::{self, Stack};
use super::{Change, UndoApplied, UndoDirection, UndoEffect, UndoOutcome, UndoSkipReason, UndoSkipped};
use crate::model::{CardFields, Priority};
use crate::store::{Result, cards, conflicts, outbox, remote, writes};

/// The cards' local fields (`None`: not live, i.e. in the Trash or unknown).
pub fn snapshot(conn: &Connection, ids: &[Uuid]) -> Result<Vec<(Uuid, Option<CardFields>)>> {
    ids.iter().map(|id| Ok((*id, cards::get_local(conn, *id)?.map(|l| l.fields)))).collect()
}

/// The card's title now (live or in the Trash), for labels.
pub fn title(conn: &Connection, id: Uuid) -> Result<String> {
    if let Some(l) = cards::get_local(conn, id)? {
        return Ok(l.fields.title);
    }
    Ok(remote::confirmed(conn, id)?.map(|c| c.title).unwrap_or_default())
}

/// Fields (or changes: only the touched ones) as the JSON object they serialize to.
fn object_of(v: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// What happened to one card between two snapshots; `None` when nothing did.
fn change_between(id: Uuid, before: Option<CardFields>, after: Option<CardFields>) -> Option<Change> {
    match (before, after) {
        (None, None) => None,
        (None, Some(_)) => Some(Change::Appeared { card_id: id }),
        (Some(fields), None) => Some(Change::Removed { card_id: id, fields }),
        (Some(b), Some(a)) => {
            // The touched fields' new values, and (the diff the other way) their old ones: two
            // small objects instead of both cards serialized whole and picked from.
            let touched = crate::merge::diff(&b, &a);
            if touched.is_empty() {
                return None;
            }
            Some(Change::Edit { card_id: id, before: object_of(&crate::merge::diff(&a, &b)), after: object_of(&touched) })
        }
    }
}

/// Run `write` (a user action on `ids`) and record what it did as ONE undo step, in the
/// caller's transaction: the step and the action commit together or not at all.
pub fn tracked<R>(conn: &Connection, label: &str, ids: &[Uuid], write: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let ids: Vec<Uuid> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    tracked_from(conn, label, snapshot(conn, &ids)?, write)
}

/// `tracked`, from a snapshot the caller already took (of distinct cards; e.g. to label the
/// step with the card's title without reading it twice).
pub fn tracked_from<R>(conn: &Connection, label: &str, before: Vec<(Uuid, Option<CardFields>)>, write: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
    let ids: Vec<Uuid> = before.iter().map(|(id, _)| *id).collect();
    let out = write(conn)?;
    let after = snapshot(conn, &ids)?;
    let changes: Vec<Change> = before.into_iter().zip(after).filter_map(|((id, b), (_, a))| change_between(id, b, a)).collect();
    stack::record(conn, label, &changes)?;
    Ok(out)
}

/// Record a step whose changes the caller knows (a create: the id exists only afterwards).
pub fn record(conn: &Connection, label: &str, changes: &[Change]) -> Result<()> {
    stack::record(conn, label, changes)
}

/// Undo (or redo) the top step: the inverse of each change, made on the card as it is now.
/// What was done goes on the other stack as a step of its own; `None` when the stack is empty.
pub fn run(conn: &Connection, direction: UndoDirection) -> Result<Option<UndoOutcome>> {
    let (from, to) = match direction {
        UndoDirection::Undo => (Stack::Undo, Stack::Redo),
        UndoDirection::Redo => (Stack::Redo, Stack::Undo),
    };
    let Some((label, changes)) = stack::pop(conn, from)? else { return Ok(None) };
    let (mut applied, mut skipped, mut done) = (Vec::new(), Vec::new(), Vec::new());
    // Last change first: a step's changes are undone in reverse.
    for ch in changes.iter().rev() {
        let id = ch.card_id();
        let before = cards::get_local(conn, id)?.map(|l| l.fields);
        invert(conn, ch, &mut skipped)?;
        let after = cards::get_local(conn, id)?.map(|l| l.fields);
        let Some(did) = change_between(id, before, after) else { continue };
        let effect = match &did {
            Change::Edit { after, .. } => UndoEffect::Edited { fields: after.keys().cloned().collect() },
            Change::Removed { .. } => UndoEffect::Deleted,
            Change::Appeared { .. } => UndoEffect::Restored,
        };
        applied.push(UndoApplied { card_id: id, title: title(conn, id)?, effect });
        done.push(did);
    }
    applied.reverse();
    done.reverse();
    if !done.is_empty() {
        stack::push(conn, to, &label, &done)?;
    }
    tracing::info!(?direction, %label, applied = applied.len(), skipped = skipped.len(), "undo step");
    Ok(Some(UndoOutcome {
        direction,
        label,
        applied,
        skipped,
        undo_depth: stack::depth(conn, Stack::Undo)?,
        redo_depth: stack::depth(conn, Stack::Redo)?,
    }))
}

fn skip(out: &mut Vec<UndoSkipped>, card_id: Uuid, field: Option<&str>, reason: UndoSkipReason, message: String) {
    out.push(UndoSkipped { card_id, field: field.map(str::to_string), reason, message });
}

/// Queue the inverse of `ch` against the card's current state; what cannot be inverted without
/// clobbering a later change is reported in `skipped`.
fn invert(conn: &Connection, ch: &Change, skipped: &mut Vec<UndoSkipped>) -> Result<()> {
    match ch {
        Change::Edit { card_id, before, after } => {
            let id = *card_id;
            let Some(local) = cards::get_local(conn, id)? else {
                let msg = format!("card \"{}\" is in the trash now; its fields were left alone", title(conn, id)?);
                skip(skipped, id, None, UndoSkipReason::CardDeleted, msg);
                return Ok(());
            };
            let now = object_of(&local.fields);
            let mut put_back = Map::new();
            for (field, set) in after {
                if now.get(field) == Some(set) {
                    if let Some(old) = before.get(field) {
                        put_back.insert(field.clone(), old.clone());
                    }
                } else {
                    let now_v = now.get(field).cloned().unwrap_or(Value::Null);
                    let msg = format!("\"{}\": {field} was changed since (now {now_v}); kept", local.fields.title);
                    skip(skipped, id, Some(field), UndoSkipReason::ChangedSince, msg);
                }
            }
            if put_back.is_empty() {
                return Ok(());
            }
            let changes: CardChanges = serde_json::from_value(Value::Object(put_back))?;
            writes::update(conn, id, &changes, Priority::Normal)?;
        }
        Change::Removed { card_id, fields } => {
            let id = *card_id;
            if cards::exists(conn, id)? {
                skip(skipped, id, None, UndoSkipReason::AlreadyLive, format!("\"{}\" is already back", fields.title));
                return Ok(());
            }
            if conflicts::get(conn, id)?.is_some() {
                let msg = format!("\"{}\" has an open conflict; resolve it instead", fields.title);
                skip(skipped, id, None, UndoSkipReason::InConflict, msg);
                return Ok(());
            }
            if remote::confirmed(conn, id)?.is_some() {
                // The server knows it: a restore op against the tombstone (same id) ...
                writes::restore(conn, id, Priority::Normal)?;
                // ... then, as one edit on top, what the user saw when deleting it that the
                // tombstone lacks (their edits a queued delete superseded).
                if let Some(back) = cards::get_local(conn, id)? {
                    let missing = crate::merge::diff(&back.fields, fields);
                    if !missing.is_empty() {
                        writes::update(conn, id, &missing, Priority::Normal)?;
                    }
                }
            } else if outbox::for_card(conn, id)?.is_empty() {
                // Never reached the server and nothing queued: the same card again, same id.
                writes::create_card(conn, fields.to_new_card(id), Priority::Normal)?;
            } else {
                let msg = format!("\"{}\" cannot be brought back yet (its delete is still being sent); try again", fields.title);
                skip(skipped, id, None, UndoSkipReason::Busy, msg);
            }
        }
        Change::Appeared { card_id } => {
            let id = *card_id;
            if !cards::exists(conn, id)? {
                let msg = format!("\"{}\" is already in the trash", title(conn, id)?);
                skip(skipped, id, None, UndoSkipReason::CardDeleted, msg);
                return Ok(());
            }
            writes::delete(conn, id, Priority::Normal)?;
        }
    }
    Ok(())
}
