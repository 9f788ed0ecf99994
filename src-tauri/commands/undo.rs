//! Undo / redo of the user's own actions: the engine's persisted stack (docs/sync-engine.md,
//! rule 12). Each answers the `UndoOutcome` (what was put back, what was skipped and why) for the
//! toast, or null when there is nothing to undo / redo.

use deckhand_core::undo::{UndoOutcome, UndoState};
use tauri::State;

use crate::error::CmdResult;
use crate::state::Shell;

#[tauri::command]
pub async fn undo(shell: State<'_, Shell>) -> CmdResult<Option<UndoOutcome>> {
    Ok(shell.engine.undo().await?)
}

#[tauri::command]
pub async fn redo(shell: State<'_, Shell>) -> CmdResult<Option<UndoOutcome>> {
    Ok(shell.engine.redo().await?)
}

/// The labels on top of both stacks (menu and toolbar titles, enabled state).
#[tauri::command]
pub async fn undo_state(shell: State<'_, Shell>) -> CmdResult<UndoState> {
    Ok(shell.engine.undo_state().await?)
}
