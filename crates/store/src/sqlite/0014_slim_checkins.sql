-- A check-in row carried its venue's id, its visitor's person id or phone, and a known
-- person's name, beside the keys and records that already say them: about 190 bytes a
-- row, so that a hundred million check-ins no longer fitted in memory and tracing read its
-- rows from the disk. A row now names its venue by the venue's index key, which no two
-- venues share, and its visitor by the visitor key alone, from which the person or phone
-- is read back; a known person's name is read from their record. About 90 bytes a row.
ALTER TABLE venues ADD COLUMN key INTEGER;
UPDATE venues SET key = venue_key(id);
CREATE UNIQUE INDEX venues_key ON venues(key);

CREATE TABLE checkins_slim (
    id          INTEGER PRIMARY KEY,
    venue_key   INTEGER NOT NULL,
    visitor_key INTEGER NOT NULL,
    visitor     TEXT NOT NULL,
    name        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    until       INTEGER NOT NULL,
    source      TEXT NOT NULL
);
INSERT INTO checkins_slim (id, venue_key, visitor_key, visitor, name, at, until, source)
    SELECT id, venue_key, visitor_key, visitor,
           CASE WHEN EXISTS (SELECT 1 FROM people p WHERE p.id = c.visitor) THEN '' ELSE name END,
           at, until, source
    FROM checkins c ORDER BY id;
DROP TABLE checkins;
ALTER TABLE checkins_slim RENAME TO checkins;
CREATE INDEX checkins_visitor ON checkins(visitor_key, at);
CREATE INDEX checkins_venue ON checkins(venue_key, at, until, visitor_key);
CREATE INDEX checkins_at ON checkins(at);
