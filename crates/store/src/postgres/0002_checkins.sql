-- Venues, check-ins and health declarations: the same tables as sqlite/0002_checkins.sql
-- in PostgreSQL's types. Check-ins are partitioned by day (see `ensure_partitions`); the
-- retention job drops whole days. The distribution key for Citus is venue_id.

CREATE TABLE venues (
    id            UUID PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    plate         TEXT,
    unit_code     TEXT NOT NULL REFERENCES units(code),
    unit_path     TEXT COLLATE "C" NOT NULL,
    address       TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    owner_phone   TEXT,
    active        BOOLEAN NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX venues_unit_path ON venues(unit_path);
CREATE INDEX venues_owner ON venues(owner_phone);

CREATE TABLE checkins (
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    venue_key   BIGINT NOT NULL,
    visitor_key BIGINT NOT NULL,
    venue_id    UUID NOT NULL,
    visitor   TEXT COLLATE "C" NOT NULL,
    person_id UUID,
    phone     TEXT,
    name      TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    until     TIMESTAMPTZ NOT NULL,
    source    TEXT NOT NULL,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
-- Catches rows outside the daily partitions made ahead of time.
CREATE TABLE checkins_default PARTITION OF checkins DEFAULT;
-- A visitor's own check-ins (the repeat window, diaries, a case's places) and a venue's
-- visitors over time (logs, tracing co-presence). The second grows at one place per venue.
CREATE INDEX checkins_visitor ON checkins(visitor_key, at);
CREATE INDEX checkins_venue ON checkins(venue_key, at);
CREATE INDEX checkins_id ON checkins(id);

CREATE TABLE checkin_client_keys (
    client_key TEXT PRIMARY KEY,
    checkin_id BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX checkin_client_keys_at ON checkin_client_keys(at);

CREATE TABLE declarations (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visitor        TEXT COLLATE "C" NOT NULL,
    person_id      UUID,
    phone          TEXT,
    venue_id       UUID REFERENCES venues(id),
    at             TIMESTAMPTZ NOT NULL,
    symptoms       TEXT NOT NULL,
    f0_contact     BOOLEAN NOT NULL,
    places_visited TEXT NOT NULL,
    move_from      TEXT,
    move_to        TEXT,
    move_date      DATE,
    vehicle        TEXT NOT NULL,
    flagged        BOOLEAN NOT NULL,
    unit_path      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX declarations_visitor ON declarations(visitor, at);
CREATE INDEX declarations_venue ON declarations(venue_id, at);
CREATE INDEX declarations_flagged ON declarations(flagged, unit_path, at);
CREATE INDEX declarations_at ON declarations(at);
