-- Deckhand client database, schema 1. Forward-only: never edit an applied migration, add a new one.

-- Optimistic local view: what the user sees (confirmed copy + pending ops replayed on top).
CREATE TABLE cards (
    rid        INTEGER PRIMARY KEY,           -- stable rowid for the FTS external-content table
    id         TEXT NOT NULL UNIQUE,          -- UUID v7
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    url        TEXT,
    tags       TEXT NOT NULL DEFAULT '[]',    -- JSON array of strings
    lane       TEXT NOT NULL,
    position   REAL NOT NULL,
    pinned     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX cards_lane_position ON cards(lane, position);

-- One row per (tag, card): makes tag filters and the tag list index lookups instead of scans.
CREATE TABLE card_tags (
    tag     TEXT NOT NULL,
    card_id TEXT NOT NULL REFERENCES cards(id) ON DELETE CASCADE,
    PRIMARY KEY (tag, card_id)
) WITHOUT ROWID;
CREATE INDEX card_tags_card ON card_tags(card_id);

CREATE TRIGGER cards_tags_ai AFTER INSERT ON cards BEGIN
    INSERT OR IGNORE INTO card_tags(tag, card_id) SELECT value, new.id FROM json_each(new.tags);
END;
CREATE TRIGGER cards_tags_au AFTER UPDATE OF tags ON cards BEGIN
    DELETE FROM card_tags WHERE card_id = old.id;
    INSERT OR IGNORE INTO card_tags(tag, card_id) SELECT value, new.id FROM json_each(new.tags);
END;

-- Full-text search over title, body, url and tags, kept in sync by triggers.
CREATE VIRTUAL TABLE cards_fts USING fts5(
    title, body, url, tags,
    content = 'cards', content_rowid = 'rid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER cards_fts_ai AFTER INSERT ON cards BEGIN
    INSERT INTO cards_fts(rowid, title, body, url, tags)
    VALUES (new.rid, new.title, new.body, coalesce(new.url, ''), new.tags);
END;
CREATE TRIGGER cards_fts_ad AFTER DELETE ON cards BEGIN
    INSERT INTO cards_fts(cards_fts, rowid, title, body, url, tags)
    VALUES ('delete', old.rid, old.title, old.body, coalesce(old.url, ''), old.tags);
END;
CREATE TRIGGER cards_fts_au AFTER UPDATE OF title, body, url, tags ON cards BEGIN
    INSERT INTO cards_fts(cards_fts, rowid, title, body, url, tags)
    VALUES ('delete', old.rid, old.title, old.body, coalesce(old.url, ''), old.tags);
    INSERT INTO cards_fts(rowid, title, body, url, tags)
    VALUES (new.rid, new.title, new.body, coalesce(new.url, ''), new.tags);
END;

-- Last server-confirmed copy of each card (the base of 3-way merges). Tombstones stay.
CREATE TABLE confirmed (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    card    TEXT NOT NULL                  -- protocol Card as JSON
) WITHOUT ROWID;

-- Durable queue of local writes not yet confirmed by the server.
CREATE TABLE outbox (
    op_id           INTEGER PRIMARY KEY AUTOINCREMENT,
    card_id         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    payload         TEXT NOT NULL,         -- NewCard (create), CardChanges (update), 'null' (delete)
    base_version    INTEGER,               -- confirmed version the edit was made against
    base            TEXT,                  -- confirmed Card JSON at base_version (3-way merge base)
    idempotency_key TEXT NOT NULL,         -- made at enqueue, reused on every attempt
    priority        INTEGER NOT NULL DEFAULT 1,   -- 0 high, 1 normal, 2 low
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,               -- unix ms; NULL = now
    last_error      TEXT,                  -- OpError JSON
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'failed', 'conflict')),
    sent            INTEGER NOT NULL DEFAULT 0     -- 1 = may have reached the server: never coalesce
);
CREATE INDEX outbox_card ON outbox(card_id, op_id);
CREATE INDEX outbox_state ON outbox(state, priority, op_id);

-- Conflicts waiting for the user (one per card).
CREATE TABLE conflicts (
    card_id     TEXT PRIMARY KEY,
    op_id       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    record      TEXT NOT NULL,              -- ConflictRecord JSON
    detected_at TEXT NOT NULL
) WITHOUT ROWID;

-- Key/value sync bookkeeping: change cursor, last event id, last synced time.
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Bounded sync history (the dashboard's recent events).
CREATE TABLE history (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    card_id TEXT,
    message TEXT NOT NULL
);

-- Persisted counters.
CREATE TABLE metrics (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
