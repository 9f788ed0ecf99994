//! The storage seam: one trait, the transaction boundary of every request, with one module per
//! backend (`sqlite`: the embedded default; `postgres`: several instances on one database). Card
//! rules live in `crate::domain`, so backends only decide how to store and lock.
//!
//! Methods are synchronous; handlers call them on the blocking pool (the PostgreSQL backend
//! bridges to its async driver inside). The two on every write request, `write_many` and
//! `user_for_token`, also come as futures (`*_async`): the blocking pool by default, the driver's
//! own futures on PostgreSQL.

pub mod import;
pub mod notify;
pub mod postgres;

pub mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deckhand_protocol::{Card, CardVersion, Change, Lane, LaneChange, Problem};
use uuid::Uuid;

use crate::domain::WriteOp;
use crate::lanes::LaneOp;
use futures::future::BoxFuture;

pub use notify::{Notifier, Signal};

pub type UserId = i64;

/// Backend-neutral failures. Backends map their driver errors here; nothing above this module
/// sees a driver type.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// Worth retrying as is: lock timeout, serialization failure, deadlock, pool exhausted,
    /// connection lost. Answered as `503 overloaded` with `Retry-After`.
    #[error("database temporarily unavailable: {0}")]
    Retryable(String),
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database's schema is not one this build knows (edited or newer migration applied).
    #[error("schema: {0}")]
    Schema(String),
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
    /// sha256 of the bearer token the write came with; its short id is who wrote the version
    /// (`IdemKey::writer`). The write transaction checks, before
    /// anything else, that it is still live (`WriteOutcome::Revoked` if not), so a write route
    /// may skip the separate token lookup for a token it knows (`crate::auth::require_writer`).
    /// `None`: no check (tools and tests that call storage directly).
    pub token: Option<[u8; 32]>,
}

impl IdemKey {
    /// Who writes (the token's short id, `CardVersion::writer`); kept with the card's version.
    pub fn writer(&self) -> Option<String> {
        self.token.map(|t| crate::auth::writer_id(&crate::auth::TokenHash(t)))
    }
}

/// A response as stored for replay.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// `C` is what the feed got: a card `Change` or a `LaneChange`.
#[derive(Debug)]
pub enum WriteOutcome<C = Change> {
    /// The effect and its idempotency record committed together.
    Applied { response: StoredResponse, change: C },
    /// Refused by the card's state (404/409/410); nothing was written.
    Rejected(Problem),
    /// Same key, same request: the stored response, nothing changed.
    Replayed(StoredResponse),
    /// Same key, different request.
    KeyReused,
    /// Another transaction (possibly on another instance) is executing this key right now;
    /// nothing was written. Answered as `409 idempotency_in_flight`.
    InFlight,
    /// The write's token (`IdemKey::token`) is revoked; nothing was written, not even a replay
    /// answered. Answered as `401 unauthorized`.
    Revoked,
}

/// Where a deployment keeps its data, as `serve --db` spells it.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Location {
    pub fn parse(db: &str) -> Location {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            Location::Postgres(db.to_string())
        } else {
            Location::Sqlite(db.into())
        }
    }
}

/// One user's data and the accounts, behind one transaction per call.
///
/// Invariants every backend keeps (the sync protocol depends on them):
/// - **Seq density.** Each user's change numbers are 1, 2, 3, ... with no gap: the seq comes from
///   the user's counter row (`users.last_seq`), incremented inside the write transaction, never
///   from a sequence (a rolled-back or slow transaction would leave a hole or commit out of order).
/// - **Commit-order visibility.** A reader that sees seq N of a user also sees every seq below N:
///   the counter row lock serialises a user's writers, so they commit in seq order.
/// - **Read after lock.** A write reads the card it changes only after it holds the user's
///   counter row (or the whole database, on SQLite), so read-modify-write never loses an update
///   made by a concurrent writer on another connection or instance.
/// - **Record with effect.** An idempotency record commits in the same transaction as its card
///   change, never alone; a key that is executing elsewhere yields `WriteOutcome::InFlight`.
/// - **Live token.** A write with `IdemKey::token` reads the token's row in its own transaction
///   before anything else and writes nothing (`WriteOutcome::Revoked`) once it is revoked.
pub trait Storage: Send + Sync + 'static {
    fn add_user(&self, name: &str, token_hash: [u8; 32]) -> Result<UserId>;
    /// Adds another token for an existing user.
    fn add_token(&self, name: &str, token_hash: [u8; 32]) -> Result<UserId>;
    /// Revokes every token of `name`; returns how many.
    fn revoke_tokens(&self, name: &str) -> Result<usize>;
    /// The user a live token hash belongs to.
    fn user_for_token(&self, token_hash: &[u8; 32]) -> Result<Option<UserId>>;
    /// `user_for_token` for a caller on an async runtime (see `write_many_async`).
    fn user_for_token_async(self: Arc<Self>, token_hash: [u8; 32]) -> BoxFuture<'static, Result<Option<UserId>>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.user_for_token(&token_hash))
                .await
                .map_err(|_| StorageError::Backend("database task failed".into()))?
        })
    }

    fn get_card(&self, user: UserId, id: Uuid) -> Result<Option<Card>>;
    /// Live cards ordered by id, strictly after `after`; the page ends at `limit` cards or once
    /// their JSON reaches `max_bytes` (always at least one card); the flag tells whether more follow.
    fn cards_page(&self, user: UserId, after: Option<Uuid>, limit: u32, max_bytes: usize) -> Result<(Vec<Card>, bool)>;
    /// The latest state of every card changed after `since`, by seq, bounded like `cards_page`.
    fn changes_page(&self, user: UserId, since: i64, limit: u32, max_bytes: usize) -> Result<(Vec<Change>, bool)>;
    /// The user's latest change number (0 before the first write).
    fn last_seq(&self, user: UserId) -> Result<i64>;
    /// The database's identity, made at random when it was created (docs/protocol.md, "Epoch").
    fn epoch(&self) -> Result<String>;
    /// Gives the database a new random identity (after a restore from a backup); returns it.
    fn reset_epoch(&self) -> Result<String>;
    /// Runs `op` and stores its response under `idem` in one transaction.
    fn write(&self, user: UserId, idem: &IdemKey, op: &WriteOp, now: DateTime<Utc>) -> Result<WriteOutcome>;
    /// Several writes of one user (a `POST /v1/batch`), in order, each exactly as `write` runs
    /// it. A backend may commit them together, as long as one failing write never undoes another.
    fn write_many(&self, user: UserId, writes: &[(IdemKey, WriteOp)], now: DateTime<Utc>) -> Vec<Result<WriteOutcome>> {
        writes.iter().map(|(idem, op)| self.write(user, idem, op, now)).collect()
    }
    /// `write_many` for a caller on an async runtime (the write handlers). The default runs it on
    /// the blocking pool; a backend whose driver is async runs it on its own runtime instead,
    /// without tying up a blocking thread or waking one.
    fn write_many_async(
        self: Arc<Self>,
        user: UserId,
        writes: Vec<(IdemKey, WriteOp)>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'static, Result<Vec<Result<WriteOutcome>>>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.write_many(user, &writes, now))
                .await
                .map_err(|_| StorageError::Backend("database task failed".into()))
        })
    }
    /// Deletes idempotency records created before `before`; returns how many. With several
    /// instances on one database only one of them purges at a time (the others return 0).
    fn purge_idempotency(&self, before: DateTime<Utc>) -> Result<usize>;

    /// Purges tombstones for good: those last changed before `before` (Trash retention), of
    /// every user or only of `user` ("empty trash": `before` None = all of them). Raises each
    /// affected user's purge horizon (`purged_seq`) to the highest seq removed, in the same
    /// transaction. Returns how many.
    fn purge_tombstones(&self, user: Option<UserId>, before: Option<DateTime<Utc>>) -> Result<usize>;
    /// Stored versions of one card, newest first, below `before` (a version number) when given;
    /// at most `limit`, and whether more follow.
    fn card_versions(&self, user: UserId, id: Uuid, before: Option<i64>, limit: u32) -> Result<(Vec<CardVersion>, bool)>;
    /// Drops versions written before `before` and all but the newest `keep` of each card, never
    /// a card's current version. Returns how many.
    fn purge_versions(&self, before: DateTime<Utc>, keep: u32) -> Result<usize>;
    /// The user's purge horizon (0 before any purge).
    fn purged_seq(&self, user: UserId) -> Result<i64>;

    /// Every lane of the user, tombstones included (lane tombstones are never purged: a user
    /// has few lanes, and a late create of a deleted lane's id must still meet its tombstone).
    fn lanes(&self, user: UserId) -> Result<Vec<Lane>>;
    /// A lane write (rules in `crate::lanes`) under the same seq counter, lock and idempotency
    /// records as card writes.
    fn write_lane(&self, user: UserId, idem: &IdemKey, op: &LaneOp, now: DateTime<Utc>) -> Result<WriteOutcome<LaneChange>>;
    /// The latest state of every lane changed after `since`, by seq, at most `limit`; whether
    /// more follow.
    fn lane_changes(&self, user: UserId, since: i64, limit: u32) -> Result<(Vec<LaneChange>, bool)>;

    /// Cross-instance signals, for backends that several processes share (`None`: this process
    /// is the only writer and its in-memory hub sees every change).
    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        None
    }

    /// Convenience for tests and tools: the first `limit` changes after `since`.
    fn changes_since(&self, user: UserId, since: i64, limit: u32) -> Result<Vec<Change>> {
        self.changes_page(user, since, limit, usize::MAX).map(|(c, _)| c)
    }
}
