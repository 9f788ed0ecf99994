//! Forward-only migration runner. Each applied migration's name and sha256 are recorded; opening a
//! database whose applied migration text changed (or that has migrations this build does not know)
//! is refused with a typed error instead of silently running on a different schema.

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::Result;
use crate::error::StoreError;

pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration { name: "0001_init", sql: include_str!("../../../../migrations/0001_init.sql") },
    Migration { name: "0002_salvaged_ops", sql: include_str!("../../../../migrations/0002_salvaged_ops.sql") },
    Migration { name: "0003_fts_prefix_index", sql: include_str!("../../../../migrations/0003_fts_prefix_index.sql") },
    Migration { name: "0004_fts_merge_when_idle", sql: include_str!("../../../../migrations/0004_fts_merge_when_idle.sql") },
    Migration { name: "0005_op_bases", sql: include_str!("../../../../migrations/0005_op_bases.sql") },
    Migration { name: "0006_trash", sql: include_str!("../../../../migrations/0006_trash.sql") },
    Migration { name: "0007_undo", sql: include_str!("../../../../migrations/0007_undo.sql") },
    Migration { name: "0008_lanes", sql: include_str!("../../../../migrations/0008_lanes.sql") },
    Migration { name: "0009_link_meta", sql: include_str!("../../../../migrations/0009_link_meta.sql") },
    Migration { name: "0010_index_queue", sql: include_str!("../../../../migrations/0010_index_queue.sql") },
    Migration { name: "0011_search_terms", sql: include_str!("../../../../migrations/0011_search_terms.sql") },
];

fn sha256(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// For a read-only database: every migration this build knows must already be applied, unchanged.
pub fn check_applied(conn: &Connection, migrations: &[Migration]) -> Result<()> {
    let mut st = conn.prepare("SELECT name, sha256 FROM schema_migrations")?;
    let applied: Vec<(String, String)> = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    for m in migrations {
        match applied.iter().find(|(n, _)| n == m.name) {
            None => {
                return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                    Some(format!("the database needs migration {} but is read-only", m.name)),
                )));
            }
            Some((_, sha)) if *sha != sha256(m.sql) => {
                return Err(StoreError::MigrationChanged { name: m.name.into(), stored: sha.clone(), now: sha256(m.sql) });
            }
            Some(_) => {}
        }
    }
    if let Some((n, _)) = applied.iter().find(|(n, _)| !migrations.iter().any(|m| m.name == n)) {
        return Err(StoreError::UnknownMigration(n.clone()));
    }
    Ok(())
}

pub fn run(conn: &mut Connection, migrations: &[Migration]) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    let applied: Vec<(String, String)> = {
        let mut st = conn.prepare("SELECT name, sha256 FROM schema_migrations ORDER BY name")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    for (name, stored) in &applied {
        match migrations.iter().find(|m| m.name == name) {
            None => return Err(StoreError::UnknownMigration(name.clone())),
            Some(m) => {
                let now = sha256(m.sql);
                if &now != stored {
                    return Err(StoreError::MigrationChanged { name: name.clone(), stored: stored.clone(), now });
                }
            }
        }
    }
    for m in migrations {
        let done: Option<String> = conn
            .query_row("SELECT sha256 FROM schema_migrations WHERE name = ?1", [m.name], |r| r.get(0))
            .optional()?;
        if done.is_some() {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations(name, sha256, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.name, sha256(m.sql), chrono::Utc::now().to_rfc3339()],
        )?;
        tx.commit()?;
        tracing::info!(migration = m.name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_once_and_refuses_changed_text() {
        let mut c = Connection::open_in_memory().unwrap();
        let v1 = [Migration { name: "0001_a", sql: "CREATE TABLE a(x);" }];
        run(&mut c, &v1).unwrap();
        run(&mut c, &v1).unwrap(); // idempotent
        let v2 = [v1[0].sql].map(|_| Migration { name: "0001_a", sql: "CREATE TABLE a(y);" });
        assert!(matches!(run(&mut c, &v2), Err(StoreError::MigrationChanged { .. })));
        let more = [
            Migration { name: "0001_a", sql: "CREATE TABLE a(x);" },
            Migration { name: "0002_b", sql: "CREATE TABLE b(x);" },
        ];
        run(&mut c, &more).unwrap();
        assert!(matches!(run(&mut c, &v1), Err(StoreError::UnknownMigration(n)) if n == "0002_b"));
    }

    #[test]
    fn real_schema_applies() {
        let mut c = Connection::open_in_memory().unwrap();
        run(&mut c, MIGRATIONS).unwrap();
        let n: i64 = c.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n as usize, MIGRATIONS.len());
    }

    /// 0007 only adds the undo stacks: a database at schema 6 keeps its cards and queue, and
    /// starts with both stacks empty.
    #[test]
    fn schema_7_adds_empty_undo_stacks_and_keeps_the_rest() {
        let mut c = Connection::open_in_memory().unwrap();
        run(&mut c, &MIGRATIONS[..6]).unwrap();
        c.execute("INSERT INTO outbox(card_id, kind, payload, idempotency_key, created_at) VALUES ('c', 'restore', 'null', 'k', 't')", []).unwrap();
        run(&mut c, MIGRATIONS).unwrap();
        let kept: i64 = c.query_row("SELECT count(*) FROM outbox WHERE idempotency_key = 'k'", [], |r| r.get(0)).unwrap();
        let steps: i64 = c.query_row("SELECT count(*) FROM undo_steps", [], |r| r.get(0)).unwrap();
        assert_eq!((kept, steps), (1, 0));
        assert!(c.execute("INSERT INTO undo_steps(stack, label, changes, created_at) VALUES ('sideways', 'l', '[]', 't')", []).is_err());
    }

    /// 0006 widens the outbox's kind CHECK in place: queued ops, their ids and the
    /// AUTOINCREMENT counter survive, 'restore' ops are accepted at once (on this connection and
    /// on one opened before it), other kinds still are not.
    #[test]
    fn schema_6_keeps_the_queue_and_its_op_ids() {
        let mut c = Connection::open_in_memory().unwrap();
        run(&mut c, &MIGRATIONS[..5]).unwrap();
        assert!(c.execute("INSERT INTO outbox(card_id, kind, payload, idempotency_key, created_at) VALUES ('c', 'restore', 'null', 'k', 't')", []).is_err());
        for id in [3, 9] {
            c.execute(
                "INSERT INTO outbox(op_id, card_id, kind, payload, base_version, base, idempotency_key, priority, created_at, attempts, state, sent)
                 VALUES (?1, 'card', 'update', '{\"title\":\"t\"}', 4, '{}', ?2, 0, 't', 2, 'failed', 1)",
                rusqlite::params![id, format!("key{id}")],
            )
            .unwrap();
        }
        c.execute("DELETE FROM outbox WHERE op_id = 9", []).unwrap(); // the counter stays at 9
        run(&mut c, MIGRATIONS).unwrap();
        let sql: String = c.query_row("SELECT sql FROM sqlite_master WHERE name = 'outbox'", [], |r| r.get(0)).unwrap();
        assert!(sql.contains("'restore'"), "{sql}");
        let row: (i64, String, String, i64, String, i64, String, bool) = c
            .query_row("SELECT op_id, kind, payload, base_version, idempotency_key, attempts, state, sent FROM outbox", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })
            .unwrap();
        assert_eq!(row, (3, "update".into(), "{\"title\":\"t\"}".into(), 4, "key3".into(), 2, "failed".into(), true));
        c.execute("INSERT INTO outbox(card_id, kind, payload, idempotency_key, created_at) VALUES ('c', 'restore', 'null', 'k', 't')", []).unwrap();
        assert_eq!(c.last_insert_rowid(), 10, "op ids are never reused");
        assert!(c.execute("INSERT INTO outbox(card_id, kind, payload, idempotency_key, created_at) VALUES ('c', 'bogus', 'null', 'k2', 't')", []).is_err());
    }
}
