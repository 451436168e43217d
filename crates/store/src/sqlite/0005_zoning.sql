-- Narrow zoning: staff declare a venue exposed for a time window, and everyone checked in
-- then becomes a contact of the exposure. Contacts of cases keep `case_id NOT NULL`; an
-- exposure's contacts live in `exposure_contacts`, the same columns minus the case (and
-- the F2 link), plus the exposure. A visitor is listed once per exposure, and a second
-- declaration whose window overlaps an earlier one at the same venue lists only people not
-- already listed there (checked on insert, through `exposure_contacts_visitor`).

CREATE TABLE exposures (
    id           TEXT PRIMARY KEY,
    venue_id     TEXT NOT NULL REFERENCES venues(id),
    -- The venue's unit path: whose staff see the exposure.
    unit_path    TEXT NOT NULL,
    window_from  INTEGER NOT NULL,
    window_until INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    declared_by  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    CHECK (window_until > window_from)
);
CREATE INDEX exposures_venue ON exposures(venue_id, window_from);
CREATE INDEX exposures_scope ON exposures(unit_path, created_at);

CREATE TABLE exposure_contacts (
    id               TEXT PRIMARY KEY,
    exposure_id      TEXT NOT NULL REFERENCES exposures(id),
    person_id        TEXT,
    visitor          TEXT NOT NULL,
    name             TEXT NOT NULL,
    phone            TEXT,
    kind             TEXT NOT NULL,
    evidence         TEXT NOT NULL,
    exposure_at      INTEGER NOT NULL,
    unit_path        TEXT NOT NULL,
    status           TEXT NOT NULL,
    note             TEXT NOT NULL,
    quarantine_until INTEGER NOT NULL,
    test_days        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (exposure_id, visitor)
);
CREATE INDEX exposure_contacts_visitor ON exposure_contacts(visitor);
CREATE INDEX exposure_contacts_queue ON exposure_contacts(status, unit_path, quarantine_until);
