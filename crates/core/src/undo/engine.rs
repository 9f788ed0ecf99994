//! `Engine::undo` / `redo` / `undo_state`, and the labels the write API records steps under.

use deckhand_protocol::CardChanges;

use super::{UndoDirection, UndoOutcome, UndoState, apply, stack};
use crate::Engine;
use crate::error::CoreError;
use crate::model::BulkAction;

impl Engine {
    /// Undo the user's last action: a NEW write through the outbox on the card as it is now
    /// (offline too). Fields changed since are skipped and reported, never clobbered.
    /// `None` when there is nothing to undo.
    pub async fn undo(&self) -> Result<Option<UndoOutcome>, CoreError> {
        self.undo_redo(UndoDirection::Undo).await
    }

    /// Redo the last undone step (same rules as `undo`). `None` when there is nothing to redo.
    pub async fn redo(&self) -> Result<Option<UndoOutcome>, CoreError> {
        self.undo_redo(UndoDirection::Redo).await
    }

    /// The tops of the undo and redo stacks.
    pub async fn undo_state(&self) -> Result<UndoState, CoreError> {
        self.db(|s| s.read(stack::state)).await
    }

    async fn undo_redo(&self, direction: UndoDirection) -> Result<Option<UndoOutcome>, CoreError> {
        let out = self.db(move |s| s.write(|tx| apply::run(tx, direction))).await?;
        if let Some(o) = &out {
            let mut ids: Vec<_> = o.applied.iter().map(|a| a.card_id).collect();
            ids.dedup();
            self.after_write(ids);
        }
        Ok(out)
    }
}

/// `edit "title"`, or `move "title" to lane` when only the lane/position changed.
pub(crate) fn edit_label(title: &str, ch: &CardChanges) -> String {
    let only_place = ch.title.is_none() && ch.body.is_none() && ch.url.is_none() && ch.tags.is_none() && ch.pinned.is_none();
    match (&ch.lane, only_place) {
        (Some(lane), true) => format!("move \"{title}\" to {lane}"),
        (None, true) if ch.position.is_some() => format!("move \"{title}\""),
        _ => format!("edit \"{title}\""),
    }
}

pub(crate) fn bulk_label(n: usize, action: &BulkAction) -> String {
    let cards = if n == 1 { "1 card".to_string() } else { format!("{n} cards") };
    match action {
        BulkAction::Move { lane } => format!("move {cards} to {lane}"),
        BulkAction::AddTag { tag } => format!("tag {cards} #{tag}"),
        BulkAction::RemoveTag { tag } => format!("untag {cards} #{tag}"),
        BulkAction::Delete => format!("delete {cards}"),
        BulkAction::Update { .. } => format!("edit {cards}"),
    }
}
