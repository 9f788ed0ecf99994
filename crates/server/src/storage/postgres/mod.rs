//! PostgreSQL backend: several `serve` instances on one database.
//!
//! How the `Storage` invariants hold here (READ COMMITTED, never SERIALIZABLE):
//! - a write first takes a transaction-scoped advisory lock on (user, idempotency key) — held
//!   elsewhere means another instance is executing that key: `WriteOutcome::InFlight`;
//! - then `UPDATE users SET last_seq = last_seq + 1 ... RETURNING` allocates the seq and locks
//!   the user's counter row until commit, so one user's writers commit one at a time, in seq
//!   order, and a reader at cursor N never sees N+2 before N+1;
//! - only then is the card read (read after lock), changed by `crate::domain`, and stored
//!   together with the idempotency record; the record's primary key is the backstop.
//!
//! The trait is synchronous (handlers call it on the blocking pool); this backend runs its
//! driver on a runtime (its own, or the server's: `connect_on`) and waits for each call's task.
//! The write and token paths are also offered as futures (`write_many_async`,
//! `user_for_token_async`), which the handlers await without a blocking thread.

mod listener;
pub mod migrations;

pub use listener::Pokes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use deckhand_protocol::{Card, CardVersion, Change, Lane, LaneChange, lane_key};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::{IdemKey, Notifier, Result, Storage, StorageError, StoredResponse, UserId, WriteOutcome};
use crate::domain::{self, WriteOp};
use crate::lanes::{self, LaneOp};

/// Advisory lock keys (two-int form, a key space apart from the one-bigint idempotency locks).
pub const LOCK_CLASS: i32 = 0x0DEC_4A4D;
pub const LOCK_MIGRATE: i32 = 1;
pub const LOCK_PURGE: i32 = 2;
/// NOTIFY channel shared by every instance.
pub(crate) const CHANNEL: &str = "deckhand";
/// Idempotency records deleted per purge transaction.
const PURGE_BATCH: i64 = 1000;
/// Attempts of a write whose transaction failed in a retryable way.
const WRITE_ATTEMPTS: usize = 4;

/// Environment switch of the planted bug below (tests only; never set it in production).
pub const PLANTED_BUG_ENV: &str = "DECKHAND_PLANTED_BUG_SEQUENCE_ALLOCATOR";

pub struct PgStorage {
    /// The allocator the issue warns against (a global SEQUENCE, no counter row lock), kept so
    /// the multi-instance ordering test can show that it catches skipped changes.
    planted_sequence_allocator: bool,
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    notifier: Arc<listener::PgNotifier>,
}

/// Maps a driver error: lost connections, lock timeouts, serialization failures and deadlocks
/// are worth a retry; the rest is a backend error.
pub(crate) fn db_err(e: tokio_postgres::Error) -> StorageError {
    let retryable = [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::LOCK_NOT_AVAILABLE,
        SqlState::QUERY_CANCELED,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
    ];
    let text = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => format!("{e}: {}", std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()),
    };
    match e.code() {
        Some(code) if retryable.contains(code) => StorageError::Retryable(text),
        Some(_) => StorageError::Backend(text),
        // No SQLSTATE: the connection broke (closed, I/O, timeout).
        None if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) => {
            StorageError::Retryable(text)
        }
        None => StorageError::Backend(text),
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StorageError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db_err(e),
        other => StorageError::Retryable(format!("connection pool: {other}")),
    }
}

fn parse_card(data: &str) -> Result<Card> {
    serde_json::from_str(data).map_err(|e| StorageError::Corrupt(format!("card json: {e}")))
}

/// At most `limit` rows, ending early once they add up to `max_bytes` (at least one row is
/// always taken); the flag tells whether a row was left. `rows` holds up to `limit + 1`.
fn bounded<T>(rows: Vec<T>, limit: u32, max_bytes: usize, size: impl Fn(&T) -> usize) -> (Vec<T>, bool) {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for row in rows {
        if out.len() as u64 >= u64::from(limit) || (!out.is_empty() && bytes >= max_bytes) {
            return (out, true);
        }
        bytes = bytes.saturating_add(size(&row));
        out.push(row);
    }
    (out, false)
}

impl PgStorage {
    /// Connects to `url`, migrates the schema (or refuses it) and opens a pool of `pool_size`,
    /// with the driver on a small runtime of its own (tools, tests: any caller, any thread).
    pub fn connect(url: &str, pool_size: usize) -> Result<PgStorage> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("deckhand-pg")
            .enable_all()
            .build()
            .map_err(|e| StorageError::Backend(format!("cannot start the database runtime: {e}")))?;
        let handle = runtime.handle().clone();
        PgStorage::open(url, pool_size, Some(runtime), handle)
    }

    /// `connect` for `serve`: the driver runs on the server's own multi-thread runtime, so a
    /// request, its queries and the connections' tasks wake each other inside one scheduler
    /// instead of across two (a third of the server's CPU went to those thread switches). The
    /// synchronous methods must then be called off its worker threads (the blocking pool, as the
    /// handlers do), never on them. On any other runtime flavour this is `connect`.
    pub fn connect_on(url: &str, pool_size: usize, handle: tokio::runtime::Handle) -> Result<PgStorage> {
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return PgStorage::connect(url, pool_size);
        }
        PgStorage::open(url, pool_size, None, handle)
    }

    fn open(url: &str, pool_size: usize, runtime: Option<tokio::runtime::Runtime>, handle: tokio::runtime::Handle) -> Result<PgStorage> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StorageError::Backend(format!("bad PostgreSQL url: {e}")))?;
        let mut app_config = config.clone();
        app_config.application_name("deckhand-server");
        let manager = Manager::from_config(app_config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| StorageError::Backend(format!("connection pool: {e}")))?;
        let notifier = Arc::new(listener::PgNotifier::new(handle.clone(), pool.clone(), config.clone()));
        let planted_sequence_allocator = std::env::var(PLANTED_BUG_ENV).is_ok_and(|v| v == "1");
        let storage = PgStorage { planted_sequence_allocator, runtime, handle, pool, notifier };
        storage.run(async move { migrations::migrate(&config).await })?;
        if planted_sequence_allocator {
            tracing::warn!("PLANTED BUG: change seqs come from a SEQUENCE (tests only)");
            storage.with_client(|c| async move {
                c.batch_execute("CREATE SEQUENCE IF NOT EXISTS planted_bug_seq").await.map_err(db_err)
            })?;
        }
        Ok(storage)
    }

    /// Runs `fut` on the backend's runtime and waits for it on this thread.
    fn run<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| StorageError::Backend("database task ended without an answer".into()))?
    }

    /// A pool handle for code that runs on the backend's runtime.
    pub(crate) fn pool(&self) -> Pool {
        self.pool.clone()
    }

    /// Runs `f` with a pooled client on the backend's runtime (tools such as the SQLite import).
    pub fn with_client<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(deadpool_postgres::Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send,
    {
        let pool = self.pool();
        self.run(async move {
            let client = pool.get().await.map_err(pool_err)?;
            f(client).await
        })
    }

    /// Idempotency records whose card change is missing (must always be 0; a consistency check
    /// for tests and operators, not part of serving).
    pub fn orphan_idempotency_records(&self) -> Result<u64> {
        self.with_client(|c| async move {
            let row = c
                .query_one(
                    "SELECT COUNT(*) FROM idempotency i WHERE NOT EXISTS (SELECT 1 FROM cards c
                     WHERE c.user_id = i.user_id AND c.id = i.card_id AND c.version >= i.version)
                     AND NOT EXISTS (SELECT 1 FROM lanes l WHERE l.user_id = i.user_id AND l.id = i.card_id AND l.version >= i.version)",
                    &[],
                )
                .await
                .map_err(db_err)?;
            Ok(row.get::<_, i64>(0) as u64)
        })
    }
}

impl Drop for PgStorage {
    fn drop(&mut self) {
        // Never blocks: this may run inside another runtime (a test, the server's shutdown).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// One attempt of a write transaction; see the module comment for the order of its steps.
async fn write_once(pool: &Pool, user: UserId, idem: &IdemKey, op: &WriteOp, now: DateTime<Utc>, planted: bool) -> Result<WriteOutcome> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(db_err)?;
    if let Some(refused) = claim_key(&tx, user, idem).await? {
        tx.rollback().await.map_err(db_err)?;
        return Ok(refused);
    }
    let st = tx.prepare_cached("SELECT fingerprint, status, body FROM idempotency WHERE user_id = $1 AND key = $2").await.map_err(db_err)?;
    if let Some(row) = tx.query_opt(&st, &[&user, &idem.key]).await.map_err(db_err)? {
        let (fingerprint, status, body): (Vec<u8>, i32, String) = (row.get(0), row.get(1), row.get(2));
        tx.rollback().await.map_err(db_err)?;
        return Ok(if fingerprint == idem.fingerprint {
            WriteOutcome::Replayed(StoredResponse { status: status as u16, body })
        } else {
            WriteOutcome::KeyReused
        });
    }
    // The counter row lock: from here to commit no other writer of this user runs.
    let sql = if planted {
        "SELECT nextval('planted_bug_seq') FROM users WHERE id = $1"
    } else {
        "UPDATE users SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq"
    };
    let st = tx.prepare_cached(sql).await.map_err(db_err)?;
    let seq: i64 = tx
        .query_opt(&st, &[&user])
        .await
        .map_err(db_err)?
        .ok_or_else(|| StorageError::NoSuchUser(format!("id {user}")))?
        .get(0);
    let id = op.card_id();
    let st = tx.prepare_cached("SELECT data FROM cards WHERE user_id = $1 AND id = $2").await.map_err(db_err)?;
    let current = match tx.query_opt(&st, &[&user, &id]).await.map_err(db_err)? {
        Some(row) => Some(parse_card(row.get::<_, &str>(0))?),
        None => None,
    };
    let card = match domain::apply(op, current.as_ref(), now) {
        Ok(card) => card,
        Err(problem) => {
            tx.rollback().await.map_err(db_err)?;
            return Ok(WriteOutcome::Rejected(problem));
        }
    };
    let data = serde_json::to_string(&card).expect("card serialises");
    let st = tx
        .prepare_cached(
            "INSERT INTO cards (user_id, id, seq, version, deleted, data) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id, id) DO UPDATE SET seq = excluded.seq, version = excluded.version,
             deleted = excluded.deleted, data = excluded.data",
        )
        .await
        .map_err(db_err)?;
    tx.execute(&st, &[&user, &id, &seq, &card.version, &card.deleted, &data]).await.map_err(db_err)?;
    let st = tx
        .prepare_cached(
            "INSERT INTO card_versions (user_id, card_id, version, data, writer, at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id, card_id, version) DO UPDATE SET data = excluded.data, writer = excluded.writer, at = excluded.at",
        )
        .await
        .map_err(db_err)?;
    tx.execute(&st, &[&user, &id, &card.version, &data, &idem.writer(), &now.timestamp_millis()]).await.map_err(db_err)?;
    let response = StoredResponse { status: op.success_status(), body: data };
    let st = tx
        .prepare_cached(
            "INSERT INTO idempotency (user_id, key, fingerprint, status, body, card_id, version, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await
        .map_err(db_err)?;
    tx.execute(
        &st,
        &[&user, &idem.key, &&idem.fingerprint[..], &i32::from(response.status), &response.body, &id, &card.version, &now.timestamp_millis()],
    )
    .await
    .map_err(|e| match e.code() {
        // The record exists after all (the advisory lock is the guard, the key the backstop):
        // retrying finds it and replays. Never a 500.
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => StorageError::Retryable(format!("idempotency record raced: {e}")),
        _ => db_err(e),
    })?;
    tx.commit().await.map_err(db_err)?;
    Ok(WriteOutcome::Applied { response, change: Change { seq, card } })
}

/// The first statement of every write: the key's advisory lock and the token's liveness, in one
/// round trip. `Some` is the answer of a write that must not go on (the caller rolls back).
async fn claim_key<C>(tx: &deadpool_postgres::Transaction<'_>, user: UserId, idem: &IdemKey) -> Result<Option<WriteOutcome<C>>> {
    let st = tx
        .prepare_cached(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1::bigint::text || ':' || $2::text, 0)),
                    $3::bytea IS NULL OR EXISTS (SELECT 1 FROM tokens WHERE hash = $3 AND user_id = $1 AND revoked_at IS NULL)",
        )
        .await
        .map_err(db_err)?;
    let token: Option<&[u8]> = idem.token.as_ref().map(|t| &t[..]);
    let row = tx.query_one(&st, &[&user, &idem.key, &token]).await.map_err(db_err)?;
    let (locked, live): (bool, bool) = (row.get(0), row.get(1));
    Ok(if !live {
        Some(WriteOutcome::Revoked)
    } else if !locked {
        // Another transaction, possibly on another instance, is executing this key.
        Some(WriteOutcome::InFlight)
    } else {
        None
    })
}

/// A write transaction, run again while it fails in a retryable way.
async fn write_retrying(pool: &Pool, user: UserId, idem: &IdemKey, op: &WriteOp, now: DateTime<Utc>, planted: bool) -> Result<WriteOutcome> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let span = tracing::debug_span!("pg_write", user, idempotency_key = %idem.key, card_id = %op.card_id(), attempt);
        let out = tracing::Instrument::instrument(write_once(pool, user, idem, op, now, planted), span).await;
        match out {
            // Serialization failure, deadlock, a raced idempotency record, a lost connection:
            // the transaction rolled back (or never reached the database), so running it again
            // is safe; after a few attempts the client retries (503).
            Err(StorageError::Retryable(ref text)) if attempt < WRITE_ATTEMPTS => {
                tracing::info!(user, key = %idem.key, detail = %text, "write transaction retried");
            }
            other => return other,
        }
    }
}

async fn token_user(pool: &Pool, hash: [u8; 32]) -> Result<Option<UserId>> {
    let c = pool.get().await.map_err(pool_err)?;
    let st = c.prepare_cached("SELECT hash, user_id FROM tokens WHERE hash = $1 AND revoked_at IS NULL").await.map_err(db_err)?;
    let row = c.query_opt(&st, &[&&hash[..]]).await.map_err(db_err)?;
    // The index finds the row; the final comparison is still constant-time.
    Ok(row.and_then(|r| {
        use subtle::ConstantTimeEq;
        let stored: Vec<u8> = r.get(0);
        bool::from(stored.as_slice().ct_eq(&hash[..])).then_some(r.get::<_, i64>(1))
    }))
}

fn parse_lane(data: &str) -> Result<Lane> {
    serde_json::from_str(data).map_err(|e| StorageError::Corrupt(format!("lane json: {e}")))
}

async fn lanes_of(c: &impl deadpool_postgres::GenericClient, user: UserId) -> Result<Vec<Lane>> {
    let st = c.prepare_cached("SELECT data FROM lanes WHERE user_id = $1").await.map_err(db_err)?;
    let rows = c.query(&st, &[&user]).await.map_err(db_err)?;
    let mut lanes = rows.iter().map(|r| parse_lane(r.get::<_, &str>(0))).collect::<Result<Vec<_>>>()?;
    lanes.sort_by(|a, b| a.position.total_cmp(&b.position).then(a.id.cmp(&b.id)));
    Ok(lanes)
}

/// One attempt of a lane write: the same steps as `write_once` (key lock, record, counter row
/// lock, read after lock, effect and record together).
async fn write_lane_once(pool: &Pool, user: UserId, idem: &IdemKey, op: &LaneOp, now: DateTime<Utc>) -> Result<WriteOutcome<LaneChange>> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(db_err)?;
    if let Some(refused) = claim_key(&tx, user, idem).await? {
        tx.rollback().await.map_err(db_err)?;
        return Ok(refused);
    }
    let st = tx.prepare_cached("SELECT fingerprint, status, body FROM idempotency WHERE user_id = $1 AND key = $2").await.map_err(db_err)?;
    if let Some(row) = tx.query_opt(&st, &[&user, &idem.key]).await.map_err(db_err)? {
        let (fingerprint, status, body): (Vec<u8>, i32, String) = (row.get(0), row.get(1), row.get(2));
        tx.rollback().await.map_err(db_err)?;
        return Ok(if fingerprint == idem.fingerprint {
            WriteOutcome::Replayed(StoredResponse { status: status as u16, body })
        } else {
            WriteOutcome::KeyReused
        });
    }
    let st = tx.prepare_cached("UPDATE users SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq").await.map_err(db_err)?;
    let seq: i64 = tx.query_opt(&st, &[&user]).await.map_err(db_err)?.ok_or_else(|| StorageError::NoSuchUser(format!("id {user}")))?.get(0);
    let all = lanes_of(&tx, user).await?;
    let lane = match lanes::apply_lane(op, &all, now) {
        Ok(lane) => lane,
        Err(problem) => {
            tx.rollback().await.map_err(db_err)?;
            return Ok(WriteOutcome::Rejected(problem));
        }
    };
    let data = serde_json::to_string(&lane).expect("lane serialises");
    let st = tx
        .prepare_cached(
            "INSERT INTO lanes (user_id, id, seq, version, deleted, name_key, data) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (user_id, id) DO UPDATE SET seq = excluded.seq, version = excluded.version,
             deleted = excluded.deleted, name_key = excluded.name_key, data = excluded.data",
        )
        .await
        .map_err(db_err)?;
    tx.execute(&st, &[&user, &lane.id, &seq, &lane.version, &lane.deleted, &lane_key(&lane.name), &data]).await.map_err(db_err)?;
    let response = StoredResponse { status: op.success_status(), body: data };
    let st = tx
        .prepare_cached(
            "INSERT INTO idempotency (user_id, key, fingerprint, status, body, card_id, version, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await
        .map_err(db_err)?;
    tx.execute(
        &st,
        &[&user, &idem.key, &&idem.fingerprint[..], &i32::from(response.status), &response.body, &lane.id, &lane.version, &now.timestamp_millis()],
    )
    .await
    .map_err(|e| match e.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => StorageError::Retryable(format!("idempotency record raced: {e}")),
        _ => db_err(e),
    })?;
    tx.commit().await.map_err(db_err)?;
    Ok(WriteOutcome::Applied { response, change: LaneChange { seq, lane } })
}

impl Storage for PgStorage {
    fn lanes(&self, user: UserId) -> Result<Vec<Lane>> {
        self.with_client(move |c| async move { lanes_of(&c, user).await })
    }

    fn write_lane(&self, user: UserId, idem: &IdemKey, op: &LaneOp, now: DateTime<Utc>) -> Result<WriteOutcome<LaneChange>> {
        let (pool, idem, op) = (self.pool(), idem.clone(), op.clone());
        self.run(async move {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let span = tracing::debug_span!("pg_write_lane", user, idempotency_key = %idem.key, lane_id = %op.lane_id(), attempt);
                match tracing::Instrument::instrument(write_lane_once(&pool, user, &idem, &op, now), span).await {
                    Err(StorageError::Retryable(ref text)) if attempt < WRITE_ATTEMPTS => {
                        tracing::info!(user, key = %idem.key, detail = %text, "lane write transaction retried");
                    }
                    other => return other,
                }
            }
        })
    }

    fn lane_changes(&self, user: UserId, since: i64, limit: u32) -> Result<(Vec<LaneChange>, bool)> {
        self.with_client(move |c| async move {
            let st = c.prepare_cached("SELECT seq, data FROM lanes WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3").await.map_err(db_err)?;
            let rows = c.query(&st, &[&user, &since, &(i64::from(limit) + 1)]).await.map_err(db_err)?;
            let more = rows.len() > limit as usize;
            let changes = rows.iter().take(limit as usize).map(|r| Ok(LaneChange { seq: r.get(0), lane: parse_lane(r.get::<_, &str>(1))? })).collect::<Result<_>>()?;
            Ok((changes, more))
        })
    }

    fn add_user(&self, name: &str, token_hash: [u8; 32]) -> Result<UserId> {
        let name = name.to_string();
        self.with_client(move |mut c| async move {
            let tx = c.transaction().await.map_err(db_err)?;
            let row = tx
                .query_opt("INSERT INTO users (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id", &[&name])
                .await
                .map_err(db_err)?;
            let Some(row) = row else { return Err(StorageError::UserExists(name)) };
            let id: i64 = row.get(0);
            tx.execute("INSERT INTO tokens (hash, user_id) VALUES ($1, $2)", &[&&token_hash[..], &id]).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            Ok(id)
        })
    }

    fn add_token(&self, name: &str, token_hash: [u8; 32]) -> Result<UserId> {
        let name = name.to_string();
        self.with_client(move |c| async move {
            let row = c.query_opt("SELECT id FROM users WHERE name = $1", &[&name]).await.map_err(db_err)?;
            let Some(row) = row else { return Err(StorageError::NoSuchUser(name)) };
            let id: i64 = row.get(0);
            c.execute("INSERT INTO tokens (hash, user_id) VALUES ($1, $2)", &[&&token_hash[..], &id]).await.map_err(db_err)?;
            Ok(id)
        })
    }

    fn revoke_tokens(&self, name: &str) -> Result<usize> {
        let name = name.to_string();
        self.with_client(move |c| async move {
            let n = c
                .execute(
                    "UPDATE tokens SET revoked_at = now() WHERE revoked_at IS NULL
                     AND user_id = (SELECT id FROM users WHERE name = $1)",
                    &[&name],
                )
                .await
                .map_err(db_err)?;
            Ok(n as usize)
        })
    }

    fn user_for_token(&self, token_hash: &[u8; 32]) -> Result<Option<UserId>> {
        let (pool, hash) = (self.pool(), *token_hash);
        self.run(async move { token_user(&pool, hash).await })
    }

    fn user_for_token_async(self: Arc<Self>, token_hash: [u8; 32]) -> BoxFuture<'static, Result<Option<UserId>>> {
        let pool = self.pool();
        let task = self.handle.spawn(async move { token_user(&pool, token_hash).await });
        Box::pin(async move { task.await.map_err(|_| StorageError::Backend("database task failed".into()))? })
    }

    fn get_card(&self, user: UserId, id: Uuid) -> Result<Option<Card>> {
        self.with_client(move |c| async move {
            let st = c.prepare_cached("SELECT data FROM cards WHERE user_id = $1 AND id = $2").await.map_err(db_err)?;
            match c.query_opt(&st, &[&user, &id]).await.map_err(db_err)? {
                Some(row) => Ok(Some(parse_card(row.get::<_, &str>(0))?)),
                None => Ok(None),
            }
        })
    }

    fn cards_page(&self, user: UserId, after: Option<Uuid>, limit: u32, max_bytes: usize) -> Result<(Vec<Card>, bool)> {
        self.with_client(move |c| async move {
            let st = c
                .prepare_cached(
                    "SELECT data FROM cards WHERE user_id = $1 AND NOT deleted AND ($2::uuid IS NULL OR id > $2)
                     ORDER BY id LIMIT $3",
                )
                .await
                .map_err(db_err)?;
            let rows = c.query(&st, &[&user, &after, &(i64::from(limit) + 1)]).await.map_err(db_err)?;
            let data: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let (data, more) = bounded(data, limit, max_bytes, |d| d.len());
            Ok((data.iter().map(|d| parse_card(d)).collect::<Result<_>>()?, more))
        })
    }

    fn changes_page(&self, user: UserId, since: i64, limit: u32, max_bytes: usize) -> Result<(Vec<Change>, bool)> {
        self.with_client(move |c| async move {
            let st = c
                .prepare_cached("SELECT seq, data FROM cards WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                .await
                .map_err(db_err)?;
            let rows = c.query(&st, &[&user, &since, &(i64::from(limit) + 1)]).await.map_err(db_err)?;
            let rows: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let (rows, more) = bounded(rows, limit, max_bytes, |(_, d)| d.len());
            let changes = rows.iter().map(|(seq, d)| Ok(Change { seq: *seq, card: parse_card(d)? })).collect::<Result<_>>()?;
            Ok((changes, more))
        })
    }

    fn last_seq(&self, user: UserId) -> Result<i64> {
        self.with_client(move |c| async move {
            let st = c.prepare_cached("SELECT last_seq FROM users WHERE id = $1").await.map_err(db_err)?;
            Ok(c.query_opt(&st, &[&user]).await.map_err(db_err)?.map(|r| r.get(0)).unwrap_or(0))
        })
    }

    fn epoch(&self) -> Result<String> {
        self.with_client(|c| async move {
            let st = c.prepare_cached("SELECT value FROM meta WHERE key = 'epoch'").await.map_err(db_err)?;
            Ok(c.query_one(&st, &[]).await.map_err(db_err)?.get(0))
        })
    }

    fn reset_epoch(&self) -> Result<String> {
        self.with_client(|c| async move {
            let row = c
                .query_one("UPDATE meta SET value = replace(gen_random_uuid()::text, '-', '') WHERE key = 'epoch' RETURNING value", &[])
                .await
                .map_err(db_err)?;
            Ok(row.get(0))
        })
    }

    fn write(&self, user: UserId, idem: &IdemKey, op: &WriteOp, now: DateTime<Utc>) -> Result<WriteOutcome> {
        let (pool, idem, op, planted) = (self.pool(), idem.clone(), op.clone(), self.planted_sequence_allocator);
        self.run(async move { write_retrying(&pool, user, &idem, &op, now, planted).await })
    }

    fn write_many_async(
        self: Arc<Self>,
        user: UserId,
        writes: Vec<(IdemKey, WriteOp)>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'static, Result<Vec<Result<WriteOutcome>>>> {
        let (pool, planted) = (self.pool(), self.planted_sequence_allocator);
        // On the driver's runtime, beside the connections' tasks: one hand-off each way per
        // request, where the blocking pool added a thread wake-up and a channel in between.
        let task = self.handle.spawn(async move {
            let mut out = Vec::with_capacity(writes.len());
            for (idem, op) in &writes {
                out.push(write_retrying(&pool, user, idem, op, now, planted).await);
            }
            out
        });
        Box::pin(async move { task.await.map_err(|_| StorageError::Backend("database task failed".into())) })
    }

    fn purge_tombstones(&self, user: Option<UserId>, before: Option<DateTime<Utc>>) -> Result<usize> {
        let before = before.map(|b| b.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        const COND: &str = "deleted AND ($1::bigint IS NULL OR user_id = $1)
            AND ($2::text IS NULL OR (data::jsonb->>'updated_at')::timestamptz < $2::text::timestamptz)";
        self.with_client(move |mut c| async move {
            let tx = c.transaction().await.map_err(db_err)?;
            // Under READ COMMITTED a tombstone restored meanwhile is re-checked and kept.
            tx.execute(
                &format!(
                    "UPDATE users SET purged_seq = greatest(purged_seq, (SELECT max(seq) FROM cards WHERE user_id = users.id AND {COND}))
                     WHERE id IN (SELECT user_id FROM cards WHERE {COND})"
                ),
                &[&user, &before],
            )
            .await
            .map_err(db_err)?;
            // A purged card's history goes with it; COND's bare columns resolve to the subquery's `cards`.
            tx.execute(
                &format!("DELETE FROM card_versions v WHERE EXISTS (SELECT 1 FROM cards c WHERE c.user_id = v.user_id AND c.id = v.card_id AND {COND})"),
                &[&user, &before],
            )
            .await
            .map_err(db_err)?;
            let n = tx.execute(&format!("DELETE FROM cards WHERE {COND}"), &[&user, &before]).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            Ok(n as usize)
        })
    }

    fn card_versions(&self, user: UserId, id: Uuid, before: Option<i64>, limit: u32) -> Result<(Vec<CardVersion>, bool)> {
        self.with_client(move |c| async move {
            let rows = c
                .query(
                    "SELECT data, writer FROM card_versions WHERE user_id = $1 AND card_id = $2 AND ($3::bigint IS NULL OR version < $3)
                     ORDER BY version DESC LIMIT $4",
                    &[&user, &id, &before, &(i64::from(limit) + 1)],
                )
                .await
                .map_err(db_err)?;
            let more = rows.len() > limit as usize;
            let items = rows
                .iter()
                .take(limit as usize)
                .map(|r| Ok(CardVersion { card: parse_card(r.get::<_, &str>(0))?, writer: r.get(1) }))
                .collect::<Result<_>>()?;
            Ok((items, more))
        })
    }

    fn purge_versions(&self, before: DateTime<Utc>, keep: u32) -> Result<usize> {
        let (before, keep) = (before.timestamp_millis(), i64::from(keep));
        self.with_client(move |c| async move {
            // Never a card's current version: history always shows it.
            let n = c
                .execute(
                    "DELETE FROM card_versions v USING cards c
                     WHERE c.user_id = v.user_id AND c.id = v.card_id AND v.version < c.version
                       AND (v.at < $1 OR v.version <= c.version - $2)",
                    &[&before, &keep],
                )
                .await
                .map_err(db_err)?;
            Ok(n as usize)
        })
    }

    fn purged_seq(&self, user: UserId) -> Result<i64> {
        self.with_client(move |c| async move {
            Ok(c.query_opt("SELECT purged_seq FROM users WHERE id = $1", &[&user]).await.map_err(db_err)?.map(|r| r.get(0)).unwrap_or(0))
        })
    }

    fn purge_idempotency(&self, before: DateTime<Utc>) -> Result<usize> {
        let before = before.timestamp_millis();
        self.with_client(move |mut c| async move {
            let mut total = 0usize;
            loop {
                // One bounded batch per transaction; the leader lock makes each batch run on one
                // instance only (another instance purging right now: this one leaves it).
                let tx = c.transaction().await.map_err(db_err)?;
                let leader: bool =
                    tx.query_one("SELECT pg_try_advisory_xact_lock($1, $2)", &[&LOCK_CLASS, &LOCK_PURGE]).await.map_err(db_err)?.get(0);
                if !leader {
                    return Ok(total);
                }
                let n = tx
                    .execute(
                        "DELETE FROM idempotency WHERE ctid = ANY(ARRAY(
                             SELECT ctid FROM idempotency WHERE created_at < $1 LIMIT $2))",
                        &[&before, &PURGE_BATCH],
                    )
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                total += n as usize;
                if (n as i64) < PURGE_BATCH {
                    return Ok(total);
                }
            }
        })
    }

    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        Some(self.notifier.clone())
    }
}
