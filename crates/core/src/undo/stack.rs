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
    // Cached statements: `execute_batch` would parse the SQL again on every write.
    conn.prepare_cached("SAVEPOINT undo_step")?.execute([])?;
    match push(conn, Stack::Undo, label, changes) {
        Ok(()) => {
            conn.prepare_cached("RELEASE undo_step")?.execute([])?;
            Ok(())
        }
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

/// A stack may hold up to this many steps beyond `UNDO_MAX` before `push` trims it: the trim
/// walks `UNDO_MAX` index entries, which done on every write was a fifth of a create's
/// instructions. The extra steps are unreachable: `pop` trims first, `depth` counts at most
/// `UNDO_MAX`.
const TRIM_SLACK: i64 = 16;

/// Put a step on top of `stack`; the stack keeps its newest `UNDO_MAX` steps.
pub fn push(conn: &Connection, stack: Stack, label: &str, changes: &[Change]) -> Result<()> {
    conn.prepare_cached("INSERT INTO undo_steps(stack, label, changes, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![stack.name(), label, serde_json::to_string(changes)?, ts(&Utc::now())])?;
    // Ids only grow and both stacks share them, so new id - oldest id of this stack bounds its
    // size from above (one index seek); trim when that bound passes UNDO_MAX + TRIM_SLACK.
    let new_id = conn.last_insert_rowid();
    let oldest: i64 = conn.prepare_cached("SELECT min(id) FROM undo_steps WHERE stack = ?1")?.query_row([stack.name()], |r| r.get(0))?;
    if new_id - oldest >= UNDO_MAX + TRIM_SLACK {
        trim(conn, stack)?;
    }
    Ok(())
}

/// Drop the steps below the `UNDO_MAX`-th newest: a walk of `UNDO_MAX` index entries and a range
/// delete. (`id NOT IN (the newest UNDO_MAX)` built that set and scanned the whole stack against
/// it: ~300,000 instructions per create, more than the rest of the create's transaction.)
fn trim(conn: &Connection, stack: Stack) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM undo_steps WHERE stack = ?1 AND id < (SELECT id FROM undo_steps WHERE stack = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![stack.name(), UNDO_MAX - 1])?;
    Ok(())
}

/// Take the top step off `stack` (after a trim, so a step beyond `UNDO_MAX` is never undone).
pub fn pop(conn: &Connection, stack: Stack) -> Result<Option<(String, Vec<Change>)>> {
    trim(conn, stack)?;
    let top: Option<(i64, String, String)> = conn
        .prepare_cached("SELECT id, label, changes FROM undo_steps WHERE stack = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([stack.name()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((id, label, changes)) = top else { return Ok(None) };
    conn.prepare_cached("DELETE FROM undo_steps WHERE id = ?1")?.execute([id])?;
    Ok(Some((label, serde_json::from_str(&changes)?)))
}

/// The number of steps `pop` can take (at most `UNDO_MAX`, whatever is not trimmed yet).
pub fn depth(conn: &Connection, stack: Stack) -> Result<u32> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM (SELECT 1 FROM undo_steps WHERE stack = ?1 LIMIT ?2)")?
        .query_row(params![stack.name(), UNDO_MAX], |r| r.get::<_, i64>(0))? as u32)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// The undo stack keeps the newest `UNDO_MAX` steps, whatever the redo stack holds.
    #[test]
    fn the_undo_stack_keeps_its_newest_steps() {
        let s = Store::open_in_memory().unwrap();
        let step = |i: usize| vec![Change::Appeared { card_id: uuid::Uuid::from_u128(i as u128) }];
        s.write(|tx| push(tx, Stack::Redo, "redo 0", &step(0))).unwrap();
        for i in 1..=250 {
            // Redo rows interleave the ids, as undoing and redoing does.
            if i % 7 == 0 {
                s.write(|tx| push(tx, Stack::Redo, &format!("redo {i}"), &step(i))).unwrap();
            }
            s.write(|tx| push(tx, Stack::Undo, &format!("step {i}"), &step(i))).unwrap();
        }
        // Push on until the table holds steps beyond UNDO_MAX (the trim is lazy), never more
        // than TRIM_SLACK of them.
        let rows = || -> i64 { s.read(|c| Ok(c.query_row("SELECT count(*) FROM undo_steps WHERE stack = 'undo'", [], |r| r.get(0))?)).unwrap() };
        let mut last = 250;
        while rows() == UNDO_MAX {
            last += 1;
            s.write(|tx| push(tx, Stack::Undo, &format!("step {last}"), &step(last))).unwrap();
        }
        assert!(rows() > UNDO_MAX && rows() <= UNDO_MAX + TRIM_SLACK, "{} undo rows", rows());
        assert_eq!(s.read(|c| depth(c, Stack::Undo)).unwrap(), UNDO_MAX as u32);
        assert_eq!(s.read(|c| depth(c, Stack::Redo)).unwrap(), 1 + 250 / 7);
        // Undoing takes exactly the newest UNDO_MAX steps, newest first, then nothing.
        let mut popped = Vec::new();
        while let Some((label, _)) = s.write(|tx| pop(tx, Stack::Undo)).unwrap() {
            popped.push(label);
        }
        let newest: Vec<String> = (last + 1 - UNDO_MAX as usize..=last).rev().map(|i| format!("step {i}")).collect();
        assert_eq!(popped, newest);
        assert_eq!(s.read(|c| depth(c, Stack::Undo)).unwrap(), 0);
    }
}
