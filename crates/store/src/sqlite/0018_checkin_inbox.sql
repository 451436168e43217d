-- Check-ins that came in small groups (one visitor at a time, from phones and venue
-- staff), held until enough have gathered to move into `checkins` in one transaction
-- (`sqlite/inbox.rs`). A row here costs its transaction a few bytes at the end of this
-- table, where a row of `checkins` costs it a page of each index it lands in. Each row
-- keeps the id it will have in `checkins` and the client key it came with.
CREATE TABLE checkin_inbox (
    id          INTEGER PRIMARY KEY,
    venue_key   INTEGER NOT NULL,
    visitor_key INTEGER NOT NULL,
    visitor     TEXT NOT NULL,
    name        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    until       INTEGER NOT NULL,
    source      TEXT NOT NULL,
    client_key  TEXT
);
