use deckhand_core::model::OutboxEntry;
use tauri::State;

use crate::error::CmdResult;
use crate::state::Shell;

#[tauri::command]
pub async fn outbox_list(shell: State<'_, Shell>) -> CmdResult<Vec<OutboxEntry>> {
    Ok(shell.engine.outbox().await?)
}

#[tauri::command]
pub async fn outbox_retry(shell: State<'_, Shell>, op_id: i64) -> CmdResult<()> {
    Ok(shell.engine.retry(op_id).await?)
}

#[tauri::command]
pub async fn outbox_retry_all(shell: State<'_, Shell>) -> CmdResult<u32> {
    Ok(shell.engine.retry_all().await?)
}

#[tauri::command]
pub async fn outbox_discard(shell: State<'_, Shell>, op_id: i64) -> CmdResult<()> {
    Ok(shell.engine.discard(op_id).await?)
}
