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
    let prev = shell.settings();
    let next = settings::merge_update(&prev, settings);
    settings::save(&app, &shell.data_dir, &shell.tokens, &next, prev.token != next.token).map_err(CommandError::Config)?;
    *shell.settings.lock().unwrap_or_else(|p| p.into_inner()) = next.clone();
    apply(&shell, &prev, &next).await;
    Ok(settings::masked(&next))
}

/// Where the sync token is kept, for the Settings page.
#[derive(serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct TokenStorageInfo {
    pub storage: crate::secrets::TokenStorage,
    /// Why the OS keychain is not used (`None` when it is).
    pub fallback_reason: Option<String>,
    /// The fallback file (`None` when the keychain is used).
    pub file: Option<String>,
}

#[tauri::command]
pub async fn token_storage(shell: State<'_, Shell>) -> CmdResult<TokenStorageInfo> {
    let t = &shell.tokens;
    let file = (t.storage() == crate::secrets::TokenStorage::File).then(|| t.file().display().to_string());
    Ok(TokenStorageInfo { storage: t.storage(), fallback_reason: t.fallback_reason.clone(), file })
}

/// Pushes what changed into the running engine. Only a new server or token reconnects: a
/// reconnect aborts in-flight sends, drops the change stream and re-pulls, which a theme or a
/// drain window change must never cost.
pub async fn apply(shell: &Shell, prev: &AppSettings, next: &AppSettings) {
    if prev.drain_window != next.drain_window {
        shell.engine.set_drain_window(next.drain_window as usize).await;
    }
    let server = server_of(next);
    if server_of(prev) != server {
        tracing::info!(server = ?next.server_url, "server or token changed: reconnecting");
        shell.engine.set_server(server).await;
    }
    if prev.link_previews != next.link_previews {
        shell.engine.set_link_meta_auto(next.link_previews == Some(true));
    }
    if prev.sync_enabled != next.sync_enabled {
        if next.sync_enabled {
            shell.engine.resume().await;
        } else {
            shell.engine.pause().await;
        }
    }
}

pub fn server_of(s: &AppSettings) -> Option<ServerSettings> {
    match (&s.server_url, &s.token) {
        (Some(url), Some(token)) => Some(ServerSettings { url: url.clone(), token: token.clone() }),
        _ => None,
    }
}
