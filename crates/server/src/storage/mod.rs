//! Storage behind a trait so a PostgreSQL backend can follow the embedded SQLite one.
//! Methods are synchronous; handlers call them on the blocking pool.

mod schema;
pub mod sqlite;

use chrono::{DateTime, Utc};
use deckhand_protocol::{Card, Change, Problem};
use uuid::Uuid;

use crate::domain::WriteOp;

pub type UserId = i64;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database is busy")]
    Busy,
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("user {0:?} already exists")]
    UserExists(String),
    #[error("no user {0:?}")]
    NoSuchUser(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// The request identity an idempotency record is matched on.
#[derive(Debug, Clone)]
pub struct IdemKey {
    pub key: String,
    /// sha256 of method, path (with query) and body.
    pub fingerprint: [u8; 32],
}

/// A response as stored for replay.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Debug)]
pub enum WriteOutcome {
    /// The effect and its idempotency record committed together.
    Applied { response: StoredResponse, change: Change },
    /// Refused by the card's state (404/409/410); nothing was written.
    Rejected(Problem),
    /// Same key, same request: the stored response, nothing changed.
    Replayed(StoredResponse),
    /// Same key, different request.
    KeyReused,
}

pub trait Storage: Send + Sync + 'static {
    fn add_user(&self, name: &str, token_hash: [u8; 32]) -> Result<UserId>;
    /// Adds another token for an existing user.
    fn add_token(&self, name: &str, token_hash: [u8; 32]) -> Result<UserId>;
    /// Revokes every token of `name`; returns how many.
    fn revoke_tokens(&self, name: &str) -> Result<usize>;
    /// The user a live token hash belongs to.
    fn user_for_token(&self, token_hash: &[u8; 32]) -> Result<Option<UserId>>;

    fn get_card(&self, user: UserId, id: Uuid) -> Result<Option<Card>>;
    /// Live cards ordered by id, strictly after `after`.
    fn list_cards(&self, user: UserId, after: Option<Uuid>, limit: u32) -> Result<Vec<Card>>;
    /// The latest state of every card changed after `since`, by seq.
    fn changes_since(&self, user: UserId, since: i64, limit: u32) -> Result<Vec<Change>>;
    /// Like `list_cards`, but the page also ends once its cards' JSON reaches `max_bytes` (always
    /// at least one card); the flag tells whether more cards follow.
    fn cards_page(&self, user: UserId, after: Option<Uuid>, limit: u32, max_bytes: usize) -> Result<(Vec<Card>, bool)>;
    /// Like `changes_since`, bounded by `max_bytes` the same way; the flag tells whether more follow.
    fn changes_page(&self, user: UserId, since: i64, limit: u32, max_bytes: usize) -> Result<(Vec<Change>, bool)>;
    /// The user's latest change number (0 before the first write).
    fn last_seq(&self, user: UserId) -> Result<i64>;
    /// The database's identity, made at random when it was created (docs/protocol.md, "Epoch").
    fn epoch(&self) -> Result<String>;
    /// Gives the database a new random identity (after a restore from a backup); returns it.
    fn reset_epoch(&self) -> Result<String>;
    /// Runs `op` and stores its response under `idem` in one transaction.
    fn write(&self, user: UserId, idem: &IdemKey, op: &WriteOp, now: DateTime<Utc>) -> Result<WriteOutcome>;
    /// Deletes idempotency records created before `before`; returns how many.
    fn purge_idempotency(&self, before: DateTime<Utc>) -> Result<usize>;
    /// Idempotency records whose card change is missing (must always be 0; used by checks).
    fn orphan_idempotency_records(&self) -> Result<u64>;
}
