//! The one error every command returns: `{kind, message}`, so the UI can branch on `kind`.

use deckhand_core::CoreError;
use deckhand_core::model::ErrorBody;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{0}")]
    Config(String),
    #[error("could not open the logs folder: {0}")]
    Open(String),
    #[error("file dialog: {0}")]
    Dialog(String),
}

/// Every `kind` a command can answer with. The UI gets it as a TypeScript union (ui/src/bindings)
/// and shows its own message per kind, so a new kind here fails the UI's type check until handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorKind {
    Validation,
    NotFound,
    Storage,
    CorruptDatabase,
    DiskFull,
    ReadOnly,
    InvalidState,
    Config,
    Io,
    /// Another lane has that name (case-insensitively).
    LaneNameTaken,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Storage => "storage",
            ErrorKind::CorruptDatabase => "corrupt_database",
            ErrorKind::DiskFull => "disk_full",
            ErrorKind::ReadOnly => "read_only",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::Config => "config",
            ErrorKind::Io => "io",
            ErrorKind::LaneNameTaken => "lane_name_taken",
        }
    }

    fn of_core(e: &CoreError) -> ErrorKind {
        match e {
            CoreError::Validation(_) => ErrorKind::Validation,
            CoreError::NotFound(_) => ErrorKind::NotFound,
            CoreError::Storage(_) => ErrorKind::Storage,
            CoreError::CorruptDatabase(_) => ErrorKind::CorruptDatabase,
            CoreError::DiskFull(_) => ErrorKind::DiskFull,
            CoreError::ReadOnly(_) => ErrorKind::ReadOnly,
            CoreError::InvalidState(_) => ErrorKind::InvalidState,
            CoreError::Config(_) => ErrorKind::Config,
            CoreError::LaneNameTaken(_) => ErrorKind::LaneNameTaken,
        }
    }
}

impl CommandError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommandError::Core(e) => ErrorKind::of_core(e),
            CommandError::Config(_) => ErrorKind::Config,
            CommandError::Open(_) | CommandError::Dialog(_) => ErrorKind::Io,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody { kind: self.kind().as_str().to_string(), message: self.to_string() }
    }
}

impl Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(s)
    }
}

pub type CmdResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire string of each kind is the one the engine documents and serde writes.
    #[test]
    fn kinds_match_the_engine_and_serde() {
        let all = [
            CoreError::Validation(String::new()),
            CoreError::NotFound(String::new()),
            CoreError::Storage(String::new()),
            CoreError::CorruptDatabase(String::new()),
            CoreError::DiskFull(String::new()),
            CoreError::ReadOnly(String::new()),
            CoreError::InvalidState(String::new()),
            CoreError::Config(String::new()),
        ];
        for e in all {
            let k = ErrorKind::of_core(&e);
            assert_eq!(k.as_str(), e.kind());
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::String(e.kind().into()));
        }
        assert_eq!(serde_json::to_value(ErrorKind::Io).unwrap(), "io");
    }
}
