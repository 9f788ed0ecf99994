//! Shell-only settings (the engine's `AppSettings` knows nothing of desktops): the quick capture
//! shortcut and notifications. Kept in the same store file under their own key.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime};
use tauri_plugin_store::StoreExt;
use ts_rs::TS;

const KEY: &str = "desktop";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
#[ts(export)]
pub struct DesktopSettings {
    /// Accelerator such as `CmdOrCtrl+Shift+Space`; `None` = no global shortcut.
    pub capture_shortcut: Option<String>,
    /// Notify when a conflict or a failed change needs the user and the window is not focused.
    pub notifications: bool,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        DesktopSettings { capture_shortcut: Some(crate::capture::DEFAULT_SHORTCUT.into()), notifications: true }
    }
}

/// What Settings shows: the settings, and whether the desktop accepted the shortcut.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct DesktopState {
    pub settings: DesktopSettings,
    /// Why the shortcut is not active (refused by the desktop, unparsable); `None` when it is or
    /// when there is none.
    pub shortcut_error: Option<String>,
}

pub fn load<R: Runtime>(app: &AppHandle<R>, data_dir: &Path) -> DesktopSettings {
    app.store(data_dir.join("settings.json"))
        .ok()
        .and_then(|s| s.get(KEY))
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

pub fn save<R: Runtime>(app: &AppHandle<R>, data_dir: &Path, s: &DesktopSettings) -> Result<(), String> {
    let store = app.store(data_dir.join("settings.json")).map_err(|e| e.to_string())?;
    store.set(KEY, serde_json::to_value(s).map_err(|e| e.to_string())?);
    store.save().map_err(|e| e.to_string())
}
