-- A certificate remembers what it certifies, as the issuer names it (`dose:<id>`), and
-- its text as issued, so the holder downloads the same certificate again instead of a
-- new identifier every time, and a corrected record can revoke what it had certified.

ALTER TABLE issued_certificates ADD COLUMN subject TEXT;
ALTER TABLE issued_certificates ADD COLUMN hc1 TEXT NOT NULL DEFAULT '';
CREATE INDEX issued_certificates_subject ON issued_certificates(subject, issued_at) WHERE subject IS NOT NULL;
