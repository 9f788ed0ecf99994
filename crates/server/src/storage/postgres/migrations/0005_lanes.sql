-- Lanes as synced records: the latest state of each lane (tombstones kept), numbered from the
-- user's change counter like cards, so the change feed and the stream carry both. `name_key` is
-- the lower-cased name: live lane names are unique per user, case-insensitively.
CREATE TABLE lanes (
    user_id  BIGINT NOT NULL REFERENCES users(id),
    id       UUID NOT NULL,
    seq      BIGINT NOT NULL,
    version  BIGINT NOT NULL,
    deleted  BOOLEAN NOT NULL,
    name_key TEXT NOT NULL,
    data     TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
);
CREATE UNIQUE INDEX lanes_by_seq ON lanes(user_id, seq);
CREATE UNIQUE INDEX lanes_live_name ON lanes(user_id, name_key) WHERE NOT deleted;
