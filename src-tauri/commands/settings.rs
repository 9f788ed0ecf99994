use deckhand_core::ServerSettings;
use deckhand_core::model::AppSettings;
use tauri::{AppHandle, Runtime, State};

use crate::error::{CmdResult, CommandError};
use crate::settings;
use crate::state::Shell;

#[tauri::command]
pub async fn settings_get(shell: State<'_, Shell>) -> CmdResult<AppSettings> {
    Ok(settings::masked(&shell.settings()))
}

/// Saves and applies at once: a new server or token reconnects without a restart.
#[tauri::command]
pub async fn settings_set<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    settings: AppSettings,
) -> CmdResult<AppSettings> {
    if let Some(url) = &settings.server_url {
        let ok = url::Url::parse(url.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if !ok {
            return Err(CommandError::Config(format!("server URL must be an absolute http(s) URL, got {url:?}")));
        }
    }
    if settings.drain_window == 0 || settings.drain_window > 64 {
        return Err(CommandError::Config("drain window must be 1 to 64".into()));
    }
    let next = settings::merge_update(&shell.settings(), settings);
    settings::save(&app, &shell.data_dir, &next).map_err(CommandError::Config)?;
    *shell.settings.lock().unwrap_or_else(|p| p.into_inner()) = next.clone();
    apply(&shell, &next).await;
    Ok(settings::masked(&next))
}

/// Pushes settings into the running engine.
pub async fn apply(shell: &Shell, s: &AppSettings) {
    shell.engine.set_drain_window(s.drain_window as usize).await;
    shell.engine.set_server(server_of(s)).await;
    if s.sync_enabled {
        shell.engine.resume().await;
    } else {
        shell.engine.pause().await;
    }
}

pub fn server_of(s: &AppSettings) -> Option<ServerSettings> {
    match (&s.server_url, &s.token) {
        (Some(url), Some(token)) => Some(ServerSettings { url: url.clone(), token: token.clone() }),
        _ => None,
    }
}
