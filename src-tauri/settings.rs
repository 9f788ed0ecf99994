//! Settings in tauri-plugin-store (`settings.json` in the data dir), all but the sync token: that
//! one lives in the `TokenStore` (OS keychain or a 0600 file) and is never sent back to the UI.

use std::path::Path;

use deckhand_core::model::AppSettings;
use tauri::{AppHandle, Runtime};
use tauri_plugin_store::StoreExt;

use crate::secrets::TokenStore;

const KEY: &str = "settings";

pub fn load<R: Runtime>(app: &AppHandle<R>, data_dir: &Path, tokens: &TokenStore) -> AppSettings {
    let mut settings = app
        .store(data_dir.join("settings.json"))
        .ok()
        .and_then(|s| s.get(KEY))
        .and_then(|v| serde_json::from_value::<AppSettings>(v).ok())
        .unwrap_or_default();
    // Older versions kept the token in plain text here: move it to the token store, then drop it
    // from the file. If the move fails the file keeps it, so the user is never logged out by it.
    if let Some(plain) = settings.token.take().filter(|t| !t.is_empty()) {
        match tokens.save(Some(&plain)) {
            Ok(()) => match write(app, data_dir, &settings) {
                Ok(()) => tracing::info!(storage = ?tokens.storage(), "moved the plaintext sync token out of settings.json"),
                Err(e) => tracing::error!(error = %e, "token moved, but settings.json still holds it"),
            },
            Err(e) => tracing::error!(error = %e, "could not move the plaintext sync token; it stays in settings.json"),
        }
        settings.token = Some(plain);
    } else {
        settings.token = tokens.load().unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not read the sync token");
            None
        });
    }
    // `make run` and the end-to-end suite hand the app its server on first run.
    if settings.server_url.is_none() && !settings.first_run_done {
        if let (Ok(url), Ok(token)) = (std::env::var("DECKHAND_SERVER"), std::env::var("DECKHAND_TOKEN")) {
            settings.server_url = Some(url);
            settings.token = Some(token);
            settings.first_run_done = true;
        }
    }
    settings.token_set = settings.token.as_deref().is_some_and(|t| !t.is_empty());
    settings
}

/// Saves the settings; the token goes to the token store, and only when it changed.
pub fn save<R: Runtime>(app: &AppHandle<R>, data_dir: &Path, tokens: &TokenStore, settings: &AppSettings, token_changed: bool) -> Result<(), String> {
    if token_changed {
        tokens.save(settings.token.as_deref()).map_err(|e| e.to_string())?;
    }
    write(app, data_dir, settings)
}

fn write<R: Runtime>(app: &AppHandle<R>, data_dir: &Path, settings: &AppSettings) -> Result<(), String> {
    let store = app.store(data_dir.join("settings.json")).map_err(|e| e.to_string())?;
    let on_disk = AppSettings { token: None, ..settings.clone() };
    store.set(KEY, serde_json::to_value(on_disk).map_err(|e| e.to_string())?);
    store.save().map_err(|e| e.to_string())
}

/// What the UI may see: the token masked.
pub fn masked(settings: &AppSettings) -> AppSettings {
    AppSettings { token: None, token_set: settings.token.as_deref().is_some_and(|t| !t.is_empty()), ..settings.clone() }
}

/// Applies an update from the UI: `token: None` keeps the stored token, `""` clears it.
pub fn merge_update(current: &AppSettings, update: AppSettings) -> AppSettings {
    let token = match update.token {
        None => current.token.clone(),
        Some(t) if t.is_empty() => None,
        Some(t) => Some(t),
    };
    let server_url = update.server_url.filter(|u| !u.trim().is_empty()).map(|u| u.trim().trim_end_matches('/').to_string());
    AppSettings { token_set: token.is_some(), token, server_url, ..update }
}
