//! Engine events become the Tauri event `engine-event`; the UI never polls.

use deckhand_core::Engine;
use deckhand_core::model::{EngineEvent, ResyncReason};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

pub const ENGINE_EVENT: &str = "engine-event";

pub fn forward<R: Runtime>(app: AppHandle<R>, engine: &Engine) {
    let mut rx = engine.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    let _ = app.emit(ENGINE_EVENT, &event);
                    if let EngineEvent::StatusChanged { status } = &event {
                        crate::tray::update(&app, status);
                    }
                    crate::notify::maybe_notify(&app, &event);
                }
                // Fell behind: tell the UI, in so many words, to reload everything rather than
                // miss a change (the UI handles `resync` by reloading its views and status).
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "engine events lagged; asking the UI to reload");
                    let _ = app.emit(ENGINE_EVENT, &EngineEvent::Resync { reason: ResyncReason::EventsLagged });
                    if let Some(shell) = app.try_state::<crate::state::Shell>() {
                        match shell.engine.status().await {
                            Ok(status) => {
                                let _ = app.emit(ENGINE_EVENT, &EngineEvent::StatusChanged { status });
                            }
                            Err(e) => tracing::error!(error = %e, "could not read the sync status"),
                        }
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}
