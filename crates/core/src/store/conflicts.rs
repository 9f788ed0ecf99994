//! Conflicts waiting for the user: one row per card, holding the `ConflictRecord` and the op
//! that is parked in state `conflict`.

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::Result;
use super::cards::ts;
use crate::model::{ConflictKind, ConflictRecord};

pub fn insert(conn: &Connection, rec: &ConflictRecord, op_id: i64) -> Result<()> {
    let kind = match rec.kind {
        ConflictKind::Fields => "fields",
        ConflictKind::EditVsDelete => "edit_vs_delete",
    };
    conn.prepare_cached(
        "INSERT INTO conflicts(card_id, op_id, kind, record, detected_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(card_id) DO UPDATE SET op_id = excluded.op_id, kind = excluded.kind,
           record = excluded.record, detected_at = excluded.detected_at",
    )?
    .execute(params![rec.card_id.to_string(), op_id, kind, serde_json::to_string(rec)?, ts(&rec.detected_at)])?;
    super::history::metric_add(conn, "conflicts_detected", 1)?;
    Ok(())
}

/// Rewrite an open conflict's record in place (an edit folded into "mine").
pub fn update(conn: &Connection, rec: &ConflictRecord) -> Result<()> {
    conn.prepare_cached("UPDATE conflicts SET record = ?2 WHERE card_id = ?1")?
        .execute(params![rec.card_id.to_string(), serde_json::to_string(rec)?])?;
    Ok(())
}

/// The conflict of a card and the op it parks.
pub fn get(conn: &Connection, card_id: Uuid) -> Result<Option<(ConflictRecord, i64)>> {
    let row: Option<(String, i64)> = conn
        .prepare_cached("SELECT record, op_id FROM conflicts WHERE card_id = ?1")?
        .query_row([card_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(s, op)| Ok((serde_json::from_str(&s)?, op))).transpose()
}

pub fn list(conn: &Connection) -> Result<Vec<ConflictRecord>> {
    let mut st = conn.prepare_cached("SELECT record FROM conflicts ORDER BY detected_at")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.iter().map(|s| Ok(serde_json::from_str(s)?)).collect()
}

pub fn remove(conn: &Connection, card_id: Uuid) -> Result<bool> {
    Ok(conn.prepare_cached("DELETE FROM conflicts WHERE card_id = ?1")?.execute([card_id.to_string()])? > 0)
}

pub fn count(conn: &Connection) -> Result<u32> {
    Ok(conn.prepare_cached("SELECT count(*) FROM conflicts")?.query_row([], |r| r.get::<_, i64>(0))? as u32)
}
