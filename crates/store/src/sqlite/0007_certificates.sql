-- EU Digital COVID Certificates: document signers (a P-256 key and its X.509 certificate,
-- named by kid) and every certificate issued, by its UVCI, for look-up and revocation.
-- Certificates refer to the holder and the signer only, never to how the facts were
-- recorded, so they work whatever records the doses.

CREATE TABLE certificate_signers (
    kid         TEXT PRIMARY KEY,
    private_key BLOB NOT NULL,
    certificate BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

CREATE TABLE issued_certificates (
    uvci              TEXT PRIMARY KEY,
    person_id         TEXT NOT NULL REFERENCES people(id),
    kid               TEXT NOT NULL REFERENCES certificate_signers(kid),
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    revoked_at        INTEGER,
    revocation_reason TEXT
);
CREATE INDEX issued_certificates_person ON issued_certificates(person_id, issued_at);
CREATE INDEX issued_certificates_revoked ON issued_certificates(revoked_at) WHERE revoked_at IS NOT NULL;
