use deckhand_core::model::{ConflictRecord, Resolution};
use tauri::State;
use uuid::Uuid;

use crate::error::CmdResult;
use crate::state::Shell;

#[tauri::command]
pub async fn conflicts_list(shell: State<'_, Shell>) -> CmdResult<Vec<ConflictRecord>> {
    Ok(shell.engine.conflicts().await?)
}

#[tauri::command]
pub async fn conflict_resolve(shell: State<'_, Shell>, card_id: Uuid, resolution: Resolution) -> CmdResult<()> {
    Ok(shell.engine.resolve(card_id, resolution).await?)
}
