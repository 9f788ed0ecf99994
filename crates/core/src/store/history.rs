//! Bounded, persisted sync history and counters.

use chrono::Utc;
use rusqlite::{Connection, params};
use uuid::Uuid;

use super::Result;
use super::cards::{parse_ts, parse_uuid, ts};
use crate::model::HistoryEntry;

/// Rows kept in `history`.
pub const HISTORY_MAX: i64 = 500;

pub fn add(conn: &Connection, kind: &str, card_id: Option<Uuid>, message: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO history(at, kind, card_id, message) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![ts(&Utc::now()), kind, card_id.map(|c| c.to_string()), message])?;
    let id = conn.last_insert_rowid();
    if id % 50 == 0 {
        conn.prepare_cached("DELETE FROM history WHERE id <= ?1")?.execute([id - HISTORY_MAX])?;
    }
    Ok(())
}

pub fn list(conn: &Connection, limit: u32) -> Result<Vec<HistoryEntry>> {
    let limit = (limit as i64).min(HISTORY_MAX);
    let mut st = conn.prepare_cached("SELECT id, at, kind, card_id, message FROM history ORDER BY id DESC LIMIT ?1")?;
    let rows = st
        .query_map([limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, String>(4)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, at, kind, card, message)| {
            Ok(HistoryEntry { id, at: parse_ts(&at)?, kind, card_id: card.map(|c| parse_uuid(&c)).transpose()?, message })
        })
        .collect()
}

pub fn metric_add(conn: &Connection, name: &str, n: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO metrics(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
    )?
    .execute(params![name, n])?;
    Ok(())
}

pub fn metric(conn: &Connection, name: &str) -> Result<i64> {
    use rusqlite::OptionalExtension;
    Ok(conn.prepare_cached("SELECT value FROM metrics WHERE name = ?1")?.query_row([name], |r| r.get(0)).optional()?.unwrap_or(0))
}

/// Every counter, by name.
pub fn metrics(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let mut st = conn.prepare_cached("SELECT name, value FROM metrics ORDER BY name")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
