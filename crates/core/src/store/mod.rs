//! Local SQLite store: schema migrations, the optimistic card view, the outbox, conflicts and
//! sync bookkeeping. Synchronous rusqlite code; the engine calls it off the async workers
//! (`block_in_place` for a user action, `spawn_blocking` for the sync machinery: `Engine::db`).

pub mod apply;
pub mod cards;
pub mod conflicts;
pub mod history;
pub mod lanes;
pub mod index;
pub mod links;
pub mod migrate;
pub mod outbox;
pub mod positions;
pub mod recovery;
pub mod remote;
pub mod resync;
pub mod search;
pub mod sync_state;
pub mod trash;
pub mod writes;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, MAIN_DB, OpenFlags};

use crate::error::StoreError;

pub type Result<T> = std::result::Result<T, StoreError>;

/// How to open the database (see `EngineConfig::read_only` and `EngineConfig::max_db_bytes`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Open with `SQLITE_OPEN_READ_ONLY`: reads work, every write fails with `read_only`.
    pub read_only: bool,
    /// Cap the database size (`PRAGMA max_page_count`): writes past it fail with SQLITE_FULL.
    pub max_db_bytes: Option<u64>,
}

/// WAL pages the writer lets pile up before it checkpoints inline (a safety valve: normally the
/// background checkpointer keeps the WAL well below this).
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 8192;
/// How often the background checkpointer copies the WAL back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// The full-text index is merged (migration 0004) only after the writer has been idle this long,
/// in steps of `FTS_MERGE_PAGES` pages for at most `FTS_MERGE_BUDGET` per tick, so a user's write
/// rarely waits behind a merge step.
const FTS_MERGE_AFTER_IDLE_MS: i64 = 200;
const FTS_MERGE_PAGES: u32 = 32;
const FTS_MERGE_BUDGET: Duration = Duration::from_millis(25);
/// The derived indexes (`index`) are brought up to date after the writer has been idle this long,
/// for up to `INDEX_BUDGET` per tick (one batch transaction at a time, so a write that comes in
/// waits for one batch at most, and the tick's merge and checkpoint still get their turn). Above
/// `INDEX_BACKLOG` queued rowids one small batch is indexed every tick even while writes go on,
/// which slows the queue's growth under a steady stream of writes.
const INDEX_AFTER_IDLE_MS: i64 = 50;
const INDEX_BUDGET: Duration = Duration::from_millis(1000);
const INDEX_BACKLOG: i64 = 2000;
const INDEX_BACKLOG_BATCH: usize = 32;
/// Rowids per background indexing transaction: the longest a user's write can wait for the
/// indexer (a few milliseconds at this size).
const INDEX_BATCH: usize = 64;

/// What `setup` verifies before migrating (see `recovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    Header,
    HeaderAndPages,
}

/// The single writer connection. All access goes through `lock()`.
pub struct Store {
    conn: Mutex<Connection>,
    /// The database file (None in memory): a corruption error seen on any access leaves a marker
    /// next to it, so the next open recovers even when `quick_check` finds nothing.
    path: Option<PathBuf>,
    read_only: bool,
    corruption_noted: AtomicBool,
    /// When the last write transaction ended (ms since the epoch), for the idle-time FTS merge.
    last_write_ms: Arc<AtomicI64>,
    /// Dropping it stops the background checkpointer and waits for it.
    _checkpointer: Option<Checkpointer>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        Ok(Self::open_with(path, OpenOptions::default())?.0)
    }

    /// Open `path`, checking it first (header, `quick_check`, schema). A corrupt or unreadable
    /// database is moved aside and replaced by a fresh one (see `recovery`); the report says so.
    pub fn open_with(path: &Path, opts: OpenOptions) -> Result<(Store, Option<crate::model::RecoveryReport>)> {
        recovery::open_checked(path, opts)
    }

    /// Open without the corruption handling (used by `recovery`).
    pub(crate) fn open_plain(path: &Path, opts: OpenOptions) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = if opts.read_only {
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?
        } else {
            Connection::open(path)?
        };
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let inline_pages = size <= recovery::INLINE_PAGE_CHECK_MAX_BYTES;
        let check = if inline_pages { Check::HeaderAndPages } else { Check::Header };
        let mut s = match Self::setup(conn, opts, check) {
            Ok(s) => s,
            // A WAL database in a directory we may not write cannot even be read normally: SQLite
            // must create `-shm` first (SQLITE_READONLY / SQLITE_CANTOPEN). Opened `immutable`
            // (no locks, no -shm; nobody can write there either) it reads fine, read-only.
            Err(e) if is_unwritable(&e) && path.exists() => {
                tracing::warn!(error = %e, path = %path.display(), "database not writable: opening it immutable, read-only");
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
                let conn = Connection::open_with_flags(immutable_uri(path), flags)?;
                Self::setup(conn, OpenOptions { read_only: true, ..opts }, check)?
            }
            Err(e) => return Err(e),
        };
        s.path = Some(path.to_path_buf());
        if !inline_pages {
            recovery::spawn_background_page_check(path.to_path_buf());
        }
        if !s.read_only {
            s._checkpointer = Some(spawn_checkpointer(path, s.last_write_ms.clone())?);
        }
        Ok(s)
    }

    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?, OpenOptions::default(), Check::None)
    }

    fn setup(mut conn: Connection, opts: OpenOptions, check: Check) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // A file this process may not write (e.g. a read-only mount) opens read-only by itself.
        let read_only = opts.read_only || conn.is_readonly(MAIN_DB)?;
        match check {
            Check::None => {}
            Check::Header => recovery::check_header(&conn)?,
            Check::HeaderAndPages => recovery::check_header_and_pages(&conn)?,
        }
        if read_only {
            migrate::check_applied(&conn, migrate::MIGRATIONS)?;
        } else {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // SQLite's default (1000 pages) makes every ~100th commit copy the WAL back and fsync
        // twice inside the writer's transaction: a multi-millisecond stall on the write path. The
        // background checkpointer does that work instead; this is only the upper bound.
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)?;
        conn.set_prepared_statement_cache_capacity(64);
        // Before the migrations: a full disk must also be met by the schema's own writes.
        apply_max_db_bytes(&conn, opts.max_db_bytes)?;
        if !read_only {
            migrate::run(&mut conn, migrate::MIGRATIONS)?;
            // Ops that were in flight when the app stopped may or may not have reached the server:
            // they go back to pending (keeping `sent = 1` and their idempotency key).
            outbox::reset_in_flight(&conn)?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
            path: None,
            read_only,
            corruption_noted: AtomicBool::new(false),
            last_write_ms: Arc::new(AtomicI64::new(0)),
            _checkpointer: None,
        })
    }

    /// Opened read-only (by request or because the file is not writable).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Cap the database size at `bytes` (rounded down to whole pages, never below the current
    /// size), or lift the cap. A real SQLite limit (`PRAGMA max_page_count`): writes that would
    /// grow the file past it fail with SQLITE_FULL, exactly as on a full disk.
    pub fn set_max_db_bytes(&self, bytes: Option<u64>) -> Result<()> {
        apply_max_db_bytes(&self.lock(), bytes)
    }

    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` in one IMMEDIATE transaction; commits on Ok, rolls back on Err.
    pub fn write<R>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R>) -> Result<R> {
        let r = (|| {
            let mut conn = self.lock();
            // A write starting counts as activity too: the background indexer stops between two
            // batches instead of taking the lock again while this write waits for it.
            self.last_write_ms.store(now_ms(), Ordering::Relaxed);
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let r = f(&tx)?;
            tx.commit()?;
            self.last_write_ms.store(now_ms(), Ordering::Relaxed);
            Ok(r)
        })();
        self.note(r)
    }

    pub fn read<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let r = {
            let conn = self.lock();
            f(&conn)
        };
        self.note(r)
    }

    /// A corruption error from SQLite on any access: leave the marker so the next open recovers.
    fn note<R>(&self, r: Result<R>) -> Result<R> {
        if let (Err(e), Some(path)) = (&r, &self.path)
            && recovery::is_corruption(e)
            && !self.corruption_noted.swap(true, Ordering::SeqCst)
        {
            tracing::error!(error = %e, "local database is corrupt; it will be moved aside and rebuilt at the next start");
            recovery::leave_marker(path, &e.to_string());
        }
        r
    }
}

fn is_unwritable(e: &StoreError) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(e, StoreError::Sqlite(s) if matches!(s.sqlite_error_code(), Some(C::ReadOnly) | Some(C::CannotOpen)))
}

/// `file:<percent-encoded path>?immutable=1`
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        match *b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => uri.push(*b as char),
            b => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

fn apply_max_db_bytes(conn: &Connection, bytes: Option<u64>) -> Result<()> {
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages = match bytes {
        Some(b) => (b / page_size.max(1) as u64).max(1) as i64,
        None => 0xFFFF_FFFE,
    };
    let _: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0))?;
    Ok(())
}

/// The background thread of an open store. Dropping it stops the thread between two batches and
/// waits for it: once a `Store` is gone nothing writes to its file any more (a recovery may move
/// the file next, a test may check it, the app may exit), and no index batch is cut off mid-tick.
struct Checkpointer {
    stop: Arc<AtomicBool>,
    wake: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.wake.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A thread with its own connection that runs a PASSIVE checkpoint every `CHECKPOINT_EVERY`:
/// it never blocks the writer or readers (WAL lets them run alongside), and the fsyncs happen
/// here instead of in a user's write. While the writer is idle it also indexes queued cards and
/// merges the full-text indexes.
fn spawn_checkpointer(path: &Path, last_write_ms: Arc<AtomicI64>) -> Result<Checkpointer> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_millis(100))?;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let thread = std::thread::Builder::new().name("deckhand-checkpoint".into()).spawn(move || {
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(CHECKPOINT_EVERY) {
            // A stopping store counts as busy: the index and merge loops end after their batch.
            let idle_for = |ms| !stopping.load(Ordering::Relaxed) && now_ms() - last_write_ms.load(Ordering::Relaxed) >= ms;
            index_step(&conn, &idle_for);
            let idle = || idle_for(FTS_MERGE_AFTER_IDLE_MS);
            let started = std::time::Instant::now();
            while idle() && started.elapsed() < FTS_MERGE_BUDGET && merge_step(&conn) {}
            // (busy, wal frames, frames checkpointed); nothing to do when the WAL is empty.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        }
    })?;
    Ok(Checkpointer { stop, wake: Some(tx), thread: Some(thread) })
}

/// The background half of `index`: index queued rowids while the writer idles (and a small batch
/// per tick when the queue is long). Errors (the writer holding the lock) wait for the next tick.
fn index_step(conn: &Connection, idle_for: &dyn Fn(i64) -> bool) {
    let Ok(queued) = index::pending(conn) else { return };
    if queued == 0 {
        return;
    }
    if !idle_for(INDEX_AFTER_IDLE_MS) {
        if queued > INDEX_BACKLOG {
            let _ = index::drain_some(conn, INDEX_BACKLOG_BATCH);
        }
        return;
    }
    let started = std::time::Instant::now();
    while idle_for(INDEX_AFTER_IDLE_MS) && started.elapsed() < INDEX_BUDGET {
        match index::drain_some(conn, INDEX_BATCH) {
            Ok(n) if n == INDEX_BATCH => {}
            _ => break,
        }
    }
}

/// One bounded FTS5 merge step over both full-text indexes; false when there was nothing to
/// merge (FTS5 documents a change count below 2 as "no work done") or the step failed (e.g. the
/// writer held the lock).
fn merge_step(conn: &Connection) -> bool {
    let mut worked = false;
    for table in ["cards_fts", "cards_tri"] {
        let before = conn.total_changes();
        let sql = format!("INSERT INTO {table}({table}, rank) VALUES ('merge', {FTS_MERGE_PAGES})");
        worked |= conn.execute(&sql, []).is_ok() && conn.total_changes() - before >= 2;
    }
    worked
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
#[cfg(test)]
mod tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod positions_tests;
