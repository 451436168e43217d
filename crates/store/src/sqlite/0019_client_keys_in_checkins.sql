-- A client key had a table of its own, and each keyed check-in an entry at a scattered
-- place of that table's key index: a gateway's batches went in at half the rate of the
-- same batches without keys (`bench ingest --client-ids`). A retried item names the same
-- visitor, so the key now rides with the check-in it stored, hashed (`key64`) into its row
-- and its visitor index entry, which the check-in pays for anyway; a retry is found among
-- its visitor's entries. A key is thereby its visitor's: the same key sent for another
-- visitor is another check-in. One key is carried over for each check-in (the least, where
-- a repeat's key named it too); a retry under any other is the same visit again, which the
-- repeat window finds.
ALTER TABLE checkins ADD COLUMN client_hash INTEGER;
UPDATE checkins SET client_hash = keys.hash
    FROM (SELECT checkin_id, key64(min(client_key)) AS hash FROM checkin_client_keys GROUP BY checkin_id) AS keys
    WHERE keys.checkin_id = checkins.id;
DROP TABLE checkin_client_keys;
DROP INDEX checkins_visitor;
CREATE INDEX checkins_visitor ON checkins(visitor_key, at, client_hash);
