-- Deckhand client database, schema 4: full-text index merging off the write path.
-- By default FTS5 merges index segments incrementally at the end of every write transaction
-- (automerge = 4); that work made about one write in a hundred take ~0.5 ms longer (P1's p99 in
-- docs/benchmarks.md). The store's background thread now merges while the writer is idle; crisis
-- merges (16 segments on one level, FTS5's default) still bound the index if it never idles.
INSERT INTO cards_fts(cards_fts, rank) VALUES ('automerge', 0);
