-- Deckhand client database, schema 6: cards come back from the Trash.
-- The outbox takes a fourth kind of op, 'restore' (POST /v1/cards/{id}/restore; payload 'null').
-- SQLite cannot ALTER a CHECK constraint. Widening one changes no stored row, so the table's
-- definition is edited in place (the procedure SQLite documents for such changes, "ALTER TABLE",
-- section 7) instead of rebuilding the table: every row, op id, the AUTOINCREMENT counter and
-- the file layout stay as they are. `writable_schema = RESET` re-reads the schema on this
-- connection; the index below changes the schema cookie, so any other connection re-reads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql, 'CHECK (kind IN (''create'', ''update'', ''delete''))',
                          'CHECK (kind IN (''create'', ''update'', ''delete'', ''restore''))')
 WHERE type = 'table' AND name = 'outbox';
PRAGMA writable_schema = RESET;

-- The Trash view lists confirmed tombstones: a partial index keeps that a short scan however
-- many live cards there are.
CREATE INDEX confirmed_tombstones ON confirmed(id) WHERE deleted = 1;
