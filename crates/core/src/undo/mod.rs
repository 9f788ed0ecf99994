//! Undo and redo of the user's own actions (docs/sync-engine.md, "Undo and redo").
//!
//! Each action (an edit, a move, a delete, a whole bulk action, a restore, a revert, a create) is
//! ONE step on a persisted, bounded stack (`stack`): per card, the fields it touched before and
//! after, or that the card went to or came back from the Trash. Undoing a step is a NEW write
//! through the outbox, made on the card as it is NOW (`apply`): a field is put back only while it
//! still holds what the action set; a field changed since (by another device or a later action)
//! is skipped and reported, never clobbered. Redo is the same on the step the undo recorded.

pub mod apply;
pub(crate) mod engine;
pub mod stack;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// Steps kept on the undo stack; older ones fall off.
pub const UNDO_MAX: i64 = 100;

/// What one step did to one card (persisted as JSON in `undo_steps.changes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Fields edited: only the touched ones, as JSON values keyed by field name.
    Edit { card_id: Uuid, before: serde_json::Map<String, serde_json::Value>, after: serde_json::Map<String, serde_json::Value> },
    /// The card went to the Trash; its last fields (to bring back a card the server never saw).
    Removed { card_id: Uuid, fields: crate::model::CardFields },
    /// The card appeared: created, or restored from the Trash.
    Appeared { card_id: Uuid },
}

impl Change {
    pub fn card_id(&self) -> Uuid {
        match self {
            Change::Edit { card_id, .. } | Change::Removed { card_id, .. } | Change::Appeared { card_id } => *card_id,
        }
    }
}

/// Undo or redo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum UndoDirection {
    Undo,
    Redo,
}

/// What an undo or redo did to one card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "effect", rename_all = "snake_case")]
#[ts(export)]
pub enum UndoEffect {
    /// These fields were put back.
    Edited { fields: Vec<String> },
    /// The card went (back) to the Trash.
    Deleted,
    /// The card came back from the Trash with its id.
    Restored,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct UndoApplied {
    pub card_id: Uuid,
    /// The card's title (for the toast).
    pub title: String,
    #[serde(flatten)]
    #[ts(flatten)]
    pub effect: UndoEffect,
}

/// Why part of a step was not undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum UndoSkipReason {
    /// The field no longer holds what the action set: it was changed since (on another device
    /// or by a later action). Putting the old value back would clobber that change.
    ChangedSince,
    /// The card is in the Trash (or gone) now; its fields cannot be edited.
    CardDeleted,
    /// The card is already live again (restored or recreated since).
    AlreadyLive,
    /// The card's delete is still on its way to the server; it can be brought back once the
    /// server has answered.
    Busy,
    /// The card has an open conflict; resolve it first.
    InConflict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct UndoSkipped {
    pub card_id: Uuid,
    /// The field skipped; none when the whole card was.
    pub field: Option<String>,
    pub reason: UndoSkipReason,
    /// Human-readable, for the toast and the CLI.
    pub message: String,
}

/// The answer of `Engine::undo` / `Engine::redo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct UndoOutcome {
    pub direction: UndoDirection,
    /// The step's label (e.g. `edit "Groceries"`, `move 12 cards to done`).
    pub label: String,
    pub applied: Vec<UndoApplied>,
    pub skipped: Vec<UndoSkipped>,
    /// Steps left to undo and to redo afterwards (for enabling menu items).
    pub undo_depth: u32,
    pub redo_depth: u32,
}

/// The tops of both stacks (menu items: "Undo edit …", "Redo …").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct UndoState {
    pub undo: Option<String>,
    pub redo: Option<String>,
    pub undo_depth: u32,
    pub redo_depth: u32,
}
