//! The import/export subsystem's one error enum. Every file error names the item it is about, so
//! a user can fix the file; none of them leaves a half-written import behind (see `io`).

use deckhand_protocol::FieldError;

use crate::error::{CoreError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot tell the file's format ({0}); name it (json, csv, md, trello or bookmarks)")]
    UnknownFormat(String),
    /// The file is not what its format says (bad JSON, a CSV row of the wrong width, bad YAML).
    #[error("malformed file at {item}: {message}")]
    Malformed { item: String, message: String },
    /// An item parsed but is not a valid card; nothing was imported.
    #[error("{item} is not a valid card: {}", fmt_fields(.errors))]
    Invalid { item: String, errors: Vec<FieldError> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn fmt_fields(errs: &[FieldError]) -> String {
    errs.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

impl From<TransferError> for CoreError {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::Store(s) => s.into(),
            TransferError::Read { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => CoreError::NotFound(e.to_string()),
            TransferError::Write { ref source, .. } if matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) => {
                CoreError::DiskFull(e.to_string())
            }
            TransferError::Read { .. } | TransferError::Write { .. } => CoreError::Storage(e.to_string()),
            // A file the user picked that cannot be imported: the user's input, reported as such.
            TransferError::UnknownFormat(_) | TransferError::Malformed { .. } | TransferError::Invalid { .. } => {
                CoreError::Validation(e.to_string())
            }
        }
    }
}
