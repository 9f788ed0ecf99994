//! Quick capture: a global shortcut, the tray's "New card" and `deckhand://new?title=…&url=…`
//! links all show the main window with the capture form (the UI saves the card, offline at once).

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use ts_rs::TS;

pub const QUICK_CAPTURE_EVENT: &str = "quick-capture";
pub const DEFAULT_SHORTCUT: &str = "CmdOrCtrl+Shift+Space";
const MAX_TITLE: usize = 500;

/// What the capture form starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Capture {
    pub title: String,
    pub url: Option<String>,
}

/// `deckhand://new?title=…&url=…` → a capture; anything else (another host, a non-http(s) url) is
/// not one of ours or is dropped, so a web page cannot smuggle a `javascript:` link in.
pub fn parse_link(link: &str) -> Option<Capture> {
    let u = url::Url::parse(link).ok()?;
    if u.scheme() != "deckhand" || u.host_str() != Some("new") {
        return None;
    }
    let mut c = Capture::default();
    for (k, v) in u.query_pairs() {
        match &*k {
            "title" => c.title = v.trim().chars().take(MAX_TITLE).collect(),
            "url" => {
                c.url = url::Url::parse(v.trim()).ok().filter(|p| matches!(p.scheme(), "http" | "https") && p.has_host()).map(|p| p.to_string())
            }
            _ => {}
        }
    }
    Some(c)
}

/// The capture waiting for the UI. A capture can come before the UI listens (the app was started
/// by the link), so the event is only a poke: the UI takes the capture with `capture_take`, at
/// start and on each event, and whichever comes first gets it (never twice).
#[derive(Default)]
pub struct PendingCapture(pub std::sync::Mutex<Option<Capture>>);

/// Brings the main window forward and hands the UI the capture.
pub fn open<R: Runtime>(app: &AppHandle<R>, capture: Capture) {
    tracing::info!(has_url = capture.url.is_some(), "quick capture");
    if let Some(p) = app.try_state::<PendingCapture>() {
        *p.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(capture.clone());
    }
    show_main(app);
    let _ = app.emit(QUICK_CAPTURE_EVENT, capture);
}

#[tauri::command]
pub async fn capture_take(pending: tauri::State<'_, PendingCapture>) -> crate::error::CmdResult<Option<Capture>> {
    Ok(pending.0.lock().unwrap_or_else(|e| e.into_inner()).take())
}

pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Deep links among a process's arguments (a second start forwards its argv here).
pub fn from_args<R: Runtime>(app: &AppHandle<R>, args: &[String]) -> bool {
    let mut any = false;
    for c in args.iter().filter_map(|a| parse_link(a)) {
        open(app, c);
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_and_unsafe_urls_are_dropped() {
        let c = parse_link("deckhand://new?title=Read%20this&url=https%3A%2F%2Fexample.org%2Fa%3Fb%3D1").unwrap();
        assert_eq!(c, Capture { title: "Read this".into(), url: Some("https://example.org/a?b=1".into()) });
        let c = parse_link("deckhand://new?title=x&url=javascript:alert(1)").unwrap();
        assert_eq!(c.url, None);
        assert_eq!(parse_link("deckhand://delete?id=1"), None);
        assert_eq!(parse_link("https://new?title=x"), None);
        assert_eq!(parse_link("deckhand://new").unwrap(), Capture::default());
    }
}
