-- Vaccination: priority groups, organisations, registrations, lots, sites, sessions,
-- invitations, doses with their history, adverse events, and running coverage totals.
-- Times are microseconds since the Unix epoch (UTC); ids are UUIDs in text.

CREATE TABLE priority_groups (
    code    TEXT PRIMARY KEY,
    rank    INTEGER NOT NULL,
    name    TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE organisations (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    unit_code     TEXT NOT NULL REFERENCES units(code),
    unit_path     TEXT NOT NULL,
    address       TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    manager       TEXT REFERENCES accounts(id),
    status        TEXT NOT NULL,
    applied_at    INTEGER NOT NULL,
    decided_by    TEXT,
    decided_at    INTEGER,
    decision_note TEXT NOT NULL
);
CREATE INDEX organisations_unit ON organisations(unit_path, status);
CREATE INDEX organisations_manager ON organisations(manager) WHERE manager IS NOT NULL;

-- One registration per person: registering again finds the first one.
CREATE TABLE registrations (
    id             TEXT PRIMARY KEY,
    person_id      TEXT NOT NULL UNIQUE REFERENCES people(id),
    organisation   TEXT REFERENCES organisations(id),
    priority_group TEXT NOT NULL REFERENCES priority_groups(code),
    comorbidities  TEXT NOT NULL,
    preferred_unit TEXT NOT NULL REFERENCES units(code),
    preferred_path TEXT NOT NULL,
    registered_at  INTEGER NOT NULL
);
CREATE INDEX registrations_preferred ON registrations(preferred_path);
CREATE INDEX registrations_organisation ON registrations(organisation);
-- Matching people registered without a CCCD: by phone, folded name and birth date.
CREATE INDEX people_match ON people(phone, name_folded, date_of_birth);

CREATE TABLE vaccine_lots (
    lot        TEXT PRIMARY KEY,
    product    TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    unit_code  TEXT NOT NULL REFERENCES units(code)
);

CREATE TABLE vaccination_sites (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    unit_code  TEXT NOT NULL REFERENCES units(code),
    unit_path  TEXT NOT NULL,
    address    TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX vaccination_sites_unit ON vaccination_sites(unit_path);

CREATE TABLE vaccination_sessions (
    id         TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL REFERENCES vaccination_sites(id),
    unit_path  TEXT NOT NULL,
    day        TEXT NOT NULL,
    product    TEXT NOT NULL,
    lot        TEXT NOT NULL REFERENCES vaccine_lots(lot),
    slots      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX vaccination_sessions_unit ON vaccination_sessions(unit_path, day);

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES vaccination_sessions(id),
    person_id   TEXT NOT NULL REFERENCES people(id),
    slot        INTEGER NOT NULL,
    dose_number INTEGER NOT NULL,
    status      TEXT NOT NULL,
    offered_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    answered_at INTEGER
);
-- At most one open invitation per person.
CREATE UNIQUE INDEX invitations_open ON invitations(person_id) WHERE status IN ('offered', 'confirmed');
CREATE INDEX invitations_session ON invitations(session_id, slot);
CREATE INDEX invitations_expiry ON invitations(expires_at) WHERE status = 'offered';

CREATE TABLE doses (
    id          TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES people(id),
    product     TEXT NOT NULL,
    lot         TEXT NOT NULL REFERENCES vaccine_lots(lot),
    dose_number INTEGER NOT NULL,
    given_at    INTEGER NOT NULL,
    site_id     TEXT NOT NULL REFERENCES vaccination_sites(id),
    session_id  TEXT REFERENCES vaccination_sessions(id),
    vaccinator  TEXT NOT NULL,
    home_path   TEXT NOT NULL,
    site_path   TEXT NOT NULL,
    screening   TEXT NOT NULL,
    voided      INTEGER NOT NULL DEFAULT 0,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX doses_person ON doses(person_id, given_at);

-- What a dose said before each correction.
CREATE TABLE dose_revisions (
    dose_id     TEXT NOT NULL REFERENCES doses(id),
    product     TEXT NOT NULL,
    lot         TEXT NOT NULL,
    dose_number INTEGER NOT NULL,
    given_at    INTEGER NOT NULL,
    voided      INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    by_actor    TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX dose_revisions_dose ON dose_revisions(dose_id, at);

CREATE TABLE adverse_events (
    id          TEXT PRIMARY KEY,
    dose_id     TEXT NOT NULL REFERENCES doses(id),
    person_id   TEXT NOT NULL,
    severity    TEXT NOT NULL,
    description TEXT NOT NULL,
    onset_at    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    note        TEXT NOT NULL,
    reported_by TEXT NOT NULL,
    unit_path   TEXT NOT NULL,
    reported_at INTEGER NOT NULL
);
CREATE INDEX adverse_events_unit ON adverse_events(unit_path, reported_at);

-- How each vaccinated person is counted, so a change takes out what it put in.
CREATE TABLE vaccination_status (
    person_id      TEXT PRIMARY KEY,
    home_path      TEXT NOT NULL,
    age_band       TEXT NOT NULL,
    priority_group TEXT NOT NULL,
    comorbid       INTEGER NOT NULL,
    doses          INTEGER NOT NULL,
    complete       INTEGER NOT NULL
);

-- Running coverage per unit (country, province, commune) and bucket.
CREATE TABLE coverage_totals (
    unit_path    TEXT NOT NULL,
    dimension    TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    at_least_one INTEGER NOT NULL,
    full_series  INTEGER NOT NULL,
    PRIMARY KEY (unit_path, dimension, bucket)
) WITHOUT ROWID;

CREATE TABLE dose_totals (
    unit_path TEXT NOT NULL,
    day       TEXT NOT NULL,
    product   TEXT NOT NULL,
    doses     INTEGER NOT NULL,
    PRIMARY KEY (unit_path, day, product)
) WITHOUT ROWID;
