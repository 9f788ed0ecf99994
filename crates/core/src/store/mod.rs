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

/// The single writer connection. All access goes through `lock()`.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        Self::setup(conn)
    }

    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate::run(&mut conn, migrate::MIGRATIONS)?;
        // Ops that were in flight when the app stopped may or may not have reached the server:
        // they go back to pending (keeping `sent = 1` and their idempotency key).
        outbox::reset_in_flight(&conn)?;
        Ok(Store { conn: Mutex::new(conn) })
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

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
#[cfg(test)]
mod tests;
