//! `Engine::import_file` and `Engine::export_file` (formats in `crate::io`). An import is parsed
//! and validated whole off the async threads, then written a chunk per transaction through the
//! store's single writer, so the user's own writes interleave with a long import; each chunk's
//! cards are announced (`CardsChanged`) and counted (`ImportProgress`) as it commits.

use std::path::PathBuf;

use tracing::Instrument;

use super::engine::Engine;
use crate::error::CoreError;
use crate::io::{self, ExportFormat, ExportReport, ImportOptions, ImportReport, TransferError};
use crate::model::{EngineEvent, ListQuery};
use crate::store::cards;

impl Engine {
    /// Import `path` (a file, or a folder of Markdown files). Idempotent: items already in this
    /// store are counted as `existing` and left alone. A file that cannot be imported is a
    /// `validation` error naming the item, and nothing of it is written.
    pub async fn import_file(&self, path: PathBuf, opts: ImportOptions) -> Result<ImportReport, CoreError> {
        let span = tracing::info_span!("import", path = %path.display(), job_id = opts.job_id.as_deref().unwrap_or(""));
        async {
            let (format, parsed) = tokio::task::spawn_blocking(move || -> Result<_, TransferError> {
                let format = match opts.format {
                    Some(f) => f,
                    None => io::detect(&path)?,
                };
                Ok((format, io::parse(&path, format, opts.folders.unwrap_or_default())?))
            })
            .await
            .map_err(|e| CoreError::Storage(format!("import task failed: {e}")))??;
            let total = parsed.items.len() as u32;
            tracing::info!(?format, total, ignored = parsed.ignored.len(), "import parsed");
            let progress = |done| {
                if let Some(job_id) = &opts.job_id {
                    self.sh.emit(EngineEvent::ImportProgress { job_id: job_id.clone(), done, total });
                }
            };
            progress(0);
            let (mut created, mut existing, mut done) = (0u32, 0u32, 0u32);
            let items = std::sync::Arc::new(parsed.items);
            for start in (0..items.len()).step_by(io::write::CHUNK) {
                let end = (start + io::write::CHUNK).min(items.len());
                let chunk = items.clone();
                let (ids, already) = self.sh.db(move |s| s.write(|tx| io::write::chunk(tx, &chunk[start..end]))).await?;
                created += ids.len() as u32;
                existing += already;
                done += (end - start) as u32;
                tracing::debug!(done, total, created = ids.len(), "import chunk committed");
                if !ids.is_empty() {
                    self.sh.emit(EngineEvent::CardsChanged { ids });
                    self.sh.wake.notify_one();
                    self.sh.schedule_status();
                }
                progress(done);
            }
            tracing::info!(created, existing, "import done");
            Ok(ImportReport { format, total, created, existing, ignored: parsed.ignored, unknown_columns: parsed.unknown_columns })
        }
        .instrument(span)
        .await
    }

    /// Write every card (or those `query` matches; its limit and offset are ignored) to `path`:
    /// a file for json and csv, a folder of `.md` files for md.
    pub async fn export_file(&self, path: PathBuf, format: ExportFormat, query: ListQuery) -> Result<ExportReport, CoreError> {
        let span = tracing::info_span!("export", path = %path.display(), ?format);
        async {
            let mut all = Vec::new();
            loop {
                let q = ListQuery { limit: Some(cards::LIST_LIMIT_MAX), offset: Some(all.len() as u32), ..query.clone() };
                let page = self.sh.db(move |s| s.read(|c| cards::list(c, &q))).await?;
                let n = page.items.len();
                all.extend(page.items);
                if n == 0 || all.len() as u32 >= page.total {
                    break;
                }
            }
            io::sort_for_export(&mut all);
            let n = all.len() as u32;
            let shown = path.display().to_string();
            tokio::task::spawn_blocking(move || -> Result<(), TransferError> {
                let bytes = match format {
                    ExportFormat::Json => io::json::export(&all),
                    ExportFormat::Csv => io::csv::export(&all)?,
                    ExportFormat::Md => {
                        io::markdown::export(&all, &path)?;
                        return Ok(());
                    }
                };
                std::fs::write(&path, bytes).map_err(|e| TransferError::Write { path: path.display().to_string(), source: e })
            })
            .await
            .map_err(|e| CoreError::Storage(format!("export task failed: {e}")))??;
            tracing::info!(cards = n, "export done");
            Ok(ExportReport { format, cards: n, path: shown })
        }
        .instrument(span)
        .await
    }
}
