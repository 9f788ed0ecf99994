//! Deckhand desktop shell: a thin Tauri v2 layer over `deckhand-core`. Commands map 1:1 to the
//! engine (docs/commands.md); engine events are forwarded; no sync logic lives here.

pub mod capture;
pub mod commands;
pub mod desktop;
pub mod error;
pub mod events;
pub mod instance;
pub mod ipc;
mod logging;
pub mod notify;
pub mod secrets;
pub mod settings;
pub mod shortcut;
pub mod state;
pub mod tray;

use std::path::PathBuf;
use std::sync::Mutex;

use deckhand_core::{Engine, EngineConfig};
use tauri::{App, Builder, Manager, Runtime};

use crate::state::Shell;

/// Where the database, settings and logs live: the given dir, `DECKHAND_DATA_DIR`, or the
/// platform app data dir.
fn data_dir<R: Runtime>(app: &App<R>, given: Option<PathBuf>) -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    if let Ok(dir) = std::env::var("DECKHAND_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    Ok(app.path().app_data_dir()?)
}

/// Longest the first paint may hold background sync back (a window that never loads must not
/// keep the outbox from draining).
const SYNC_HOLD_MAX: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens the engine on the local database (cards show at once) and starts syncing in the background.
pub fn setup<R: Runtime>(app: &mut App<R>, given: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    setup_with(app, given, |_| {})
}

/// `setup`, letting the caller adjust the engine config last (tests: a size cap, read-only).
pub fn setup_with<R: Runtime>(
    app: &mut App<R>,
    given: Option<PathBuf>,
    adjust: impl FnOnce(&mut EngineConfig),
) -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = data_dir(app, given)?;
    let log_dir = data_dir.join("logs");
    std::fs::create_dir_all(&log_dir)?;
    if let Some(guard) = logging::init(&log_dir) {
        app.manage(guard);
    }
    let tokens = secrets::TokenStore::open(&data_dir);
    let settings = settings::load(app.handle(), &data_dir, &tokens);
    let mut config = EngineConfig::new(&data_dir);
    config.server = commands::settings::server_of(&settings);
    config.drain_window = settings.drain_window.max(1) as usize;
    config.link_meta_auto = settings.link_previews == Some(true);
    // Sync waits for the window's first paint (`ui_ready`), at most SYNC_HOLD_MAX.
    config.hold_sync = true;
    adjust(&mut config);
    let hold_sync = config.hold_sync;
    tracing::info!(data_dir = %data_dir.display(), server = ?settings.server_url, "opening engine");
    let engine = match tauri::async_runtime::block_on(Engine::open(config.clone())) {
        Ok(engine) => engine,
        // A data dir this user may not write: open read-only, so the cards still show and every
        // write answers `{kind: "read_only"}` instead of the app not starting.
        Err(e) if e.kind() == "read_only" => {
            tracing::error!(error = %e, "database not writable: opening it read-only");
            config.read_only = true;
            tauri::async_runtime::block_on(Engine::open(config))?
        }
        Err(e) => return Err(e.into()),
    };
    if let Ok(Some(r)) = tauri::async_runtime::block_on(engine.recovery()) {
        tracing::warn!(moved_to = %r.moved_to, reason = %r.reason, salvaged = r.salvaged, "last database recovery");
    }
    if !settings.sync_enabled {
        tauri::async_runtime::block_on(engine.pause());
    }
    events::forward(app.handle().clone(), &engine);
    if hold_sync {
        let handle = app.handle().clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(SYNC_HOLD_MAX).await;
            if let Some(shell) = handle.try_state::<Shell>() {
                shell.engine.release_sync();
            }
        });
    }
    tracing::info!("engine ready");
    let desktop_settings = desktop::load(app.handle(), &data_dir);
    let shortcut_error = shortcut::apply(app.handle(), desktop_settings.capture_shortcut.as_deref());
    let desktop = Mutex::new(desktop::DesktopState { settings: desktop_settings, shortcut_error });
    app.manage(capture::PendingCapture::default());
    app.manage(Shell { engine, settings: Mutex::new(settings), data_dir, log_dir, tokens, desktop });
    Ok(())
}

/// The app minus its context and setup: `run` uses the real runtime, tests the mock one and call
/// `setup` themselves with their own data dir.
pub fn builder<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    use commands::{cards, conflicts, outbox, sync};
    builder
        .plugin(tauri_plugin_store::Builder::new().build())
        // Links open in the user's browser; the capability scopes it to http(s) URLs.
        .plugin(tauri_plugin_opener::init())
        // Import…/Export… dialogs, opened by our own commands (no dialog permission in the webview).
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            cards::cards_list,
            cards::card_get,
            cards::lanes_list,
            cards::tags_list,
            commands::lanes::lane_add,
            commands::lanes::lane_rename,
            commands::lanes::lane_move,
            commands::lanes::lane_delete,
            cards::card_create,
            cards::card_update,
            cards::card_move,
            cards::card_delete,
            cards::cards_bulk,
            commands::lifecycle::trash_list,
            commands::lifecycle::card_restore,
            commands::lifecycle::trash_empty,
            commands::lifecycle::card_history,
            commands::lifecycle::card_revert,
            commands::links::card_create_checked,
            commands::links::card_refresh_meta,
            commands::links::cards_refresh_meta,
            commands::links::cards_broken,
            outbox::outbox_list,
            outbox::outbox_retry,
            outbox::outbox_retry_all,
            outbox::outbox_discard,
            commands::recovery::recovery_report,
            commands::recovery::recovery_list,
            commands::recovery::recovery_requeue,
            commands::recovery::recovery_discard,
            conflicts::conflicts_list,
            conflicts::conflict_resolve,
            sync::sync_pause,
            sync::sync_resume,
            sync::sync_now,
            sync::ui_ready,
            sync::sync_status,
            sync::sync_history,
            sync::open_logs_folder,
            commands::settings::settings_get,
            commands::settings::settings_set,
            commands::settings::token_storage,
            commands::desktop::desktop_settings_get,
            commands::desktop::desktop_settings_set,
            capture::capture_take,
            commands::undo::undo,
            commands::undo::redo,
            commands::undo::undo_state,
            commands::transfer::cards_import,
            commands::transfer::cards_export,
            commands::transfer::import_pick,
            commands::transfer::export_pick,
        ])
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::Destroyed = event {
                if let Some(shell) = window.try_state::<Shell>() {
                    tauri::async_runtime::block_on(shell.engine.shutdown());
                }
            }
        })
}

/// The desktop app: `builder` plus what only a real desktop has (single instance, deep links,
/// window state, notifications, global shortcut, tray).
pub fn run() {
    // First: a second start hands its arguments (a `deckhand://` link, say) to the running
    // window and exits before it opens anything.
    let base = tauri::Builder::default().plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
        tracing::info!("second start: handing over to the running window");
        if !capture::from_args(app, &argv) {
            capture::show_main(app);
        }
    }));
    let built = builder(base)
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_global_shortcut::Builder::new().build())
        .setup(|app| {
            // Before anything touches the database: one process per data dir. A dir we cannot
            // even create a lock file in is left to the read-only fallback in `setup`.
            match instance::lock(&data_dir(app, None)?) {
                Ok(lock) => {
                    app.manage(lock);
                }
                Err(e @ instance::InstanceError::Busy(_)) => return Err(e.into()),
                Err(e) => tracing::warn!(error = %e, "no data dir lock"),
            }
            setup(app, None)?;
            desktop_setup(app.handle());
            Ok(())
        })
        .build(tauri::generate_context!());
    match built {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            // e.g. another Deckhand holds this data dir (no session bus to forward to it).
            eprintln!("Deckhand could not start: {e}");
            std::process::exit(1);
        }
    }
}

fn desktop_setup<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Err(e) = tray::build(app) {
        tracing::warn!(error = %e, "no tray icon on this desktop");
    }
    // Links opened while running (macOS, Windows; Linux goes through single-instance's argv).
    {
        use tauri_plugin_deep_link::DeepLinkExt;
        let handle = app.clone();
        app.deep_link().on_open_url(move |event| {
            for url in event.urls() {
                if let Some(c) = capture::parse_link(url.as_str()) {
                    capture::open(&handle, c);
                }
            }
        });
    }
    // The window's size and place are saved as they change, not only on a clean exit: a session
    // ended by logout, a crash or a kill still comes back where it was.
    if let Some(window) = app.get_webview_window("main") {
        use tauri_plugin_window_state::{AppHandleExt, StateFlags};
        let handle = app.clone();
        window.on_window_event(move |event| {
            if matches!(event, tauri::WindowEvent::Resized(_) | tauri::WindowEvent::Moved(_)) {
                if let Err(e) = handle.save_window_state(StateFlags::all()) {
                    tracing::warn!(error = %e, "could not save the window state");
                }
            }
        });
    }
    // Started by a link: the capture waits for the UI (capture_take).
    let args: Vec<String> = std::env::args().skip(1).collect();
    capture::from_args(app, &args);
    tracing::info!("desktop hooks ready");
}
