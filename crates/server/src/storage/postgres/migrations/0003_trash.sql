-- Trash retention: tombstones are purged after a while (or on "empty trash"); each user's purge
-- horizon is the highest seq purged, so a client whose cursor is below it resyncs.
ALTER TABLE users ADD COLUMN purged_seq BIGINT NOT NULL DEFAULT 0;
