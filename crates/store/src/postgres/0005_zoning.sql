-- Narrow zoning: the same tables as sqlite/0005_zoning.sql in PostgreSQL's types.

CREATE TABLE exposures (
    id           UUID PRIMARY KEY,
    venue_id     UUID NOT NULL REFERENCES venues(id),
    unit_path    TEXT COLLATE "C" NOT NULL,
    window_from  TIMESTAMPTZ NOT NULL,
    window_until TIMESTAMPTZ NOT NULL,
    reason       TEXT NOT NULL,
    declared_by  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    CHECK (window_until > window_from)
);
CREATE INDEX exposures_venue ON exposures(venue_id, window_from);
CREATE INDEX exposures_scope ON exposures(unit_path, created_at);

CREATE TABLE exposure_contacts (
    id               UUID PRIMARY KEY,
    exposure_id      UUID NOT NULL REFERENCES exposures(id),
    person_id        UUID,
    visitor          TEXT COLLATE "C" NOT NULL,
    name             TEXT NOT NULL,
    phone            TEXT,
    kind             TEXT NOT NULL,
    evidence         JSONB NOT NULL,
    exposure_at      TIMESTAMPTZ NOT NULL,
    unit_path        TEXT COLLATE "C" NOT NULL,
    status           TEXT NOT NULL,
    note             TEXT NOT NULL,
    quarantine_until TIMESTAMPTZ NOT NULL,
    test_days        DATE[] NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (exposure_id, visitor)
);
CREATE INDEX exposure_contacts_visitor ON exposure_contacts(visitor);
CREATE INDEX exposure_contacts_queue ON exposure_contacts(status, unit_path, quarantine_until);
