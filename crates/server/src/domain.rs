//! What each write does to a card, independent of any database: every storage backend calls
//! `apply` inside its transaction, so the rules live in one place.

use chrono::{DateTime, Utc};
use deckhand_protocol::{Card, CardChanges, ErrorCode, NewCard, Problem};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum WriteOp {
    Create(NewCard),
    Patch { id: Uuid, base_version: i64, changes: CardChanges },
    Delete { id: Uuid, base_version: i64 },
    /// Brings a tombstone back to life with its fields; the only write that revives a card.
    Restore { id: Uuid, base_version: i64 },
}

impl WriteOp {
    pub fn card_id(&self) -> Uuid {
        match self {
            WriteOp::Create(c) => c.id,
            WriteOp::Patch { id, .. } | WriteOp::Delete { id, .. } | WriteOp::Restore { id, .. } => *id,
        }
    }

    /// HTTP status of a successful outcome.
    pub fn success_status(&self) -> u16 {
        match self {
            WriteOp::Create(_) => 201,
            _ => 200,
        }
    }
}

/// The card after `op`, or the problem that refuses it. `current` is the caller's stored card
/// with that id (live or tombstone), if any.
pub fn apply(op: &WriteOp, current: Option<&Card>, now: DateTime<Utc>) -> Result<Card, Problem> {
    match op {
        WriteOp::Create(new) => {
            if let Some(existing) = current {
                return Err(Problem::new(ErrorCode::AlreadyExists, format!("card {} already exists", new.id))
                    .with_current(existing.clone()));
            }
            Ok(Card {
                id: new.id,
                title: new.title.clone(),
                body: new.body.clone(),
                url: new.url.clone(),
                tags: new.tags.clone(),
                lane: new.lane.clone(),
                position: new.position,
                pinned: new.pinned,
                version: 1,
                created_at: now,
                updated_at: now,
                deleted: false,
                link_meta: new.link_meta.clone(),
            })
        }
        WriteOp::Patch { id, base_version, changes } => {
            let card = live(current, *id, *base_version)?;
            let mut next = card.clone();
            changes.apply_to(&mut next);
            // The same "fits" as a create (and as the client's validation): a card the server
            // holds can always be sent again whole (a restore, a re-offered create).
            let as_new = NewCard::from_card(&next);
            if !deckhand_protocol::card_fits(&as_new) {
                let detail = format!("the card would be {} bytes encoded; at most {} fit", deckhand_protocol::encoded_len(&as_new), deckhand_protocol::limits::CARD_MAX_ENCODED_BYTES);
                return Err(Problem::new(ErrorCode::ValidationFailed, detail.clone())
                    .with_errors(vec![deckhand_protocol::FieldError { field: "changes.body".into(), message: detail }]));
            }
            next.version += 1;
            next.updated_at = now;
            Ok(next)
        }
        WriteOp::Delete { id, base_version } => {
            let card = live(current, *id, *base_version)?;
            let mut next = card.clone();
            next.deleted = true;
            next.version += 1;
            next.updated_at = now;
            Ok(next)
        }
        WriteOp::Restore { id, base_version } => {
            let Some(card) = current else {
                return Err(Problem::new(ErrorCode::NotFound, format!("no card {id}")));
            };
            // A live card, or a tombstone at another version, is a conflict like a stale PATCH:
            // `current` tells the caller what the card is now (a restore retried after its
            // idempotency record expired finds its own effect there).
            if !card.deleted || card.version != *base_version {
                let why = if card.deleted { format!("base_version {base_version} is not the current version {}", card.version) } else { format!("card {id} is not deleted (version {})", card.version) };
                return Err(Problem::new(ErrorCode::VersionConflict, why).with_current(card.clone()));
            }
            let mut next = card.clone();
            next.deleted = false;
            next.version += 1;
            next.updated_at = now;
            Ok(next)
        }
    }
}

/// The current live card at `base_version`, or 404 / 410 / 409.
fn live(current: Option<&Card>, id: Uuid, base_version: i64) -> Result<&Card, Problem> {
    let Some(card) = current else {
        return Err(Problem::new(ErrorCode::NotFound, format!("no card {id}")));
    };
    if card.deleted {
        return Err(Problem::new(ErrorCode::Gone, format!("card {id} was deleted")).with_current(card.clone()));
    }
    if card.version != base_version {
        return Err(Problem::new(
            ErrorCode::VersionConflict,
            format!("base_version {base_version} is not the current version {}", card.version),
        )
        .with_current(card.clone()));
    }
    Ok(card)
}
