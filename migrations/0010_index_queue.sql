-- Deckhand client database, schema 10: derived indexes leave the user's write transaction.
-- Callgrind showed about two thirds of a create was the full-text index update its triggers ran
-- inside the write (issue 13, Q1/P1). A write now only notes the card's rowid in `index_queue`
-- (one small insert); `store::index` brings the word index, the new substring (trigram) index and
-- `card_tags` up to date from the queue: a search first indexes whatever is queued
-- (read-your-writes), and the store's background thread drains the queue while the writer idles.
-- The queue is a table written in the write's own transaction, so a crash between a write and
-- its indexing loses nothing: the queue is still there at the next start.

DROP TRIGGER cards_fts_ai;
DROP TRIGGER cards_fts_ad;
DROP TRIGGER cards_fts_au;
DROP TRIGGER cards_tags_ai;
DROP TRIGGER cards_tags_au;
DROP TABLE cards_fts;

-- Keyed by rowid: indexing a rowid makes its index rows match whatever `cards` holds at that
-- rowid now (nothing, after a delete), so a rowid reused by a later insert is handled too.
-- (Not `INSERT OR IGNORE` in the triggers: an outer statement's conflict policy, e.g. an upsert's,
-- overrides a trigger's own, so a second queueing of a rowid would fail the user's write.)
CREATE TABLE index_queue (rid INTEGER PRIMARY KEY);

CREATE TRIGGER cards_index_ai AFTER INSERT ON cards BEGIN
    INSERT INTO index_queue(rid) SELECT new.rid WHERE NOT EXISTS (SELECT 1 FROM index_queue WHERE rid = new.rid);
END;
CREATE TRIGGER cards_index_ad AFTER DELETE ON cards BEGIN
    INSERT INTO index_queue(rid) SELECT old.rid WHERE NOT EXISTS (SELECT 1 FROM index_queue WHERE rid = old.rid);
END;
CREATE TRIGGER cards_index_au AFTER UPDATE OF title, body, url, tags ON cards BEGIN
    INSERT INTO index_queue(rid) SELECT new.rid WHERE NOT EXISTS (SELECT 1 FROM index_queue WHERE rid = new.rid);
END;

-- Contentless (the text lives in `cards`) with delete support: the indexer removes a rowid's
-- entry without the old text, which a deferred index no longer has. Same tokenizer and prefix
-- indexes as 0003.
CREATE VIRTUAL TABLE cards_fts USING fts5(
    title, body, url, tags,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
-- Substrings and CJK: every 3-character sequence, case- and diacritic-insensitive like the word
-- index (`cafe` finds `Café`).
CREATE VIRTUAL TABLE cards_tri USING fts5(
    title, body, url, tags,
    content = '', contentless_delete = 1,
    tokenize = 'trigram remove_diacritics 1'
);
-- Merged by the idle store, not inside writes (as 0004 did for the old index).
INSERT INTO cards_fts(cards_fts, rank) VALUES ('automerge', 0);
INSERT INTO cards_tri(cards_tri, rank) VALUES ('automerge', 0);

INSERT INTO cards_fts(rowid, title, body, url, tags)
SELECT rid, title, body, coalesce(url, ''), tags FROM cards;
INSERT INTO cards_tri(rowid, title, body, url, tags)
SELECT rid, title, body, coalesce(url, ''), tags FROM cards;
