-- Vaccination: priority groups, organisations, registrations, lots, sites, sessions,
-- invitations, doses with their history, adverse events, and running coverage totals.
-- The same tables as sqlite/0006_vaccination.sql in PostgreSQL's types; the distribution key
-- for Citus is person_id on registrations, invitations and doses.

CREATE TABLE priority_groups (
    code    TEXT PRIMARY KEY,
    rank    INTEGER NOT NULL,
    name    TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE organisations (
    id            UUID PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    unit_code     TEXT NOT NULL REFERENCES units(code),
    unit_path     TEXT COLLATE "C" NOT NULL,
    address       TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    manager       UUID REFERENCES accounts(id),
    status        TEXT NOT NULL,
    applied_at    TIMESTAMPTZ NOT NULL,
    decided_by    TEXT,
    decided_at    TIMESTAMPTZ,
    decision_note TEXT NOT NULL
);
CREATE INDEX organisations_unit ON organisations(unit_path, status);
CREATE INDEX organisations_manager ON organisations(manager) WHERE manager IS NOT NULL;

-- One registration per person: registering again finds the first one.
CREATE TABLE registrations (
    id             UUID PRIMARY KEY,
    person_id      UUID NOT NULL UNIQUE REFERENCES people(id),
    organisation   UUID REFERENCES organisations(id),
    priority_group TEXT NOT NULL REFERENCES priority_groups(code),
    comorbidities  TEXT NOT NULL,
    preferred_unit TEXT NOT NULL REFERENCES units(code),
    preferred_path TEXT COLLATE "C" NOT NULL,
    registered_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX registrations_preferred ON registrations(preferred_path);
CREATE INDEX registrations_organisation ON registrations(organisation);
-- Matching people registered without a CCCD: by phone, folded name and birth date.
CREATE INDEX people_match ON people(phone, name_folded, date_of_birth);

CREATE TABLE vaccine_lots (
    lot        TEXT PRIMARY KEY,
    product    TEXT NOT NULL,
    expires_on DATE NOT NULL,
    unit_code  TEXT NOT NULL REFERENCES units(code)
);

CREATE TABLE vaccination_sites (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    unit_code  TEXT NOT NULL REFERENCES units(code),
    unit_path  TEXT COLLATE "C" NOT NULL,
    address    TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX vaccination_sites_unit ON vaccination_sites(unit_path);

CREATE TABLE vaccination_sessions (
    id         UUID PRIMARY KEY,
    site_id    UUID NOT NULL REFERENCES vaccination_sites(id),
    unit_path  TEXT COLLATE "C" NOT NULL,
    day        DATE NOT NULL,
    product    TEXT NOT NULL,
    lot        TEXT NOT NULL REFERENCES vaccine_lots(lot),
    slots      JSONB NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX vaccination_sessions_unit ON vaccination_sessions(unit_path, day);

CREATE TABLE invitations (
    id          UUID PRIMARY KEY,
    session_id  UUID NOT NULL REFERENCES vaccination_sessions(id),
    person_id   UUID NOT NULL REFERENCES people(id),
    slot        INTEGER NOT NULL,
    dose_number SMALLINT NOT NULL,
    status      TEXT NOT NULL,
    offered_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    answered_at TIMESTAMPTZ
);
-- At most one open invitation per person.
CREATE UNIQUE INDEX invitations_open ON invitations(person_id) WHERE status IN ('offered', 'confirmed');
CREATE INDEX invitations_session ON invitations(session_id, slot);
CREATE INDEX invitations_expiry ON invitations(expires_at) WHERE status = 'offered';

CREATE TABLE doses (
    id          UUID PRIMARY KEY,
    person_id   UUID NOT NULL REFERENCES people(id),
    product     TEXT NOT NULL,
    lot         TEXT NOT NULL REFERENCES vaccine_lots(lot),
    dose_number SMALLINT NOT NULL,
    given_at    TIMESTAMPTZ NOT NULL,
    site_id     UUID NOT NULL REFERENCES vaccination_sites(id),
    session_id  UUID REFERENCES vaccination_sessions(id),
    vaccinator  TEXT NOT NULL,
    home_path   TEXT COLLATE "C" NOT NULL,
    site_path   TEXT COLLATE "C" NOT NULL,
    screening   JSONB NOT NULL,
    voided      BOOLEAN NOT NULL DEFAULT FALSE,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX doses_person ON doses(person_id, given_at);

-- What a dose said before each correction.
CREATE TABLE dose_revisions (
    dose_id     UUID NOT NULL REFERENCES doses(id),
    product     TEXT NOT NULL,
    lot         TEXT NOT NULL,
    dose_number SMALLINT NOT NULL,
    given_at    TIMESTAMPTZ NOT NULL,
    voided      BOOLEAN NOT NULL,
    reason      TEXT NOT NULL,
    by_actor    TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX dose_revisions_dose ON dose_revisions(dose_id, at);

CREATE TABLE adverse_events (
    id          UUID PRIMARY KEY,
    dose_id     UUID NOT NULL REFERENCES doses(id),
    person_id   UUID NOT NULL,
    severity    TEXT NOT NULL,
    description TEXT NOT NULL,
    onset_at    TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL,
    note        TEXT NOT NULL,
    reported_by TEXT NOT NULL,
    unit_path   TEXT COLLATE "C" NOT NULL,
    reported_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX adverse_events_unit ON adverse_events(unit_path, reported_at);

-- How each vaccinated person is counted, so a change takes out what it put in.
CREATE TABLE vaccination_status (
    person_id      UUID PRIMARY KEY,
    home_path      TEXT COLLATE "C" NOT NULL,
    age_band       TEXT NOT NULL,
    priority_group TEXT NOT NULL,
    comorbid       BOOLEAN NOT NULL,
    doses          BIGINT NOT NULL,
    complete       BOOLEAN NOT NULL
);

-- Running coverage per unit (country, province, commune) and bucket.
CREATE TABLE coverage_totals (
    unit_path    TEXT COLLATE "C" NOT NULL,
    dimension    TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    at_least_one BIGINT NOT NULL,
    full_series  BIGINT NOT NULL,
    PRIMARY KEY (unit_path, dimension, bucket)
);

CREATE TABLE dose_totals (
    unit_path TEXT COLLATE "C" NOT NULL,
    day       DATE NOT NULL,
    product   TEXT NOT NULL,
    doses     BIGINT NOT NULL,
    PRIMARY KEY (unit_path, day, product)
);
