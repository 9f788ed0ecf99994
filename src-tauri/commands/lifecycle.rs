//! Trash and version history (issue 12): thin wrappers over the engine's restore/trash/history/
//! revert. Restore and revert go through the outbox (they work offline); listing history and
//! emptying the trash need the server and answer `invalid_state` without one.

use deckhand_core::model::CardView;
use deckhand_protocol::{Card, CardVersion};
use tauri::State;
use uuid::Uuid;

use crate::error::CmdResult;
use crate::state::Shell;

/// Deleted cards that can still be restored, most recently deleted first (`updated_at` = when).
#[tauri::command]
pub async fn trash_list(shell: State<'_, Shell>) -> CmdResult<Vec<Card>> {
    Ok(shell.engine.trash().await?)
}

/// Bring a card back from the Trash with its id, fields, lane and tags (a restore op).
#[tauri::command]
pub async fn card_restore(shell: State<'_, Shell>, id: Uuid) -> CmdResult<CardView> {
    Ok(shell.engine.restore(id).await?)
}

/// Purge every trashed card for good (on the server, so on every device). Returns how many.
#[tauri::command]
pub async fn trash_empty(shell: State<'_, Shell>) -> CmdResult<u32> {
    Ok(u32::try_from(shell.engine.empty_trash().await?).unwrap_or(u32::MAX))
}

/// The card's versions on the server, newest first (at most `limit`).
#[tauri::command]
pub async fn card_history(shell: State<'_, Shell>, id: Uuid, limit: u32) -> CmdResult<Vec<CardVersion>> {
    Ok(shell.engine.card_history(id, limit).await?)
}

/// "Restore this version": the version's fields as a new edit on the card as it is now.
#[tauri::command]
pub async fn card_revert(shell: State<'_, Shell>, id: Uuid, version: i64) -> CmdResult<CardView> {
    Ok(shell.engine.revert(id, version).await?)
}
