-- Version history: every stored version of a card (bounded by age and count by the purge task),
-- with the short id of the token that wrote it. Existing cards start with their current version.
CREATE TABLE card_versions (
    user_id BIGINT NOT NULL REFERENCES users(id),
    card_id UUID NOT NULL,
    version BIGINT NOT NULL,
    data    TEXT NOT NULL,
    writer  TEXT,
    at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, card_id, version)
);
CREATE INDEX card_versions_by_age ON card_versions(at);
INSERT INTO card_versions (user_id, card_id, version, data, writer, at)
SELECT user_id, id, version, data, NULL,
       (extract(epoch FROM (data::jsonb->>'updated_at')::timestamptz) * 1000)::bigint
FROM cards;
