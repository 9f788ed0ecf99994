//! The tray icon (Tauri's `tray-icon` feature): the sync state at a glance and "New card",
//! "Sync now", "Open", "Quit". Where the desktop has no tray (no StatusNotifier host, no
//! appindicator library), building it fails and the app runs without one.

use deckhand_core::model::{ConnectionState, SyncStatus};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use crate::capture::{self, Capture};

/// The state line: conflicts first (they need the user), then offline, then pending, else synced.
pub fn label(s: &SyncStatus) -> String {
    if s.conflicts > 0 {
        return format!("{} conflict{}", s.conflicts, if s.conflicts == 1 { "" } else { "s" });
    }
    match s.connection {
        ConnectionState::Offline | ConnectionState::AuthRequired => return "Offline".into(),
        ConnectionState::Paused => return "Paused".into(),
        ConnectionState::Disabled => return "Working offline (no server)".into(),
        _ => {}
    }
    let pending = s.pending + s.in_flight;
    if pending > 0 { format!("Pending {pending}") } else if s.failed > 0 { format!("{} failed", s.failed) } else { "Synced".into() }
}

pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    state_item: MenuItem<R>,
}

pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let state_item = MenuItem::with_id(app, "state", "Sync status loading", false, None::<&str>)?;
    let new = MenuItem::with_id(app, "new", "New card", true, None::<&str>)?;
    let sync = MenuItem::with_id(app, "sync", "Sync now", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let sep = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&state_item, &sep, &new, &sync, &open, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main").menu(&menu).tooltip("Deckhand").on_menu_event(|app, event| on_menu(app, event.id.as_ref()));
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(app)?;
    app.manage(Tray { icon, state_item });
    Ok(())
}

pub fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match id {
        "new" => capture::open(app, Capture::default()),
        "open" => capture::show_main(app),
        "sync" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Some(shell) = app.try_state::<crate::state::Shell>() {
                    if let Err(e) = shell.engine.sync_now().await {
                        tracing::error!(error = %e, "sync now from the tray failed");
                    }
                }
            });
        }
        "quit" => app.exit(0),
        _ => {}
    }
}

pub fn update<R: Runtime>(app: &AppHandle<R>, status: &SyncStatus) {
    if let Some(tray) = app.try_state::<Tray<R>>() {
        let text = label(status);
        let _ = tray.state_item.set_text(&text);
        let _ = tray.icon.set_tooltip(Some(format!("Deckhand: {text}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(connection: &str, pending: u32, conflicts: u32) -> SyncStatus {
        serde_json::from_value(serde_json::json!({
            "connection": connection, "breaker": "closed", "pending": pending, "in_flight": 0, "failed": 0,
            "conflicts": conflicts, "oldest_pending_age_ms": null, "last_synced_at": null,
            "stream": { "state": "connected", "connected_since": null, "events_created": 0, "events_updated": 0, "events_deleted": 0, "last_event_at": null, "last_event_id": null },
            "recovery": null
        }))
        .unwrap()
    }

    #[test]
    fn label_says_synced_pending_offline_conflicts() {
        assert_eq!(label(&status("online", 0, 0)), "Synced");
        assert_eq!(label(&status("online", 3, 0)), "Pending 3");
        assert_eq!(label(&status("offline", 3, 0)), "Offline");
        assert_eq!(label(&status("offline", 3, 2)), "2 conflicts");
        assert_eq!(label(&status("online", 0, 1)), "1 conflict");
    }
}
