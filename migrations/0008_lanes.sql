-- Deckhand client database, schema 8: lanes as synced records.
-- `lanes` is what the user sees (name, position, deleted) with the last server copy beside it
-- (`confirmed`, the Lane JSON; NULL until the server has answered for it). `lane_ops` is the
-- lanes' outbox: each queued create/patch/delete keeps its Idempotency-Key for every attempt.
CREATE TABLE lanes (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    position  REAL NOT NULL,
    deleted   INTEGER NOT NULL DEFAULT 0,
    confirmed TEXT
);
CREATE TABLE lane_ops (
    op_id           INTEGER PRIMARY KEY AUTOINCREMENT,
    lane_id         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('create', 'patch', 'delete')),
    -- create: NewLane; patch: LaneChanges; delete: 'null'.
    payload         TEXT NOT NULL,
    -- The lane's name when the op was made (a rename meeting another device's rename sees it).
    base_name       TEXT,
    idempotency_key TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    -- The exact request (a BatchWrite as JSON) once the op was first sent: a retry repeats it
    -- byte for byte under its key; NULL while it never left.
    request         TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX lane_ops_by_lane ON lane_ops(lane_id, op_id);
-- Cards name their lane; a lane's cards are found by name, case-insensitively.
CREATE INDEX cards_lane_nocase ON cards(lane COLLATE NOCASE, position);
