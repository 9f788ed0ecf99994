//! Recovery after a corrupt local database (docs/engine-api.md, "Recovery"): the report, and the
//! ops salvaged from the old outbox, which the user requeues or discards.

use deckhand_core::model::{RecoveryReport, RequeueReport, SalvagedOp};
use tauri::State;

use crate::error::CmdResult;
use crate::state::Shell;

/// The last recovery (the old file's new path and why), or null.
#[tauri::command]
pub async fn recovery_report(shell: State<'_, Shell>) -> CmdResult<Option<RecoveryReport>> {
    Ok(shell.engine.recovery().await?)
}

#[tauri::command]
pub async fn recovery_list(shell: State<'_, Shell>) -> CmdResult<Vec<SalvagedOp>> {
    Ok(shell.engine.salvaged().await?)
}

/// Queue salvaged ops again; `ids` empty = all of them.
#[tauri::command]
pub async fn recovery_requeue(shell: State<'_, Shell>, ids: Vec<i64>) -> CmdResult<RequeueReport> {
    Ok(shell.engine.requeue_salvaged(ids).await?)
}

/// Drop salvaged ops; `ids` empty = all of them. Returns how many were dropped.
#[tauri::command]
pub async fn recovery_discard(shell: State<'_, Shell>, ids: Vec<i64>) -> CmdResult<u32> {
    Ok(shell.engine.discard_salvaged(ids).await?)
}
