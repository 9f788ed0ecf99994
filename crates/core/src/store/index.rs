//! The derived indexes (word index `cards_fts`, substring index `cards_tri`, `card_tags`) kept
//! up to date from `index_queue` instead of inside the user's write (migration 0010).
//!
//! The promise to the user ("search stays consistent"):
//! - read-your-writes: a search or tag listing first indexes whatever is queued, so every write
//!   that returned before the search began is found, and a deleted card is never found;
//! - an idle store catches up by itself (the store's background thread, `drain_some`), so the
//!   queue stays short and the next search has little to do;
//! - the queue is written in the write's own transaction: after a crash it is still there, and
//!   the background thread indexes it after the next start.

use rusqlite::{Connection, MAIN_DB, OptionalExtension, TransactionBehavior};

use super::Result;

/// Rowids a search's catch-up indexes per transaction (each transaction leaves one FTS segment;
/// the background indexer uses smaller batches, see `store::INDEX_BATCH`).
pub const BATCH: usize = 256;

/// Index `rid` now: its index rows become what `cards` holds at that rowid (nothing after a delete).
fn index_one(conn: &Connection, rid: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM cards_fts WHERE rowid = ?1")?.execute([rid])?;
    conn.prepare_cached("DELETE FROM cards_tri WHERE rowid = ?1")?.execute([rid])?;
    let row: Option<(String, String, String, String, String)> = conn
        .prepare_cached("SELECT id, title, body, coalesce(url, ''), tags FROM cards WHERE rid = ?1")?
        .query_row([rid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    // A deleted card's tag rows went with it (ON DELETE CASCADE).
    let Some((id, title, body, url, tags)) = row else { return Ok(()) };
    for table in ["cards_fts", "cards_tri"] {
        conn.prepare_cached(&format!("INSERT INTO {table}(rowid, title, body, url, tags) VALUES (?1, ?2, ?3, ?4, ?5)"))?
            .execute(rusqlite::params![rid, title, body, url, tags])?;
    }
    add_terms(conn, [title.as_str(), body.as_str(), url.as_str(), tags.as_str()])?;
    conn.prepare_cached("DELETE FROM card_tags WHERE card_id = ?1")?.execute([&id])?;
    conn.prepare_cached("INSERT OR IGNORE INTO card_tags(tag, card_id) SELECT value, ?1 FROM json_each(?2)")?
        .execute([&id, &tags])?;
    Ok(())
}

/// The words of a card's text as `search_terms` keeps them: runs of letters and digits,
/// lowercased. (The word index's tokenizer also folds accents; the trigram index over the terms
/// folds them when matching, and asking the word index for `résumé` finds what it indexed as
/// `resume`, so both spellings work.)
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// Add the card's words that the vocabulary does not have yet (`search_terms`, migration 0011).
fn add_terms<'a>(conn: &Connection, fields: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut add = conn.prepare_cached("INSERT OR IGNORE INTO search_terms(term) VALUES (?1)")?;
    let mut tri = conn.prepare_cached("INSERT INTO search_terms_tri(rowid, term) VALUES (last_insert_rowid(), ?1)")?;
    for f in fields {
        for w in words(f) {
            if add.execute([&w])? == 1 {
                tri.execute([&w])?;
            }
        }
    }
    Ok(())
}

/// Index up to `max` queued rowids in the current transaction. Returns how many were done.
fn drain_in_tx(conn: &Connection, max: usize) -> Result<usize> {
    let rids: Vec<i64> = conn
        .prepare_cached("SELECT rid FROM index_queue ORDER BY rid LIMIT ?1")?
        .query_map([max as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for &rid in &rids {
        index_one(conn, rid)?;
        conn.prepare_cached("DELETE FROM index_queue WHERE rid = ?1")?.execute([rid])?;
    }
    Ok(rids.len())
}

/// Index up to `max` queued rowids in one IMMEDIATE transaction of their own (joins the caller's
/// transaction when there is one). Returns how many were done.
pub fn drain_some(conn: &Connection, max: usize) -> Result<usize> {
    if !conn.is_autocommit() {
        return drain_in_tx(conn, max);
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let n = drain_in_tx(&tx, max)?;
    tx.commit()?;
    Ok(n)
}

/// Before a read that uses the derived indexes: index everything queued (read-your-writes).
/// A database that cannot be written just now (read-only, disk full, locked past the busy
/// timeout) is searched as it was last indexed: the search still answers, and never shows a
/// deleted card (results are read from `cards`), but may miss the newest edits until the queue
/// can be indexed again (logged).
pub fn catch_up(conn: &Connection) -> Result<()> {
    if conn.is_readonly(MAIN_DB)? || pending(conn)? == 0 {
        return Ok(());
    }
    let _span = tracing::debug_span!("index_catch_up").entered();
    loop {
        match drain_some(conn, BATCH) {
            Ok(n) if n == BATCH => {}
            Ok(_) => return Ok(()),
            Err(e) if cannot_write_now(&e) => {
                tracing::warn!(error = %e, "cannot index queued edits now; searching the index as last written");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

fn cannot_write_now(e: &super::StoreError) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(e, super::StoreError::Sqlite(s) if matches!(s.sqlite_error_code(), Some(C::DiskFull | C::DatabaseBusy | C::DatabaseLocked | C::ReadOnly)))
}

/// How many rowids wait to be indexed.
pub fn pending(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("SELECT count(*) FROM index_queue")?.query_row([], |r| r.get(0))?)
}
