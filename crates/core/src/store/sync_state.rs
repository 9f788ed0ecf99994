//! Key/value sync bookkeeping: the change-feed cursor (also the SSE Last-Event-ID) and the time
//! of the last successful sync.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

pub const CURSOR: &str = "cursor";
pub const LAST_SYNCED_AT: &str = "last_synced_at";

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_state(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Last change-feed sequence applied (0 = nothing yet).
pub fn cursor(conn: &Connection) -> Result<i64> {
    Ok(get(conn, CURSOR)?.and_then(|s| s.parse().ok()).unwrap_or(0))
}

/// Move the cursor forward to `seq` (never backwards).
pub fn advance_cursor(conn: &Connection, seq: i64) -> Result<()> {
    if seq > cursor(conn)? {
        set(conn, CURSOR, &seq.to_string())?;
    }
    Ok(())
}
