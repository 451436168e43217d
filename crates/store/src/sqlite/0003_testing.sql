-- Testing: sampling sessions, pools, specimens, the history of results, cases, running
-- totals for dashboards, and the outbox of events that notifications and tracing consume.

CREATE TABLE sampling_sessions (
    id         TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    unit_code  TEXT NOT NULL REFERENCES units(code),
    unit_path  TEXT NOT NULL,
    day        TEXT NOT NULL,
    team       TEXT NOT NULL,
    test_type  TEXT NOT NULL,
    pool_size  INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    closed_at  INTEGER
);
CREATE INDEX sampling_sessions_unit ON sampling_sessions(unit_path, day);

-- A pooled tube: the swabs of up to size_limit people.
CREATE TABLE pools (
    id          TEXT PRIMARY KEY,
    barcode     TEXT NOT NULL UNIQUE,
    session_id  TEXT NOT NULL REFERENCES sampling_sessions(id),
    size_limit  INTEGER NOT NULL,
    members     INTEGER NOT NULL,
    closed      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    outcome     TEXT,
    ct          REAL,
    resulted_at INTEGER,
    reject_reason TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX pools_session ON pools(session_id);

-- One person's swab. site_path is where it was taken (samplers and labs see it by that);
-- home_path is where the person lives (cases and dashboards count it there).
CREATE TABLE specimens (
    id            TEXT PRIMARY KEY,
    barcode       TEXT NOT NULL UNIQUE,
    session_id    TEXT NOT NULL REFERENCES sampling_sessions(id),
    person_id     TEXT NOT NULL REFERENCES people(id),
    test_type     TEXT NOT NULL,
    site_path     TEXT NOT NULL,
    home_path     TEXT NOT NULL,
    collected_at  INTEGER NOT NULL,
    pool_id       TEXT REFERENCES pools(id),
    status        TEXT NOT NULL,
    conclusion    TEXT,
    ct            REAL,
    resulted_at   INTEGER,
    reject_reason TEXT,
    retest_of     TEXT REFERENCES specimens(id)
);
CREATE INDEX specimens_person ON specimens(person_id, collected_at);
CREATE INDEX specimens_session ON specimens(session_id);
CREATE INDEX specimens_pool ON specimens(pool_id) WHERE pool_id IS NOT NULL;
CREATE INDEX specimens_retest_of ON specimens(retest_of) WHERE retest_of IS NOT NULL;
CREATE INDEX specimens_site_open ON specimens(site_path, collected_at) WHERE conclusion IS NULL;

-- Every result and correction as recorded; the specimen or pool row holds the current one.
CREATE TABLE results (
    id          INTEGER PRIMARY KEY,
    tube_id     TEXT NOT NULL,
    barcode     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ct          REAL,
    resulted_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    recorded_by TEXT NOT NULL,
    correction  TEXT
);
-- By the tube's id, which grows with time: a lab's batch appends to this index.
CREATE INDEX results_tube ON results(tube_id, id);

CREATE TABLE cases (
    id           TEXT PRIMARY KEY,
    person_id    TEXT NOT NULL REFERENCES people(id),
    unit_code    TEXT NOT NULL,
    unit_path    TEXT NOT NULL,
    source       TEXT NOT NULL,
    specimen_id  TEXT REFERENCES specimens(id),
    sample_date  TEXT,
    onset_date   TEXT,
    confirmed_at INTEGER NOT NULL,
    status       TEXT NOT NULL,
    note         TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX cases_unit ON cases(unit_path, confirmed_at);
CREATE INDEX cases_person ON cases(person_id, confirmed_at);

-- Running totals per unit (country, province, commune), day of collection and test type,
-- kept up to date in the transaction that changes a specimen, so dashboards never scan.
CREATE TABLE testing_totals (
    unit_path TEXT NOT NULL,
    day       TEXT NOT NULL,
    test_type TEXT NOT NULL,
    collected INTEGER NOT NULL,
    positive  INTEGER NOT NULL,
    negative  INTEGER NOT NULL,
    invalid   INTEGER NOT NULL,
    retest    INTEGER NOT NULL,
    rejected  INTEGER NOT NULL,
    PRIMARY KEY (unit_path, day, test_type)
) WITHOUT ROWID;

-- Turnaround from collection to result in whole hours, per unit and day of result.
CREATE TABLE testing_turnaround (
    unit_path TEXT NOT NULL,
    day       TEXT NOT NULL,
    hours     INTEGER NOT NULL,
    specimens INTEGER NOT NULL,
    PRIMARY KEY (unit_path, day, hours)
) WITHOUT ROWID;

-- The outbox: domain events written with the change that caused them.
CREATE TABLE events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    unit_path TEXT NOT NULL,
    payload   TEXT NOT NULL,
    at        INTEGER NOT NULL
);

-- How far each consumer of the outbox has read.
CREATE TABLE event_cursors (
    consumer TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL
);
