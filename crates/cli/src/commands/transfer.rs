//! `export` and `import`: the engine's import/export (deckhand_core::io) with a progress line on
//! stderr (rewritten in place on a terminal, one line per step otherwise).

use std::io::{IsTerminal, Write};

use deckhand_core::Engine;
use deckhand_core::io::{ExportFormat, FolderMapping, ImportFormat, ImportOptions};
use deckhand_core::model::{EngineEvent, ListQuery};

use crate::args::{ExportArgs, ExportFormatArg, FoldersArg, ImportArgs, ImportFormatArg};
use crate::output::Out;

pub async fn export(engine: &Engine, out: &Out, a: ExportArgs) -> anyhow::Result<()> {
    let format = match a.format {
        ExportFormatArg::Json => ExportFormat::Json,
        ExportFormatArg::Csv => ExportFormat::Csv,
        ExportFormatArg::Md => ExportFormat::Md,
    };
    let query = ListQuery { text: a.query, lane: a.lane, tag: a.tag, ..Default::default() };
    let r = engine.export_file(a.out, format, query).await?;
    out.value(&r, || format!("exported {} card(s) to {}", r.cards, r.path));
    Ok(())
}

pub async fn import(engine: &Engine, out: &Out, a: ImportArgs) -> anyhow::Result<()> {
    let format = a.format.map(|f| match f {
        ImportFormatArg::Json => ImportFormat::Json,
        ImportFormatArg::Csv => ImportFormat::Csv,
        ImportFormatArg::Md => ImportFormat::Md,
        ImportFormatArg::Trello => ImportFormat::Trello,
        ImportFormatArg::Bookmarks => ImportFormat::Bookmarks,
    });
    let folders = a.folders.map(|f| match f {
        FoldersArg::Tags => FolderMapping::Tags,
        FoldersArg::Lane => FolderMapping::Lane,
    });
    let job_id = "cli-import".to_string();
    let mut events = engine.subscribe();
    let tty = std::io::stderr().is_terminal();
    let job = job_id.clone();
    // Prints until the import's last step (done == total) or the channel closes.
    let printer = tokio::spawn(async move {
        let mut printed = false;
        loop {
            match events.recv().await {
                Ok(EngineEvent::ImportProgress { job_id, done, total }) if job_id == job => {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "{}importing: {done}/{total}", if tty { "\r" } else { "" });
                    let _ = if tty { err.flush() } else { writeln!(err) };
                    printed = true;
                    if done == total {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                _ => {}
            }
        }
        if printed && tty {
            eprintln!();
        }
    });
    let result = engine.import_file(a.file, ImportOptions { format, folders, job_id: Some(job_id) }).await;
    if result.is_err() {
        printer.abort();
    } else {
        let _ = printer.await;
    }
    let r = result?;
    out.value(&r, || {
        let mut lines = vec![format!("imported {} card(s) from {:?}: {} created, {} already here", r.total, r.format, r.created, r.existing)];
        if !r.unknown_columns.is_empty() {
            lines.push(format!("columns not imported (no such card field): {}", r.unknown_columns.join(", ")));
        }
        for i in &r.ignored {
            lines.push(format!("left out: {i}"));
        }
        lines.join("\n")
    });
    Ok(())
}
