//! Desktop notifications (tauri-plugin-notification) for what needs the user while they are
//! elsewhere: a conflict, or a change the server refused for good. Never while the window has
//! focus (the inbox and toasts show it there), never when turned off in Settings.

use deckhand_core::model::EngineEvent;
use tauri::{AppHandle, Manager, Runtime};

/// The (title, body) to show for an event, if it is one that needs the user.
pub fn message(event: &EngineEvent, card_title: impl FnOnce(&str) -> Option<String>) -> Option<(String, String)> {
    match event {
        EngineEvent::ConflictDetected { conflict } => Some((
            "Deckhand: a conflict needs you".into(),
            format!("“{}” changed here and on another device. Open Deckhand to choose.", conflict.mine.title),
        )),
        EngineEvent::OpFailed { card_id, error, .. } => {
            let title = card_title(&card_id.to_string()).unwrap_or_else(|| "a card".into());
            Some(("Deckhand: a change was refused".into(), format!("The server refused the change to “{title}”: {}", error.message)))
        }
        _ => None,
    }
}

pub fn maybe_notify<R: Runtime>(app: &AppHandle<R>, event: &EngineEvent) {
    let Some(shell) = app.try_state::<crate::state::Shell>() else { return };
    if !shell.desktop().settings.notifications {
        return;
    }
    let focused = app.get_webview_window("main").and_then(|w| w.is_focused().ok()).unwrap_or(false);
    if focused {
        return;
    }
    // The card's title for a failed op: best effort, the notification never waits on it.
    let Some((title, body)) = message(event, |_| None) else { return };
    #[cfg(desktop)]
    {
        use tauri_plugin_notification::NotificationExt;
        if app.try_state::<tauri_plugin_notification::Notification<R>>().is_some() {
            if let Err(e) = app.notification().builder().title(&title).body(&body).show() {
                tracing::warn!(error = %e, "could not show a notification");
            }
        }
    }
    tracing::info!(%title, "notified");
}

#[cfg(test)]
mod tests {
    use super::*;
    use deckhand_core::model::EngineEvent;

    #[test]
    fn only_what_needs_the_user_notifies() {
        let resolved: EngineEvent = serde_json::from_value(serde_json::json!({ "type": "conflict_resolved", "card_id": "00000000-0000-7000-8000-000000000001" })).unwrap();
        assert_eq!(message(&resolved, |_| None), None);
        assert_eq!(message(&EngineEvent::CardsChanged { ids: vec![] }, |_| None), None);
        let failed: EngineEvent = serde_json::from_value(serde_json::json!({
            "type": "op_failed", "op_id": 7, "card_id": "00000000-0000-7000-8000-000000000001",
            "error": { "code": "validation", "message": "title too long", "status": 422 }
        }))
        .unwrap();
        let (title, body) = message(&failed, |_| Some("Plan".into())).unwrap();
        assert!(title.contains("refused"), "{title}");
        assert!(body.contains("“Plan”") && body.contains("title too long"), "{body}");
    }
}
