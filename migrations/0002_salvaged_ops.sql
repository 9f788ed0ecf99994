-- Deckhand client database, schema 2: operations salvaged from a corrupt database's outbox.
-- When the local database is found corrupt at open it is moved aside (deckhand.db.corrupt-<ts>),
-- a fresh one is rebuilt from the server, and the old outbox rows that could still be read are
-- kept here until the user requeues or discards them (docs/engine-api.md, "Recovery").
CREATE TABLE salvaged_ops (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    old_op_id       INTEGER NOT NULL,      -- op_id in the old database
    card_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,         -- create | update | delete
    payload         TEXT NOT NULL,         -- as in outbox.payload
    base_version    INTEGER,
    idempotency_key TEXT,                  -- as queued (kept for reference; a requeue makes a new op and key)
    created_at      TEXT NOT NULL,         -- when the op was first queued
    salvaged_at     TEXT NOT NULL,
    source          TEXT NOT NULL          -- path of the moved-aside database
);
