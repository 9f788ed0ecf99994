//! The quick capture global shortcut (tauri-plugin-global-shortcut). Off when the user clears it
//! in Settings, and off, with the reason shown there, when the desktop refuses it (Wayland
//! compositors without a global shortcut portal, a combination another app holds).

use tauri::{AppHandle, Manager, Runtime};

use crate::capture::{self, Capture};

/// Replaces whatever shortcut was registered with `accel`; returns why it is not active, if not.
pub fn apply<R: Runtime>(app: &AppHandle<R>, accel: Option<&str>) -> Option<String> {
    #[cfg(desktop)]
    {
        use tauri_plugin_global_shortcut::{GlobalShortcut, GlobalShortcutExt, ShortcutState};
        // Not there under the mock runtime of the command tests, nor when the plugin failed.
        if app.try_state::<GlobalShortcut<R>>().is_none() {
            return accel.map(|_| "global shortcuts are not available here".to_string());
        }
        let gs = app.global_shortcut();
        if let Err(e) = gs.unregister_all() {
            tracing::warn!(error = %e, "could not unregister the previous shortcut");
        }
        let accel = accel?.trim();
        if accel.is_empty() {
            return None;
        }
        let result = gs.on_shortcut(accel, |app, _shortcut, event| {
            if event.state == ShortcutState::Pressed {
                capture::open(app, Capture::default());
            }
        });
        match result {
            Ok(()) => {
                tracing::info!(shortcut = accel, "quick capture shortcut registered");
                None
            }
            Err(e) => {
                tracing::warn!(shortcut = accel, error = %e, "the desktop refused the quick capture shortcut");
                Some(e.to_string())
            }
        }
    }
    #[cfg(not(desktop))]
    {
        let _ = (app, accel);
        Some("no global shortcuts on this platform".into())
    }
}
