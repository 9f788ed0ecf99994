//! The persisted undo and redo stacks (table `undo_steps`, migration 0007).

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Change, UNDO_MAX, UndoState};
use crate::error::StoreError;
use crate::store::Result;
use crate::store::cards::ts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    Undo,
    Redo,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Undo => "undo",
            Stack::Redo => "redo",
        }
    }
}

/// A new user action: on top of the undo stack; the redo stack is cleared (what it held was
/// undone before this action and no longer follows from it).
///
/// The step is bookkeeping, the action is the user's: when the disk is too full to hold the
/// step (a delete that frees space must still go through), the action commits without it and
/// simply cannot be undone. The step is written under a savepoint so only it is dropped; if
/// SQLite had to roll back the whole transaction instead, the error stands.
pub fn record(conn: &Connection, label: &str, changes: &[Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM undo_steps WHERE stack = 'redo'")?.execute([])?;
    conn.execute_batch("SAVEPOINT undo_step")?;
    match push(conn, Stack::Undo, label, changes) {
        Ok(()) => Ok(conn.execute_batch("RELEASE undo_step")?),
        Err(StoreError::Sqlite(e)) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) && !conn.is_autocommit() => {
            conn.execute_batch("ROLLBACK TO undo_step; RELEASE undo_step")?;
            tracing::warn!(label, "disk full: the action is done but records no undo step");
            Ok(())
        }
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK TO undo_step; RELEASE undo_step");
            }
            Err(e)
        }
    }
}

/// Put a step on top of `stack`, dropping the undo stack's oldest beyond `UNDO_MAX`.
pub fn push(conn: &Connection, stack: Stack, label: &str, changes: &[Change]) -> Result<()> {
    conn.prepare_cached("INSERT INTO undo_steps(stack, label, changes, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![stack.name(), label, serde_json::to_string(changes)?, ts(&Utc::now())])?;
    conn.prepare_cached(
        "DELETE FROM undo_steps WHERE stack = ?1 AND id NOT IN (SELECT id FROM undo_steps WHERE stack = ?1 ORDER BY id DESC LIMIT ?2)",
    )?
    .execute(params![stack.name(), UNDO_MAX])?;
    Ok(())
}

/// Take the top step off `stack`.
pub fn pop(conn: &Connection, stack: Stack) -> Result<Option<(String, Vec<Change>)>> {
    let top: Option<(i64, String, String)> = conn
        .prepare_cached("SELECT id, label, changes FROM undo_steps WHERE stack = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([stack.name()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((id, label, changes)) = top else { return Ok(None) };
    conn.prepare_cached("DELETE FROM undo_steps WHERE id = ?1")?.execute([id])?;
    Ok(Some((label, serde_json::from_str(&changes)?)))
}

pub fn depth(conn: &Connection, stack: Stack) -> Result<u32> {
    Ok(conn.prepare_cached("SELECT count(*) FROM undo_steps WHERE stack = ?1")?.query_row([stack.name()], |r| r.get::<_, i64>(0))? as u32)
}

fn top_label(conn: &Connection, stack: Stack) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT label FROM undo_steps WHERE stack = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([stack.name()], |r| r.get(0))
        .optional()?)
}

pub fn state(conn: &Connection) -> Result<UndoState> {
    Ok(UndoState {
        undo: top_label(conn, Stack::Undo)?,
        redo: top_label(conn, Stack::Redo)?,
        undo_depth: depth(conn, Stack::Undo)?,
        redo_depth: depth(conn, Stack::Redo)?,
    })
}
