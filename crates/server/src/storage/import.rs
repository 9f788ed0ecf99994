//! `deckhand-server migrate-from-sqlite`: copies a SQLite server database into an empty
//! PostgreSQL one. Users (with their ids and `last_seq`), tokens, cards and tombstones with their
//! seqs are copied verbatim, so clients keep their cursors; idempotency records still within the
//! retention are copied so retries across the move still replay; the epoch is kept, so clients
//! see the same database and do not resync. One transaction: a failed copy
//! leaves the target empty. Counts and every user's last seq are verified at the end.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

use super::postgres::{PgStorage, db_err};
use super::{Result, StorageError};

/// What was copied (and verified).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub users: i64,
    pub tokens: i64,
    pub cards: i64,
    pub tombstones: i64,
    pub idempotency_records: i64,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} users, {} tokens, {} cards ({} tombstones), {} idempotency records",
            self.users, self.tokens, self.cards, self.tombstones, self.idempotency_records
        )
    }
}

struct Rows {
    /// The database's identity: kept, so clients see the same database and keep their cursors.
    epoch: Option<String>,
    users: Vec<(i64, String, i64, String)>,
    /// (user, purge horizon); empty from a database older than the Trash (nothing purged there).
    purged: Vec<(i64, i64)>,
    tokens: Vec<(Vec<u8>, i64, String, Option<String>)>,
    cards: Vec<(i64, Uuid, i64, i64, bool, String)>,
    idempotency: Vec<(i64, String, Vec<u8>, i32, String, Uuid, i64, i64)>,
    /// Lane records (empty from a database older than lanes).
    lanes: Vec<(i64, Uuid, i64, i64, bool, String, String)>,
}

fn sq(e: rusqlite::Error) -> StorageError {
    StorageError::Backend(format!("reading the SQLite database: {e}"))
}

fn uuid_of(s: String) -> Result<Uuid> {
    Uuid::parse_str(&s).map_err(|e| StorageError::Corrupt(format!("card id {s:?}: {e}")))
}

fn read_sqlite(path: &Path, keep_idempotency_after_ms: i64) -> Result<Rows> {
    if !path.exists() {
        return Err(StorageError::Backend(format!("{} does not exist", path.display())));
    }
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sq)?;
    let users = c
        .prepare("SELECT id, name, last_seq, created_at FROM users ORDER BY id")
        .map_err(sq)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(sq)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sq)?;
    let purged = match c.prepare("SELECT id, purged_seq FROM users WHERE purged_seq > 0") {
        Ok(mut st) => st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sq)?.collect::<rusqlite::Result<_>>().map_err(sq)?,
        Err(_) => Vec::new(),
    };
    let tokens = c
        .prepare("SELECT hash, user_id, created_at, revoked_at FROM tokens")
        .map_err(sq)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(sq)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sq)?;
    let raw_cards: Vec<(i64, String, i64, i64, bool, String)> = c
        .prepare("SELECT user_id, id, seq, version, deleted, data FROM cards ORDER BY user_id, seq")
        .map_err(sq)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .map_err(sq)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sq)?;
    let cards = raw_cards.into_iter().map(|(u, id, s, v, d, data)| Ok((u, uuid_of(id)?, s, v, d, data))).collect::<Result<_>>()?;
    let raw_idem: Vec<(i64, String, Vec<u8>, i32, String, String, i64, i64)> = c
        .prepare(
            "SELECT user_id, key, fingerprint, status, body, card_id, version, created_at FROM idempotency
             WHERE created_at >= ?1",
        )
        .map_err(sq)?
        .query_map([keep_idempotency_after_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })
        .map_err(sq)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sq)?;
    let idempotency = raw_idem
        .into_iter()
        .map(|(u, k, f, s, b, id, v, at)| Ok((u, k, f, s, b, uuid_of(id)?, v, at)))
        .collect::<Result<_>>()?;
    let has_meta: bool = c
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |r| r.get::<_, i64>(0))
        .map_err(sq)?
        > 0;
    let epoch = if has_meta {
        c.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| r.get(0)).map(Some).map_err(sq)?
    } else {
        None
    };
    let lanes = match c.prepare("SELECT user_id, id, seq, version, deleted, name_key, data FROM lanes") {
        Ok(mut st) => {
            let raw: Vec<(i64, String, i64, i64, bool, String, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
                .map_err(sq)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sq)?;
            raw.into_iter().map(|(u, id, s, v, d, k, data)| Ok((u, uuid_of(id)?, s, v, d, k, data))).collect::<Result<_>>()?
        }
        Err(_) => Vec::new(),
    };
    Ok(Rows { epoch, users, purged, tokens, cards, idempotency, lanes })
}

/// Copies `from` (a SQLite server database) into the PostgreSQL database at `to`, which must be
/// empty; idempotency records created before `keep_idempotency_after` are left behind.
pub fn sqlite_to_postgres(from: &Path, to: &str, keep_idempotency_after: chrono::DateTime<chrono::Utc>) -> Result<ImportReport> {
    let rows = read_sqlite(from, keep_idempotency_after.timestamp_millis())?;
    let target = PgStorage::connect(to, 2)?;
    target.with_client(move |mut c| async move {
        let tx = c.transaction().await.map_err(db_err)?;
        let existing: i64 = tx
            .query_one(
                "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM tokens) + (SELECT count(*) FROM cards)
                 + (SELECT count(*) FROM idempotency)",
                &[],
            )
            .await
            .map_err(db_err)?
            .get(0);
        if existing > 0 {
            return Err(StorageError::Backend("the target database is not empty; refusing to import into it".into()));
        }
        let st = tx
            .prepare("INSERT INTO users (id, name, last_seq, created_at) VALUES ($1, $2, $3, $4::text::timestamptz)")
            .await
            .map_err(db_err)?;
        for (id, name, last_seq, created_at) in &rows.users {
            tx.execute(&st, &[id, name, last_seq, created_at]).await.map_err(db_err)?;
        }
        // The purge horizon travels too: a client whose cursor is below it still learns to resync.
        for (id, purged_seq) in &rows.purged {
            tx.execute("UPDATE users SET purged_seq = $2 WHERE id = $1", &[id, purged_seq]).await.map_err(db_err)?;
        }
        // Ids were copied; new users continue after them.
        tx.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST((SELECT max(id) FROM users), 1))", &[])
            .await
            .map_err(db_err)?;
        let st = tx
            .prepare(
                "INSERT INTO tokens (hash, user_id, created_at, revoked_at)
                 VALUES ($1, $2, $3::text::timestamptz, $4::text::timestamptz)",
            )
            .await
            .map_err(db_err)?;
        for (hash, user, created_at, revoked_at) in &rows.tokens {
            tx.execute(&st, &[hash, user, created_at, revoked_at]).await.map_err(db_err)?;
        }
        let st = tx
            .prepare("INSERT INTO cards (user_id, id, seq, version, deleted, data) VALUES ($1, $2, $3, $4, $5, $6)")
            .await
            .map_err(db_err)?;
        for (user, id, seq, version, deleted, data) in &rows.cards {
            tx.execute(&st, &[user, id, seq, version, deleted, data]).await.map_err(db_err)?;
        }
        let st = tx
            .prepare("INSERT INTO lanes (user_id, id, seq, version, deleted, name_key, data) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .await
            .map_err(db_err)?;
        for (user, id, seq, version, deleted, key, data) in &rows.lanes {
            tx.execute(&st, &[user, id, seq, version, deleted, key, data]).await.map_err(db_err)?;
        }
        // Each card's history starts with its current version (older versions are not carried).
        tx.execute(
            "INSERT INTO card_versions (user_id, card_id, version, data, writer, at)
             SELECT user_id, id, version, data, NULL, (extract(epoch FROM (data::jsonb->>'updated_at')::timestamptz) * 1000)::bigint FROM cards",
            &[],
        )
        .await
        .map_err(db_err)?;
        let st = tx
            .prepare(
                "INSERT INTO idempotency (user_id, key, fingerprint, status, body, card_id, version, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await
            .map_err(db_err)?;
        for (user, key, fp, status, body, card, version, at) in &rows.idempotency {
            tx.execute(&st, &[user, key, fp, status, body, card, version, at]).await.map_err(db_err)?;
        }
        if let Some(epoch) = &rows.epoch {
            tx.execute("UPDATE meta SET value = $1 WHERE key = 'epoch'", &[epoch]).await.map_err(db_err)?;
        }
        // Verify inside the transaction: counts, and every user's counter and newest seq.
        let count = |table: &'static str| {
            let tx = &tx;
            async move {
                tx.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.map(|r| r.get::<_, i64>(0)).map_err(db_err)
            }
        };
        let report = ImportReport {
            users: count("users").await?,
            tokens: count("tokens").await?,
            cards: count("cards").await?,
            tombstones: tx.query_one("SELECT count(*) FROM cards WHERE deleted", &[]).await.map_err(db_err)?.get(0),
            idempotency_records: count("idempotency").await?,
        };
        let expected = (rows.users.len(), rows.tokens.len(), rows.cards.len(), rows.idempotency.len());
        let got = (report.users as usize, report.tokens as usize, report.cards as usize, report.idempotency_records as usize);
        if expected != got {
            return Err(StorageError::Backend(format!("copied counts {got:?} differ from the source's {expected:?}")));
        }
        for (id, name, last_seq, _) in &rows.users {
            let row = tx
                .query_one("SELECT u.last_seq, GREATEST(COALESCE((SELECT max(seq) FROM cards WHERE user_id = u.id), 0),
                  COALESCE((SELECT max(seq) FROM lanes WHERE user_id = u.id), 0)) FROM users u WHERE u.id = $1", &[id])
                .await
                .map_err(db_err)?;
            let (copied, newest): (i64, i64) = (row.get(0), row.get(1));
            if copied != *last_seq || newest > copied {
                return Err(StorageError::Corrupt(format!(
                    "user {name}: last seq {copied} (source {last_seq}), newest card seq {newest}"
                )));
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(report)
    })
}
