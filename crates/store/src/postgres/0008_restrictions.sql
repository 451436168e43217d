-- Restrictions: the same table as sqlite/0008_restrictions.sql in PostgreSQL's types.

CREATE TABLE restrictions (
    id           UUID PRIMARY KEY,
    unit_code    TEXT NOT NULL REFERENCES units(code),
    unit_path    TEXT COLLATE "C" NOT NULL,
    window_from  TIMESTAMPTZ NOT NULL,
    window_until TIMESTAMPTZ NOT NULL,
    reason       TEXT NOT NULL,
    declared_by  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    lifted_at    TIMESTAMPTZ,
    CHECK (window_until > window_from)
);
CREATE INDEX restrictions_scope ON restrictions(unit_path, window_until);
