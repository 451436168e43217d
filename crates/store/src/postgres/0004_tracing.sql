-- Contact tracing: the same table as sqlite/0004_tracing.sql in PostgreSQL's types. The
-- distribution key for Citus is case_id.

CREATE TABLE contacts (
    id               UUID PRIMARY KEY,
    case_id          UUID NOT NULL REFERENCES cases(id),
    generation       SMALLINT NOT NULL CHECK (generation IN (1, 2)),
    via              UUID REFERENCES contacts(id),
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
    UNIQUE (case_id, visitor)
);
CREATE INDEX contacts_queue ON contacts(status, unit_path, quarantine_until);
CREATE INDEX contacts_person ON contacts(person_id) WHERE person_id IS NOT NULL;
CREATE INDEX contacts_via ON contacts(via) WHERE via IS NOT NULL;
