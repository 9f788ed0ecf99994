-- Deckhand client database, schema 9: link metadata.
-- `cards.link_meta` holds the protocol's LinkMeta as JSON (title, description, site name, icon as
-- a data URI, fetch status and time), synced with the card like any field. NULL = never fetched.
-- A new nullable column: every existing row stays as it was and reads as "not fetched yet".
ALTER TABLE cards ADD COLUMN link_meta TEXT;

-- The "broken links" view: a partial index over the few cards whose URL stopped answering.
CREATE INDEX cards_broken_links ON cards(id) WHERE json_extract(link_meta, '$.status') = 'broken';
