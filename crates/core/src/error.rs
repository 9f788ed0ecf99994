//! One error enum per subsystem: `StoreError` (SQLite), `SyncError` (network), `CoreError` (the
//! face-facing error with a stable `kind()`), and `IdleError` (why `wait_idle` did not settle).

use deckhand_protocol::FieldError;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("migration {name} was changed after it was applied (stored sha256 {stored}, now {now})")]
    MigrationChanged { name: String, stored: String, now: String },
    #[error("database has migration {0} that this build does not know (newer app version?)")]
    UnknownMigration(String),
    #[error("card {0} not found")]
    NotFound(Uuid),
    #[error("no lane {0:?}")]
    LaneNotFound(String),
    /// Lane names are unique case-insensitively; the lane that has the name.
    #[error("a lane named {0:?} exists already")]
    LaneNameTaken(String),
    #[error("op {0} not found")]
    OpNotFound(i64),
    #[error("invalid state: {0}")]
    InvalidState(String),
    #[error("validation failed: {}", fmt_fields(.0))]
    Validation(Vec<FieldError>),
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The database file itself is damaged (`quick_check` findings, a recovery that was refused).
    #[error("database file is damaged: {0}")]
    Damaged(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

fn fmt_fields(errs: &[FieldError]) -> String {
    errs.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

/// Everything that can go wrong talking to the server: the one error of the network subsystem
/// (transport failures and the server's refusals alike), classified once by `sync::client`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    /// Could not connect: no byte of the request reached the server.
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("request timed out")]
    Timeout,
    /// The connection broke mid-request, or the answer could not be read: the request may or may
    /// not have been applied.
    #[error("transport: {0}")]
    Transport(String),
    /// The server refused: its status, problem (when it sent one) and Retry-After.
    #[error("http {status}: {}", problem.as_ref().map(|p| p.detail.as_str()).unwrap_or("no problem body"))]
    Refused { status: u16, problem: Option<deckhand_protocol::Problem>, retry_after: Option<std::time::Duration> },
    /// What the server sent could not be recorded locally.
    #[error("store: {0}")]
    Store(String),
}

impl SyncError {
    /// A stable short code for op errors and logs (`connect`, `timeout`, `transport`, the
    /// problem's `code`, `http_<status>`, `store`).
    pub fn code(&self) -> String {
        match self {
            SyncError::Connect(_) => "connect".into(),
            SyncError::Timeout => "timeout".into(),
            SyncError::Transport(_) => "transport".into(),
            SyncError::Refused { problem: Some(p), .. } => p.code.as_str().into(),
            SyncError::Refused { status, .. } => format!("http_{status}"),
            SyncError::Store(_) => "store".into(),
        }
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            SyncError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            SyncError::Refused { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("storage error: {0}")]
    Storage(String),
    #[error("database is corrupt or incompatible: {0}")]
    CorruptDatabase(String),
    #[error("disk is full: {0}")]
    DiskFull(String),
    #[error("database is read-only: {0}")]
    ReadOnly(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("configuration error: {0}")]
    Config(String),
    #[error("{0}")]
    LaneNameTaken(String),
}

impl CoreError {
    /// Stable machine-readable kind (see docs/engine-api.md).
    pub fn kind(&self) -> &'static str {
        match self {
            CoreError::Validation(_) => "validation",
            CoreError::NotFound(_) => "not_found",
            CoreError::Storage(_) => "storage",
            CoreError::CorruptDatabase(_) => "corrupt_database",
            CoreError::DiskFull(_) => "disk_full",
            CoreError::ReadOnly(_) => "read_only",
            CoreError::InvalidState(_) => "invalid_state",
            CoreError::Config(_) => "config",
            CoreError::LaneNameTaken(_) => "lane_name_taken",
        }
    }

    /// The `{kind, message}` body the faces show.
    pub fn to_body(&self) -> crate::model::ErrorBody {
        crate::model::ErrorBody { kind: self.kind().to_string(), message: self.to_string() }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        use rusqlite::ErrorCode as C;
        match e {
            StoreError::Validation(_) => CoreError::Validation(e.to_string()),
            StoreError::NotFound(_) | StoreError::OpNotFound(_) | StoreError::LaneNotFound(_) => CoreError::NotFound(e.to_string()),
            StoreError::LaneNameTaken(_) => CoreError::LaneNameTaken(e.to_string()),
            StoreError::InvalidState(m) => CoreError::InvalidState(m),
            StoreError::MigrationChanged { .. }
            | StoreError::UnknownMigration(_)
            | StoreError::Corrupt(_)
            | StoreError::Damaged(_) => {
                CoreError::CorruptDatabase(e.to_string())
            }
            StoreError::Sqlite(ref s) => match s.sqlite_error_code() {
                Some(C::DiskFull) => CoreError::DiskFull(e.to_string()),
                Some(C::ReadOnly) => CoreError::ReadOnly(e.to_string()),
                Some(C::DatabaseCorrupt) | Some(C::NotADatabase) => CoreError::CorruptDatabase(e.to_string()),
                // Opening a file in a directory this process may not write.
                Some(C::CannotOpen) | Some(C::PermissionDenied) => CoreError::ReadOnly(e.to_string()),
                _ => CoreError::Storage(e.to_string()),
            },
            StoreError::Io(ref io) => match io.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => CoreError::DiskFull(e.to_string()),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                    CoreError::ReadOnly(e.to_string())
                }
                _ => CoreError::Storage(e.to_string()),
            },
            StoreError::Json(_) => CoreError::Storage(e.to_string()),
        }
    }
}

/// Why `Engine::wait_idle` could not report "outbox empty and caught up".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdleError {
    #[error("no server configured (working offline); {pending} op(s) queued")]
    Disabled { pending: u32 },
    #[error("sync is paused; {pending} op(s) queued")]
    Paused { pending: u32 },
    #[error("server unreachable; {pending} op(s) queued")]
    Offline { pending: u32 },
    #[error("server refused the token; sign in again")]
    AuthRequired,
    #[error("{0} conflict(s) wait for a resolution")]
    Conflicts(u32),
    #[error("{0} op(s) failed permanently (retry or discard them)")]
    Failed(u32),
    #[error("timed out with {pending} op(s) queued, caught up: {caught_up}")]
    Timeout { pending: u32, caught_up: bool },
    #[error("storage: {0}")]
    Storage(String),
}
