-- Certificates: the same tables as sqlite/0007_certificates.sql in PostgreSQL's types.

CREATE TABLE certificate_signers (
    kid         TEXT PRIMARY KEY,
    private_key BYTEA NOT NULL,
    certificate BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ
);

CREATE TABLE issued_certificates (
    uvci              TEXT PRIMARY KEY,
    person_id         UUID NOT NULL REFERENCES people(id),
    kid               TEXT NOT NULL REFERENCES certificate_signers(kid),
    issued_at         TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    revoked_at        TIMESTAMPTZ,
    revocation_reason TEXT
);
CREATE INDEX issued_certificates_person ON issued_certificates(person_id, issued_at);
CREATE INDEX issued_certificates_revoked ON issued_certificates(revoked_at) WHERE revoked_at IS NOT NULL;
