-- The database's identity ("epoch", docs/protocol.md): made at random when the database is
-- created, made again by `deckhand-server reset-epoch` after a restore from a backup. Clients
-- store it and resync from 0 when it changes. gen_random_uuid() is core since PostgreSQL 13.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('epoch', replace(gen_random_uuid()::text, '-', ''));
