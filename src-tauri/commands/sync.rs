use deckhand_core::model::{HistoryEntry, SyncStatus};
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::Shell;

#[tauri::command]
pub async fn sync_pause(shell: State<'_, Shell>) -> CmdResult<()> {
    shell.engine.pause().await;
    Ok(())
}

#[tauri::command]
pub async fn sync_resume(shell: State<'_, Shell>) -> CmdResult<()> {
    shell.engine.resume().await;
    Ok(())
}

#[tauri::command]
pub async fn sync_now(shell: State<'_, Shell>) -> CmdResult<()> {
    shell.engine.sync_now().await?;
    Ok(())
}

/// The window has painted its first cards: background sync may start (the app opens the engine
/// with `hold_sync`; `setup` also releases it after `SYNC_HOLD_MAX` in case this never comes).
#[tauri::command]
pub async fn ui_ready(shell: State<'_, Shell>) -> CmdResult<()> {
    shell.engine.release_sync();
    Ok(())
}

#[tauri::command]
pub async fn sync_status(shell: State<'_, Shell>) -> CmdResult<SyncStatus> {
    Ok(shell.engine.status().await?)
}

#[tauri::command]
pub async fn sync_history(shell: State<'_, Shell>, limit: u32) -> CmdResult<Vec<HistoryEntry>> {
    Ok(shell.engine.history(limit.min(1000)).await?)
}

/// Opens the logs folder in the system file manager (no shell plugin: a fixed program, a fixed path).
#[tauri::command]
pub async fn open_logs_folder(shell: State<'_, Shell>) -> CmdResult<()> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(&shell.log_dir)
        .spawn()
        .map(|_| ())
        .map_err(|e| CommandError::Open(e.to_string()))
}
