-- Venues, check-ins and health declarations. Check-ins and declarations are personal data
-- with a lifetime: the retention job deletes them after the retention period.

CREATE TABLE venues (
    id            TEXT PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    plate         TEXT,
    unit_code     TEXT NOT NULL REFERENCES units(code),
    unit_path     TEXT NOT NULL,
    address       TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    owner_phone   TEXT,
    active        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX venues_unit_path ON venues(unit_path);
CREATE INDEX venues_owner ON venues(owner_phone);

-- No foreign key on venue_id: venues are never deleted and the store checks each venue of
-- a batch once. The indexes use 64-bit keys of the venue and the visitor (see `key64`):
-- small entries keep the busiest insert path and the tracing look-ups fast; queries also
-- compare the full values, so a collision can never mix two venues or visitors.
CREATE TABLE checkins (
    id          INTEGER PRIMARY KEY,
    venue_key   INTEGER NOT NULL,
    visitor_key INTEGER NOT NULL,
    venue_id    TEXT NOT NULL,
    visitor   TEXT NOT NULL,
    person_id TEXT,
    phone     TEXT,
    name      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    until     INTEGER NOT NULL,
    source    TEXT NOT NULL
);
-- A visitor's own check-ins (the repeat window, diaries, a case's places) and a venue's
-- visitors over time (logs, tracing co-presence). The second grows at one place per venue.
CREATE INDEX checkins_visitor ON checkins(visitor_key, at);
CREATE INDEX checkins_venue ON checkins(venue_key, at);
CREATE INDEX checkins_at ON checkins(at);

-- A client's item ids, so a retried batch stores each check-in once.
CREATE TABLE checkin_client_keys (
    client_key TEXT PRIMARY KEY,
    checkin_id INTEGER NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX checkin_client_keys_at ON checkin_client_keys(at);

CREATE TABLE declarations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor        TEXT NOT NULL,
    person_id      TEXT,
    phone          TEXT,
    venue_id       TEXT REFERENCES venues(id),
    at             INTEGER NOT NULL,
    symptoms       TEXT NOT NULL,
    f0_contact     INTEGER NOT NULL,
    places_visited TEXT NOT NULL,
    move_from      TEXT,
    move_to        TEXT,
    move_date      TEXT,
    vehicle        TEXT NOT NULL,
    flagged        INTEGER NOT NULL,
    unit_path      TEXT NOT NULL
);
CREATE INDEX declarations_visitor ON declarations(visitor, at);
CREATE INDEX declarations_venue ON declarations(venue_id, at);
CREATE INDEX declarations_flagged ON declarations(flagged, unit_path, at);
CREATE INDEX declarations_at ON declarations(at);
