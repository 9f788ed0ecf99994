//! The SQLite schema, versioned with `PRAGMA user_version`; forward-only. (The PostgreSQL
//! schema is in `../postgres/migrations/`.)

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
) WITHOUT ROWID;
-- One row per card and user: its latest state (tombstones kept). `seq` is the user's change
-- number of the last write, so the change feed is an index scan and compacts by itself.
CREATE TABLE cards (
    user_id INTEGER NOT NULL REFERENCES users(id),
    id      TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX cards_by_seq ON cards(user_id, seq);
CREATE INDEX cards_live ON cards(user_id, deleted, id);
CREATE TABLE idempotency (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    key         TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    card_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_age ON idempotency(created_at);
"#, r#"
-- The database's identity ("epoch"): made at random when the database is created (or first
-- opened by a server that knows about it), made again by `deckhand-server reset-epoch` after a
-- restore. Clients store it and resync from 0 when it changes (docs/protocol.md, "Epoch").
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('epoch', lower(hex(randomblob(16))));
"#, r#"
-- Trash retention: tombstones are purged after a while (or on "empty trash"); each user's purge
-- horizon is the highest seq purged, so a client whose cursor is below it resyncs.
ALTER TABLE users ADD COLUMN purged_seq INTEGER NOT NULL DEFAULT 0;
"#, r#"
-- Version history: every stored version of a card (bounded by age and count by the purge task),
-- with the short id of the token that wrote it. Existing cards start with their current version.
CREATE TABLE card_versions (
    user_id INTEGER NOT NULL REFERENCES users(id),
    card_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data    TEXT NOT NULL,
    writer  TEXT,
    at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, card_id, version)
) WITHOUT ROWID;
CREATE INDEX card_versions_by_age ON card_versions(at);
INSERT INTO card_versions (user_id, card_id, version, data, writer, at)
SELECT user_id, id, version, data, NULL,
       CAST((julianday(json_extract(data, '$.updated_at')) - 2440587.5) * 86400000 AS INTEGER)
FROM cards;
"#, r#"
-- Lanes as synced records: the latest state of each lane (tombstones kept), numbered from the
-- user's change counter like cards, so the change feed and the stream carry both. `name_key` is
-- the lower-cased name: live lane names are unique per user, case-insensitively.
CREATE TABLE lanes (
    user_id  INTEGER NOT NULL REFERENCES users(id),
    id       TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    deleted  INTEGER NOT NULL,
    name_key TEXT NOT NULL,
    data     TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX lanes_by_seq ON lanes(user_id, seq);
CREATE UNIQUE INDEX lanes_live_name ON lanes(user_id, name_key) WHERE deleted = 0;
"#];

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let applied: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
