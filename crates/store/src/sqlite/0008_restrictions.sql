-- Restrictions: a unit (a neighbourhood, a commune) under restriction for a time window.
-- Lifting one early sets `lifted_at` and cuts `window_until` to it, so "in force" is one
-- comparison. The residents and venues affected are read from people and venues.

CREATE TABLE restrictions (
    id           TEXT PRIMARY KEY,
    unit_code    TEXT NOT NULL REFERENCES units(code),
    -- The unit's path: whose staff see the restriction, and what lies inside it.
    unit_path    TEXT NOT NULL,
    window_from  INTEGER NOT NULL,
    window_until INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    declared_by  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    lifted_at    INTEGER,
    CHECK (window_until > window_from)
);
CREATE INDEX restrictions_scope ON restrictions(unit_path, window_until);
