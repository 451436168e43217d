-- Units, people, accounts, sessions, keys and the audit log. The same tables as
-- sqlite/0001_foundation.sql in PostgreSQL's types; the conformance suite compares the two.

CREATE TABLE units (
    code          TEXT PRIMARY KEY,
    parent_code   TEXT REFERENCES units(code),
    level         TEXT NOT NULL,
    name          TEXT NOT NULL,
    name_folded   TEXT NOT NULL,
    division_type TEXT NOT NULL,
    path          TEXT COLLATE "C" NOT NULL UNIQUE,
    population    BIGINT
);
CREATE INDEX units_parent ON units(parent_code);

CREATE TABLE people (
    id               UUID PRIMARY KEY,
    full_name        TEXT NOT NULL,
    name_folded      TEXT NOT NULL,
    date_of_birth    TEXT NOT NULL,
    birth_year       INTEGER NOT NULL,
    sex              TEXT NOT NULL,
    phone            TEXT,
    cccd             TEXT UNIQUE,
    insurance_number TEXT UNIQUE,
    address_unit     TEXT NOT NULL REFERENCES units(code),
    address_path     TEXT COLLATE "C" NOT NULL,
    street           TEXT NOT NULL,
    household        TEXT REFERENCES units(code),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX people_phone ON people(phone);
CREATE INDEX people_address_path ON people(address_path);
CREATE INDEX people_name_folded ON people(name_folded text_pattern_ops);
CREATE INDEX people_household ON people(household);

CREATE TABLE accounts (
    id            UUID PRIMARY KEY,
    kind          TEXT NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE account_grants (
    account_id UUID NOT NULL REFERENCES accounts(id),
    role       TEXT NOT NULL,
    unit_code  TEXT NOT NULL REFERENCES units(code),
    PRIMARY KEY (account_id, role, unit_code)
);
CREATE INDEX account_grants_unit ON account_grants(unit_code);

CREATE TABLE api_tokens (
    id         UUID PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);

CREATE TABLE sessions (
    hash          BYTEA PRIMARY KEY,
    staff_account UUID REFERENCES accounts(id),
    citizen_phone TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE otp_challenges (
    phone      TEXT PRIMARY KEY,
    code_hash  BYTEA NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    attempts   INTEGER NOT NULL
);

CREATE TABLE otp_sends (
    phone  TEXT NOT NULL,
    client TEXT NOT NULL,
    at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX otp_sends_phone ON otp_sends(phone, at);
CREATE INDEX otp_sends_client ON otp_sends(client, at);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    secret     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);

CREATE TABLE qr_tokens (
    id         TEXT PRIMARY KEY,
    person_id  UUID NOT NULL REFERENCES people(id),
    kid        TEXT NOT NULL REFERENCES signing_keys(kid),
    issued_at  TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX qr_tokens_person ON qr_tokens(person_id);

CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    detail     TEXT NOT NULL,
    client     TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log(actor, id);
CREATE INDEX audit_log_entity ON audit_log(entity_id, id);
