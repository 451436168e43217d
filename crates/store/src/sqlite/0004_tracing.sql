-- Contact tracing: the contacts (F1, F2) of each case, with the evidence that made them
-- contacts and their follow-up. Tracing a case again adds only who is new: a visitor is a
-- contact of a case once (UNIQUE (case_id, visitor)).

CREATE TABLE contacts (
    id               TEXT PRIMARY KEY,
    case_id          TEXT NOT NULL REFERENCES cases(id),
    -- 1 for an F1, 2 for an F2 found through the F1 in `via`.
    generation       INTEGER NOT NULL CHECK (generation IN (1, 2)),
    via              TEXT REFERENCES contacts(id),
    -- None for a visitor known only by phone. No foreign key, like check-ins.
    person_id        TEXT,
    visitor          TEXT NOT NULL,
    name             TEXT NOT NULL,
    phone            TEXT,
    kind             TEXT NOT NULL,
    -- JSON: the venue encounters, the household, or who named them.
    evidence         TEXT NOT NULL,
    exposure_at      INTEGER NOT NULL,
    -- Whose tracers follow the contact up: where they live, else where they met the case.
    unit_path        TEXT NOT NULL,
    status           TEXT NOT NULL,
    note             TEXT NOT NULL,
    quarantine_until INTEGER NOT NULL,
    -- Days of the tests, `YYYY-MM-DD` joined by commas.
    test_days        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (case_id, visitor)
);
-- The tracers' queue: one status at a time, a jurisdiction's range of paths, due first.
CREATE INDEX contacts_queue ON contacts(status, unit_path, quarantine_until);
CREATE INDEX contacts_person ON contacts(person_id) WHERE person_id IS NOT NULL;
CREATE INDEX contacts_via ON contacts(via) WHERE via IS NOT NULL;
