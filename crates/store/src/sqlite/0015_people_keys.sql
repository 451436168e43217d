-- Tracing lists the people a case met. It read each listed check-in's row for the visitor,
-- then the person's record by their id: three scattered pages a contact, most of them out
-- of memory at a hundred million check-ins. The venue index now says whether a check-in was
-- made by phone, and a person is found by their visitor key in an index that carries what
-- a contact needs (`people_key`), so a met person costs one page of a small index and no
-- check-in row.
ALTER TABLE people ADD COLUMN key INTEGER;
UPDATE people SET key = key64(id);
CREATE INDEX people_key ON people(key, id, full_name, phone, address_path);

ALTER TABLE checkins ADD COLUMN by_phone INTEGER GENERATED ALWAYS AS (visitor GLOB 'tel:*') VIRTUAL;
DROP INDEX checkins_venue;
CREATE INDEX checkins_venue ON checkins(venue_key, at, until, visitor_key, by_phone);
