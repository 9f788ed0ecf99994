//! The one error every command returns: `{kind, message}`, so the UI can branch on `kind`.

use deckhand_core::CoreError;
use deckhand_core::model::ErrorBody;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{0}")]
    Config(String),
    #[error("could not open the logs folder: {0}")]
    Open(String),
}

impl CommandError {
    pub fn body(&self) -> ErrorBody {
        let kind = match self {
            CommandError::Core(e) => e.kind(),
            CommandError::Config(_) => "config",
            CommandError::Open(_) => "io",
        };
        ErrorBody { kind: kind.to_string(), message: self.to_string() }
    }
}

impl Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(s)
    }
}

pub type CmdResult<T> = Result<T, CommandError>;
