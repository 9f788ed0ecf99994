use tauri::{AppHandle, Runtime, State};

use crate::desktop::{self, DesktopSettings, DesktopState};
use crate::error::{CmdResult, CommandError};
use crate::shortcut;
use crate::state::Shell;

#[tauri::command]
pub async fn desktop_settings_get(shell: State<'_, Shell>) -> CmdResult<DesktopState> {
    Ok(shell.desktop())
}

/// Saves the desktop settings and re-registers the shortcut; the answer says whether the desktop
/// accepted it.
#[tauri::command]
pub async fn desktop_settings_set<R: Runtime>(app: AppHandle<R>, shell: State<'_, Shell>, settings: DesktopSettings) -> CmdResult<DesktopState> {
    desktop::save(&app, &shell.data_dir, &settings).map_err(CommandError::Config)?;
    let shortcut_error = shortcut::apply(&app, settings.capture_shortcut.as_deref());
    let next = DesktopState { settings, shortcut_error };
    *shell.desktop.lock().unwrap_or_else(|p| p.into_inner()) = next.clone();
    Ok(next)
}
