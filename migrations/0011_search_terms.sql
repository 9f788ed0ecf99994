-- The vocabulary of the word index: every distinct word (a run of letters and digits, lowercased)
-- that has been indexed, with a trigram index over the words. A substring search looks the
-- substring up here (a few thousand short rows) and then asks the word index for the words it
-- found, instead of intersecting trigram lists over every card (issue 12, P6).
-- Append-only: a word whose last card went away stays and simply finds nothing in `cards_fts`.
CREATE TABLE search_terms (
    id INTEGER PRIMARY KEY,
    term TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE search_terms_tri USING fts5(
    term,
    content = 'search_terms', content_rowid = 'id',
    tokenize = 'trigram remove_diacritics 1'
);
-- Existing databases: the words already in the word index (its own tokens, already folded).
-- Cards still queued are added by the indexer.
CREATE VIRTUAL TABLE temp.cards_fts_terms USING fts5vocab(main, cards_fts, row);
INSERT INTO search_terms(term) SELECT term FROM temp.cards_fts_terms;
DROP TABLE temp.cards_fts_terms;
INSERT INTO search_terms_tri(search_terms_tri) VALUES ('rebuild');
