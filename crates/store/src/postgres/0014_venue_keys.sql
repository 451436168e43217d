-- No two venues share an index key: SQLite's check-ins name their venue by it alone, and
-- so tracing never has to tell two venues of one key apart on either store. The key is
-- the two halves of the id XORed (`venue_key` in the store's code).
ALTER TABLE venues ADD COLUMN key BIGINT;
UPDATE venues SET key = ('x' || encode(substring(uuid_send(id) FROM 1 FOR 8), 'hex'))::bit(64)::bigint
                      # ('x' || encode(substring(uuid_send(id) FROM 9 FOR 8), 'hex'))::bit(64)::bigint;
ALTER TABLE venues ALTER COLUMN key SET NOT NULL;
CREATE UNIQUE INDEX venues_key ON venues(key);
