//! Local SQLite store: schema migrations, the optimistic card view, the outbox, conflicts and
//! sync bookkeeping. Synchronous rusqlite code; the engine calls it from `spawn_blocking`.

pub mod apply;
pub mod cards;
pub mod conflicts;
pub mod history;
pub mod migrate;
pub mod outbox;
pub mod remote;
pub mod sync_state;
pub mod writes;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;

pub type Result<T> = std::result::Result<T, StoreError>;

/// WAL pages the writer lets pile up before it checkpoints inline (a safety valve: normally the
/// background checkpointer keeps the WAL well below this).
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 8192;
/// How often the background checkpointer copies the WAL back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The single writer connection. All access goes through `lock()`.
pub struct Store {
    conn: Mutex<Connection>,
    /// Dropping it stops the background checkpointer.
    _checkpointer: Option<std::sync::mpsc::Sender<()>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        let mut store = Self::setup(conn)?;
        store._checkpointer = Some(spawn_checkpointer(path)?);
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // SQLite's default (1000 pages) makes every ~100th commit copy the WAL back and fsync
        // twice inside the writer's transaction: a multi-millisecond stall on the write path. The
        // background checkpointer does that work instead; this is only the upper bound.
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate::run(&mut conn, migrate::MIGRATIONS)?;
        // Ops that were in flight when the app stopped may or may not have reached the server:
        // they go back to pending (keeping `sent = 1` and their idempotency key).
        outbox::reset_in_flight(&conn)?;
        Ok(Store { conn: Mutex::new(conn), _checkpointer: None })
    }

    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` in one IMMEDIATE transaction; commits on Ok, rolls back on Err.
    pub fn write<R>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R>) -> Result<R> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let r = f(&tx)?;
        tx.commit()?;
        Ok(r)
    }

    pub fn read<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let conn = self.lock();
        f(&conn)
    }
}

/// A thread with its own connection that runs a PASSIVE checkpoint every `CHECKPOINT_EVERY`:
/// it never blocks the writer or readers (WAL lets them run alongside), and the fsyncs happen
/// here instead of in a user's write. Stops when the returned sender is dropped.
fn spawn_checkpointer(path: &Path) -> Result<std::sync::mpsc::Sender<()>> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_millis(100))?;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new().name("deckhand-checkpoint".into()).spawn(move || {
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(CHECKPOINT_EVERY) {
            // (busy, wal frames, frames checkpointed); nothing to do when the WAL is empty.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        }
    })?;
    Ok(tx)
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
#[cfg(test)]
mod tests;
