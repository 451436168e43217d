-- Testing: the same tables as sqlite/0003_testing.sql in PostgreSQL's types. The
-- distribution key for Citus is person_id on specimens and cases.

CREATE TABLE sampling_sessions (
    id         UUID PRIMARY KEY,
    site       TEXT NOT NULL,
    unit_code  TEXT NOT NULL REFERENCES units(code),
    unit_path  TEXT COLLATE "C" NOT NULL,
    day        DATE NOT NULL,
    team       TEXT NOT NULL,
    test_type  TEXT NOT NULL,
    pool_size  BIGINT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    closed_at  TIMESTAMPTZ
);
CREATE INDEX sampling_sessions_unit ON sampling_sessions(unit_path, day);

CREATE TABLE pools (
    id            UUID PRIMARY KEY,
    barcode       TEXT NOT NULL UNIQUE,
    session_id    UUID NOT NULL REFERENCES sampling_sessions(id),
    size_limit    BIGINT NOT NULL,
    members       BIGINT NOT NULL,
    closed        BOOLEAN NOT NULL,
    status        TEXT NOT NULL,
    outcome       TEXT,
    ct            DOUBLE PRECISION,
    resulted_at   TIMESTAMPTZ,
    reject_reason TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX pools_session ON pools(session_id);

CREATE TABLE specimens (
    id            UUID PRIMARY KEY,
    barcode       TEXT NOT NULL UNIQUE,
    session_id    UUID NOT NULL REFERENCES sampling_sessions(id),
    person_id     UUID NOT NULL REFERENCES people(id),
    test_type     TEXT NOT NULL,
    site_path     TEXT COLLATE "C" NOT NULL,
    home_path     TEXT COLLATE "C" NOT NULL,
    collected_at  TIMESTAMPTZ NOT NULL,
    pool_id       UUID REFERENCES pools(id),
    status        TEXT NOT NULL,
    conclusion    TEXT,
    ct            DOUBLE PRECISION,
    resulted_at   TIMESTAMPTZ,
    reject_reason TEXT,
    retest_of     UUID REFERENCES specimens(id)
);
CREATE INDEX specimens_person ON specimens(person_id, collected_at);
CREATE INDEX specimens_session ON specimens(session_id);
CREATE INDEX specimens_pool ON specimens(pool_id) WHERE pool_id IS NOT NULL;
CREATE INDEX specimens_retest_of ON specimens(retest_of) WHERE retest_of IS NOT NULL;
CREATE INDEX specimens_site_open ON specimens(site_path, collected_at) WHERE conclusion IS NULL;

CREATE TABLE results (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tube_id     UUID NOT NULL,
    barcode     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ct          DOUBLE PRECISION,
    resulted_at TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    recorded_by TEXT NOT NULL,
    correction  TEXT
);
-- By the tube's id, which grows with time: a lab's batch appends to this index.
CREATE INDEX results_tube ON results(tube_id, id);

CREATE TABLE cases (
    id           UUID PRIMARY KEY,
    person_id    UUID NOT NULL REFERENCES people(id),
    unit_code    TEXT NOT NULL,
    unit_path    TEXT COLLATE "C" NOT NULL,
    source       TEXT NOT NULL,
    specimen_id  UUID REFERENCES specimens(id),
    sample_date  DATE,
    onset_date   DATE,
    confirmed_at TIMESTAMPTZ NOT NULL,
    status       TEXT NOT NULL,
    note         TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX cases_unit ON cases(unit_path, confirmed_at);
CREATE INDEX cases_person ON cases(person_id, confirmed_at);

CREATE TABLE testing_totals (
    unit_path TEXT COLLATE "C" NOT NULL,
    day       DATE NOT NULL,
    test_type TEXT NOT NULL,
    collected BIGINT NOT NULL,
    positive  BIGINT NOT NULL,
    negative  BIGINT NOT NULL,
    invalid   BIGINT NOT NULL,
    retest    BIGINT NOT NULL,
    rejected  BIGINT NOT NULL,
    PRIMARY KEY (unit_path, day, test_type)
);

CREATE TABLE testing_turnaround (
    unit_path TEXT COLLATE "C" NOT NULL,
    day       DATE NOT NULL,
    hours     BIGINT NOT NULL,
    specimens BIGINT NOT NULL,
    PRIMARY KEY (unit_path, day, hours)
);

CREATE TABLE events (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    unit_path TEXT COLLATE "C" NOT NULL,
    payload   JSONB NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE event_cursors (
    consumer TEXT PRIMARY KEY,
    seq      BIGINT NOT NULL
);
