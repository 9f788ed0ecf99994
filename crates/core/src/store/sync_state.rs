//! Key/value sync bookkeeping: the change-feed cursor (also the SSE Last-Event-ID) and the time
//! of the last successful sync.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

pub const CURSOR: &str = "cursor";
pub const LAST_SYNCED_AT: &str = "last_synced_at";
/// The server database's identity this client last synced with (docs/protocol.md, "Epoch").
pub const EPOCH: &str = "server_epoch";
/// Set while a full resync towards this epoch is under way (`store/resync.rs`).
pub const RESYNC_EPOCH: &str = "resync_epoch";
/// The last finished resync (`ResyncReport` JSON), shown in `SyncStatus::last_resync`.
pub const LAST_RESYNC: &str = "last_resync";
/// Why the resync under way started (`trash_purged` drops what the server no longer has instead
/// of offering it again); kept so a resumed resync keeps its kind.
pub const RESYNC_REASON: &str = "resync_reason";
/// The server's purge horizon (`ChangesPage::purged_seq`) this client has reconciled with.
pub const PURGE_HORIZON: &str = "purge_horizon";

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

/// Last change-feed sequence applied (0 = nothing yet). A stored value that is not a number is
/// an error, not 0: reading it as 0 would silently pull everything again and, worse, hide a
/// damaged row.
pub fn cursor(conn: &Connection) -> Result<i64> {
    match get(conn, CURSOR)? {
        None => Ok(0),
        Some(s) => s.trim().parse().map_err(|e| crate::error::StoreError::Corrupt(format!("sync cursor {s:?}: {e}"))),
    }
}

/// Move the cursor forward to `seq` (never backwards).
pub fn advance_cursor(conn: &Connection, seq: i64) -> Result<()> {
    if seq > cursor(conn)? {
        set(conn, CURSOR, &seq.to_string())?;
    }
    Ok(())
}
