//! Embedded SQLite backend: one writer connection, a few readers, WAL so reads never wait on writes.
//!
//! How the `Storage` invariants hold here: one process, one writer connection, and every write
//! transaction is `BEGIN IMMEDIATE` (the database's write lock is taken before the first read), so
//! writes are serialised whole: seqs are dense and commit in order, and the card is read after
//! the lock. A key executing elsewhere in this process is caught before the database by the
//! in-process in-flight set, so this backend never answers `WriteOutcome::InFlight`.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deckhand_protocol::{Card, CardVersion, Change, Lane, LaneChange, lane_key};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use uuid::Uuid;

mod migrations;

use super::{IdemKey, Result, Storage, StorageError, StoredResponse, UserId, WriteOutcome};
use crate::domain::{self, WriteOp};
use crate::lanes::{self, LaneOp};

pub struct SqliteStorage {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last
    // transactions, and then record and effect are lost together.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

fn map_err(e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => StorageError::Retryable(e.to_string()),
        _ => StorageError::Backend(e.to_string()),
    }
}

fn parse_card(data: String) -> Result<Card> {
    serde_json::from_str(&data).map_err(|e| StorageError::Corrupt(format!("card json: {e}")))
}

impl SqliteStorage {
    pub fn open(path: &Path, read_connections: usize) -> Result<SqliteStorage> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StorageError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let mut writer = Connection::open(path).map_err(map_err)?;
        configure(&writer).map_err(map_err)?;
        migrations::migrate(&mut writer).map_err(map_err)?;
        let mut readers = Vec::new();
        for _ in 0..read_connections.max(1) {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(map_err)?;
            conn.busy_timeout(Duration::from_secs(5)).map_err(map_err)?;
            readers.push(Mutex::new(conn));
        }
        Ok(SqliteStorage { writer: Mutex::new(writer), readers, next_reader: AtomicUsize::new(0) })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = self.readers[i].lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(map_err)
    }

    /// Idempotency records whose card change is missing (must always be 0; a consistency check
    /// for tests and operators, not part of serving).
    pub fn orphan_idempotency_records(&self) -> Result<u64> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM idempotency i WHERE NOT EXISTS (SELECT 1 FROM cards c
                 WHERE c.user_id = i.user_id AND c.id = i.card_id AND c.version >= i.version)
                 AND NOT EXISTS (SELECT 1 FROM lanes l WHERE l.user_id = i.user_id AND l.id = i.card_id AND l.version >= i.version)",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }

    fn write_tx<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(map_err)?;
        let out = f(&tx)?;
        tx.commit().map_err(map_err)?;
        Ok(out)
    }
}

fn parse_lane(data: &str) -> Result<Lane> {
    serde_json::from_str(data).map_err(|e| StorageError::Corrupt(format!("lane json: {e}")))
}

fn lanes_in(c: &Connection, user: UserId) -> Result<Vec<Lane>> {
    let rows: Vec<String> = c
        .prepare_cached("SELECT data FROM lanes WHERE user_id = ?1")
        .and_then(|mut st| st.query_map([user], |r| r.get(0))?.collect())
        .map_err(map_err)?;
    let mut lanes = rows.iter().map(|d| parse_lane(d)).collect::<Result<Vec<_>>>()?;
    lanes.sort_by(|a, b| a.position.total_cmp(&b.position).then(a.id.cmp(&b.id)));
    Ok(lanes)
}

/// What the key's idempotency record answers (a replay, or "key reused" for another request),
/// if there is one; the write then runs no further. Cards and lanes share the records.
fn stored_answer<T>(tx: &Connection, user: UserId, idem: &IdemKey) -> Result<Option<WriteOutcome<T>>> {
    let stored: Option<(Vec<u8>, u16, String)> = tx
        .prepare_cached("SELECT fingerprint, status, body FROM idempotency WHERE user_id = ?1 AND key = ?2")
        .and_then(|mut st| st.query_row(params![user, idem.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
        .map_err(map_err)?;
    Ok(stored.map(|(fingerprint, status, body)| {
        if fingerprint == idem.fingerprint { WriteOutcome::Replayed(StoredResponse { status, body }) } else { WriteOutcome::KeyReused }
    }))
}

/// Whether the write's token (if it names one) is still live, read in the write's transaction.
fn token_live(tx: &Connection, user: UserId, idem: &IdemKey) -> Result<bool> {
    let Some(token) = idem.token else { return Ok(true) };
    tx.prepare_cached("SELECT 1 FROM tokens WHERE hash = ?1 AND user_id = ?2 AND revoked_at IS NULL")
        .and_then(|mut st| st.exists(params![&token[..], user]))
        .map_err(map_err)
}

/// One write in the caller's transaction (`write`, or a savepoint of `write_many`).
fn write_in(tx: &Connection, user: UserId, idem: &IdemKey, op: &WriteOp, now: DateTime<Utc>) -> Result<WriteOutcome> {
    if !token_live(tx, user, idem)? {
        return Ok(WriteOutcome::Revoked);
    }
    if let Some(answer) = stored_answer(tx, user, idem)? {
        return Ok(answer);
    }
    let id = op.card_id();
    let current = card_in(tx, user, id)?;
    let card = match domain::apply(op, current.as_ref(), now) {
        Ok(card) => card,
        Err(problem) => return Ok(WriteOutcome::Rejected(problem)),
    };
    let seq: i64 = tx
        .query_row("UPDATE users SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq", [user], |r| {
            r.get(0)
        })
        .map_err(map_err)?;
    let data = serde_json::to_string(&card).expect("card serialises");
    tx.prepare_cached(
        "INSERT INTO cards (user_id, id, seq, version, deleted, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (user_id, id) DO UPDATE SET seq = excluded.seq, version = excluded.version,
         deleted = excluded.deleted, data = excluded.data",
    )
    .and_then(|mut st| st.execute(params![user, id.to_string(), seq, card.version, card.deleted, data]))
    .map_err(map_err)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO card_versions (user_id, card_id, version, data, writer, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| st.execute(params![user, id.to_string(), card.version, data, idem.writer(), now.timestamp_millis()]))
    .map_err(map_err)?;
    let response = StoredResponse { status: op.success_status(), body: data };
    store_response(tx, user, idem, &response, &id.to_string(), card.version, now)?;
    Ok(WriteOutcome::Applied { response, change: Change { seq, card } })
}

/// The idempotency record of an applied write (`record_id`: the card's or the lane's id).
fn store_response(tx: &Connection, user: UserId, idem: &IdemKey, response: &StoredResponse, record_id: &str, version: i64, now: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO idempotency (user_id, key, fingerprint, status, body, card_id, version, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut st| {
        st.execute(params![user, idem.key, &idem.fingerprint[..], response.status, response.body, record_id, version, now.timestamp_millis()])
    })
    .map_err(map_err)?;
    Ok(())
}

fn card_in(tx: &Connection, user: UserId, id: Uuid) -> Result<Option<Card>> {
    let data: Option<String> = tx
        .query_row("SELECT data FROM cards WHERE user_id = ?1 AND id = ?2", params![user, id.to_string()], |r| r.get(0))
        .optional()
        .map_err(map_err)?;
    data.map(parse_card).transpose()
}

/// Reads at most `limit` rows, and stops early once they add up to `max_bytes` (at least one row
/// is always taken); the flag tells whether a row was left unread.
fn bounded_rows<T>(
    mut rows: rusqlite::Rows<'_>,
    limit: u32,
    max_bytes: usize,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    size: impl Fn(&T) -> usize,
) -> rusqlite::Result<(Vec<T>, bool)> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        if out.len() as u64 >= u64::from(limit) || (!out.is_empty() && bytes >= max_bytes) {
            return Ok((out, true));
        }
        let item = read(row)?;
        bytes = bytes.saturating_add(size(&item));
        out.push(item);
    }
    Ok((out, false))
}

impl Storage for SqliteStorage {
    fn add_user(&self, name: &str, token_hash: [u8; 32]) -> Result<UserId> {
        self.write_tx(|tx| {
            let exists: bool = tx
                .query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(true))
                .optional()
                .map_err(map_err)?
                .unwrap_or(false);
            if exists {
                return Err(StorageError::UserExists(name.to_string()));
            }
            let now = Utc::now().to_rfc3339();
            tx.execute("INSERT INTO users (name, created_at) VALUES (?1, ?2)", params![name, now]).map_err(map_err)?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO tokens (hash, user_id, created_at) VALUES (?1, ?2, ?3)",
                params![&token_hash[..], id, now],
            )
            .map_err(map_err)?;
            Ok(id)
        })
    }

    fn add_token(&self, name: &str, token_hash: [u8; 32]) -> Result<UserId> {
        self.write_tx(|tx| {
            let id: UserId = tx
                .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()
                .map_err(map_err)?
                .ok_or_else(|| StorageError::NoSuchUser(name.to_string()))?;
            tx.execute(
                "INSERT INTO tokens (hash, user_id, created_at) VALUES (?1, ?2, ?3)",
                params![&token_hash[..], id, Utc::now().to_rfc3339()],
            )
            .map_err(map_err)?;
            Ok(id)
        })
    }

    fn revoke_tokens(&self, name: &str) -> Result<usize> {
        self.write_tx(|tx| {
            let n = tx
                .execute(
                    "UPDATE tokens SET revoked_at = ?2 WHERE revoked_at IS NULL
                     AND user_id = (SELECT id FROM users WHERE name = ?1)",
                    params![name, Utc::now().to_rfc3339()],
                )
                .map_err(map_err)?;
            Ok(n)
        })
    }

    fn user_for_token(&self, token_hash: &[u8; 32]) -> Result<Option<UserId>> {
        let row: Option<(Vec<u8>, UserId)> = self.read(|c| {
            c.prepare_cached("SELECT hash, user_id FROM tokens WHERE hash = ?1 AND revoked_at IS NULL")?
                .query_row([&token_hash[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })?;
        // The index finds the row; the final comparison is still constant-time.
        Ok(row.and_then(|(hash, user)| {
            use subtle::ConstantTimeEq;
            bool::from(hash.as_slice().ct_eq(&token_hash[..])).then_some(user)
        }))
    }

    fn get_card(&self, user: UserId, id: Uuid) -> Result<Option<Card>> {
        let data: Option<String> = self.read(|c| {
            c.prepare_cached("SELECT data FROM cards WHERE user_id = ?1 AND id = ?2")?
                .query_row(params![user, id.to_string()], |r| r.get(0))
                .optional()
        })?;
        data.map(parse_card).transpose()
    }

    fn cards_page(&self, user: UserId, after: Option<Uuid>, limit: u32, max_bytes: usize) -> Result<(Vec<Card>, bool)> {
        let after = after.map(|u| u.to_string()).unwrap_or_default();
        let (rows, more) = self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT data FROM cards WHERE user_id = ?1 AND deleted = 0 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = st.query(params![user, after, i64::from(limit) + 1])?;
            bounded_rows(rows, limit, max_bytes, |r| r.get::<_, String>(0), |data| data.len())
        })?;
        Ok((rows.into_iter().map(parse_card).collect::<Result<_>>()?, more))
    }

    fn changes_page(&self, user: UserId, since: i64, limit: u32, max_bytes: usize) -> Result<(Vec<Change>, bool)> {
        let (rows, more) = self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT seq, data FROM cards WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
            let rows = st.query(params![user, since, i64::from(limit) + 1])?;
            bounded_rows(rows, limit, max_bytes, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)), |(_, data)| data.len())
        })?;
        let changes = rows.into_iter().map(|(seq, data)| Ok(Change { seq, card: parse_card(data)? })).collect::<Result<_>>()?;
        Ok((changes, more))
    }

    fn last_seq(&self, user: UserId) -> Result<i64> {
        self.read(|c| {
            c.prepare_cached("SELECT last_seq FROM users WHERE id = ?1")?.query_row([user], |r| r.get(0)).optional()
        })
        .map(|v| v.unwrap_or(0))
    }

    fn epoch(&self) -> Result<String> {
        self.read(|c| c.prepare_cached("SELECT value FROM meta WHERE key = 'epoch'")?.query_row([], |r| r.get(0)))
    }

    fn reset_epoch(&self) -> Result<String> {
        self.write_tx(|tx| {
            tx.query_row(
                "UPDATE meta SET value = lower(hex(randomblob(16))) WHERE key = 'epoch' RETURNING value",
                [],
                |r| r.get(0),
            )
            .map_err(map_err)
        })
    }

    fn write(&self, user: UserId, idem: &IdemKey, op: &WriteOp, now: DateTime<Utc>) -> Result<WriteOutcome> {
        self.write_tx(|tx| write_in(tx, user, idem, op, now))
    }

    /// One transaction for the whole batch, each write in its own savepoint: the batch pays one
    /// commit (its pages written to the WAL once, not once per write), and a write that fails
    /// rolls back alone. A commit that fails fails every write of the batch (none was applied).
    fn write_many(&self, user: UserId, writes: &[(IdemKey, WriteOp)], now: DateTime<Utc>) -> Vec<Result<WriteOutcome>> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let e = map_err(e);
                return writes.iter().map(|_| Err(e.clone())).collect();
            }
        };
        let mut out = Vec::with_capacity(writes.len());
        for (idem, op) in writes {
            let one = tx.savepoint().map_err(map_err).and_then(|sp| {
                // Dropping an uncommitted savepoint rolls it back (the default drop behavior).
                let r = write_in(&sp, user, idem, op, now)?;
                sp.commit().map_err(map_err)?;
                Ok(r)
            });
            out.push(one);
        }
        if let Err(e) = tx.commit() {
            let e = map_err(e);
            return out.into_iter().map(|r| r.and(Err(e.clone()))).collect();
        }
        out
    }

    fn purge_tombstones(&self, user: Option<UserId>, before: Option<DateTime<Utc>>) -> Result<usize> {
        let before = before.map(|b| b.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        // `julianday` reads the RFC 3339 `updated_at` of the stored card (a tombstone's time of
        // deletion), fraction and `Z` included.
        const COND: &str = "deleted = 1 AND (?1 IS NULL OR user_id = ?1)
            AND (?2 IS NULL OR julianday(json_extract(data, '$.updated_at')) < julianday(?2))";
        self.write_tx(|tx| {
            tx.execute(
                &format!(
                    "UPDATE users SET purged_seq = max(purged_seq, (SELECT max(seq) FROM cards WHERE user_id = users.id AND {COND}))
                     WHERE id IN (SELECT user_id FROM cards WHERE {COND})"
                ),
                params![user, before],
            )
            .map_err(map_err)?;
            // A purged card's history goes with it (its id answers 404 from now on).
            tx.execute(
                // COND's bare columns resolve to the subquery's `cards` (the innermost scope).
                &format!("DELETE FROM card_versions WHERE EXISTS (SELECT 1 FROM cards c WHERE c.user_id = card_versions.user_id AND c.id = card_versions.card_id AND {COND})"),
                params![user, before],
            )
            .map_err(map_err)?;
            tx.execute(&format!("DELETE FROM cards WHERE {COND}"), params![user, before]).map_err(map_err)
        })
    }

    fn card_versions(&self, user: UserId, id: Uuid, before: Option<i64>, limit: u32) -> Result<(Vec<CardVersion>, bool)> {
        let rows: Vec<(String, Option<String>)> = self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT data, writer FROM card_versions WHERE user_id = ?1 AND card_id = ?2 AND (?3 IS NULL OR version < ?3)
                 ORDER BY version DESC LIMIT ?4",
            )?;
            let rows = st.query_map(params![user, id.to_string(), before, i64::from(limit) + 1], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        let more = rows.len() > limit as usize;
        let items = rows.into_iter().take(limit as usize).map(|(d, writer)| Ok(CardVersion { card: parse_card(d)?, writer })).collect::<Result<_>>()?;
        Ok((items, more))
    }

    fn purge_versions(&self, before: DateTime<Utc>, keep: u32) -> Result<usize> {
        // Never a card's current version (the cards row's version): history always shows it.
        self.write_tx(|tx| {
            tx.execute(
                "DELETE FROM card_versions WHERE
                   version < (SELECT c.version FROM cards c WHERE c.user_id = card_versions.user_id AND c.id = card_versions.card_id)
                   AND (at < ?1 OR version <= (SELECT c.version FROM cards c WHERE c.user_id = card_versions.user_id AND c.id = card_versions.card_id) - ?2)",
                params![before.timestamp_millis(), i64::from(keep)],
            )
            .map_err(map_err)
        })
    }

    fn purged_seq(&self, user: UserId) -> Result<i64> {
        self.read(|c| c.prepare_cached("SELECT purged_seq FROM users WHERE id = ?1")?.query_row([user], |r| r.get(0)).optional())
            .map(|v| v.unwrap_or(0))
    }

    fn lanes(&self, user: UserId) -> Result<Vec<Lane>> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = self.readers[i].lock().unwrap_or_else(|p| p.into_inner());
        lanes_in(&conn, user)
    }

    fn write_lane(&self, user: UserId, idem: &IdemKey, op: &LaneOp, now: DateTime<Utc>) -> Result<WriteOutcome<LaneChange>> {
        self.write_tx(|tx| {
            if !token_live(tx, user, idem)? {
                return Ok(WriteOutcome::Revoked);
            }
            if let Some(answer) = stored_answer(tx, user, idem)? {
                return Ok(answer);
            }
            let all = lanes_in(tx, user)?;
            let lane = match lanes::apply_lane(op, &all, now) {
                Ok(lane) => lane,
                Err(problem) => return Ok(WriteOutcome::Rejected(problem)),
            };
            let seq: i64 = tx
                .query_row("UPDATE users SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq", [user], |r| r.get(0))
                .map_err(map_err)?;
            let id = lane.id.to_string();
            let data = serde_json::to_string(&lane).expect("lane serialises");
            tx.prepare_cached(
                "INSERT INTO lanes (user_id, id, seq, version, deleted, name_key, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (user_id, id) DO UPDATE SET seq = excluded.seq, version = excluded.version,
                 deleted = excluded.deleted, name_key = excluded.name_key, data = excluded.data",
            )
            .and_then(|mut st| st.execute(params![user, id, seq, lane.version, lane.deleted, lane_key(&lane.name), data]))
            .map_err(map_err)?;
            let response = StoredResponse { status: op.success_status(), body: data };
            store_response(tx, user, idem, &response, &id, lane.version, now)?;
            Ok(WriteOutcome::Applied { response, change: LaneChange { seq, lane } })
        })
    }

    fn lane_changes(&self, user: UserId, since: i64, limit: u32) -> Result<(Vec<LaneChange>, bool)> {
        let rows: Vec<(i64, String)> = self.read(|c| {
            let mut st = c.prepare_cached("SELECT seq, data FROM lanes WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
            let rows = st.query_map(params![user, since, i64::from(limit) + 1], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        let more = rows.len() > limit as usize;
        let changes = rows.iter().take(limit as usize).map(|(seq, d)| Ok(LaneChange { seq: *seq, lane: parse_lane(d)? })).collect::<Result<_>>()?;
        Ok((changes, more))
    }

    fn purge_idempotency(&self, before: DateTime<Utc>) -> Result<usize> {
        self.write_tx(|tx| {
            tx.execute("DELETE FROM idempotency WHERE created_at < ?1", [before.timestamp_millis()]).map_err(map_err)
        })
    }
}
