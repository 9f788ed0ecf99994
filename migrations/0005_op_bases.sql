-- Deckhand client database, schema 5: every queued edit keeps the base it was made on.
-- `outbox.base` now holds the card's fields as the edit saw them (CardFields JSON; rows written by
-- older builds hold a whole confirmed Card, which reads the same). Edits queued by older builds
-- behind another op have no base and are rebased onto the confirmed copy when sent, as before.
-- `confirmed_versions` keeps the last confirmed copies of each card, so an edit made on an older
-- copy (an editor left open while a remote change landed) is merged against what it saw.
CREATE TABLE confirmed_versions (
    id      TEXT NOT NULL,
    version INTEGER NOT NULL,
    card    TEXT NOT NULL,                 -- CardFields JSON
    PRIMARY KEY (id, version)
) WITHOUT ROWID;

INSERT INTO confirmed_versions(id, version, card)
SELECT id, version, json_object('title', json_extract(card, '$.title'), 'body', json_extract(card, '$.body'),
         'url', json_extract(card, '$.url'), 'tags', json(json_extract(card, '$.tags')),
         'lane', json_extract(card, '$.lane'), 'position', json_extract(card, '$.position'),
         'pinned', json(CASE WHEN json_extract(card, '$.pinned') THEN 'true' ELSE 'false' END))
FROM confirmed WHERE NOT deleted;

-- Salvaged ops keep the base they were made on too (fields as the edit saw them).
ALTER TABLE salvaged_ops ADD COLUMN base TEXT;
