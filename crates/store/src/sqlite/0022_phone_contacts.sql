-- A contact who checked in by phone alone has no person to be found by; their own page,
-- once they sign in with that phone, looks them up by visitor key. Only they are indexed:
-- a person's contact would cost every trace a scattered write (see migration 13).
CREATE INDEX contacts_phone_visitor ON contacts(visitor) WHERE person_id IS NULL;
