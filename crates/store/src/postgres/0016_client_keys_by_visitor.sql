-- A client key is its visitor's (as in SQLite's migration 19, where it moved into the
-- check-in's row): the same key sent for another visitor is another check-in. Only the key
-- of a check-in stored as new is remembered from here on; a retry of a repeat is the same
-- visit again, which the repeat window finds. Keys already remembered keep the visitor of
-- the check-in they named.
ALTER TABLE checkin_client_keys ADD COLUMN visitor TEXT;
UPDATE checkin_client_keys k SET visitor = c.visitor FROM checkins c WHERE c.id = k.checkin_id;
DELETE FROM checkin_client_keys WHERE visitor IS NULL;
ALTER TABLE checkin_client_keys ALTER COLUMN visitor SET NOT NULL;
ALTER TABLE checkin_client_keys DROP CONSTRAINT checkin_client_keys_pkey;
ALTER TABLE checkin_client_keys ADD PRIMARY KEY (client_key, visitor);
