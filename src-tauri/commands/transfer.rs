//! Import… and Export…: native file dialogs opened from Rust (tauri-plugin-dialog), so the
//! webview needs no dialog or file-system permission, and commands that take the chosen path —
//! which the e2e test calls with a path directly (a native dialog cannot be driven there).
//! Progress reaches the UI as `import_progress` engine events.

use std::path::PathBuf;

use deckhand_core::io::{ExportFormat, ExportReport, ImportOptions, ImportReport};
use deckhand_core::model::ListQuery;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::{DialogExt, FilePath};

use crate::error::{CmdResult, CommandError};
use crate::state::Shell;

#[tauri::command]
pub async fn cards_import(shell: State<'_, Shell>, path: String, options: ImportOptions) -> CmdResult<ImportReport> {
    Ok(shell.engine.import_file(PathBuf::from(path), options).await?)
}

#[tauri::command]
pub async fn cards_export(shell: State<'_, Shell>, path: String, format: ExportFormat, query: ListQuery) -> CmdResult<ExportReport> {
    Ok(shell.engine.export_file(PathBuf::from(path), format, query).await?)
}

fn chosen(p: Option<FilePath>) -> CmdResult<Option<String>> {
    p.map(|p| p.into_path().map(|p| p.display().to_string()).map_err(|e| CommandError::Dialog(e.to_string()))).transpose()
}

/// The native "open" dialog: a file of any importable kind, or (`folder`) a folder of Markdown
/// notes. `None` when the user cancelled.
#[tauri::command]
pub async fn import_pick<R: Runtime>(app: AppHandle<R>, folder: bool) -> CmdResult<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let d = app.dialog().file().set_title(if folder { "Import a folder of Markdown notes" } else { "Import cards" });
    if folder {
        d.pick_folder(move |p| {
            let _ = tx.send(p);
        });
    } else {
        d.add_filter("Cards (JSON, CSV, Markdown, Trello, bookmarks)", &["json", "csv", "md", "markdown", "html", "htm"]).pick_file(move |p| {
            let _ = tx.send(p);
        });
    }
    chosen(rx.await.map_err(|_| CommandError::Dialog("the dialog closed without an answer".into()))?)
}

/// The native "save" dialog for an export (a folder for Markdown). `None` when cancelled.
#[tauri::command]
pub async fn export_pick<R: Runtime>(app: AppHandle<R>, format: ExportFormat) -> CmdResult<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let d = app.dialog().file().set_title("Export cards");
    match format {
        ExportFormat::Md => d.pick_folder(move |p| {
            let _ = tx.send(p);
        }),
        ExportFormat::Json => d.add_filter("Deckhand JSON", &["json"]).set_file_name("deckhand-cards.json").save_file(move |p| {
            let _ = tx.send(p);
        }),
        ExportFormat::Csv => d.add_filter("CSV", &["csv"]).set_file_name("deckhand-cards.csv").save_file(move |p| {
            let _ = tx.send(p);
        }),
    }
    chosen(rx.await.map_err(|_| CommandError::Dialog("the dialog closed without an answer".into()))?)
}
