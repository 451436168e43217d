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
-- How long a stay lasts, in classes that double: up to 15 minutes, 30, an hour, 2, 4, and
-- longer. The co-presence search looks back, in each class, only as far as the class's
-- longest stay (`STAY_CLASSES` in sqlite/mod.rs), where it looked back the longest stay of
-- all for every check-in: a shop's hour-long visits no longer cost eight hours of index.
ALTER TABLE checkins ADD COLUMN stay_class INTEGER GENERATED ALWAYS AS (
    CASE WHEN until - at <= 900000000 THEN 0
         WHEN until - at <= 1800000000 THEN 1
         WHEN until - at <= 3600000000 THEN 2
         WHEN until - at <= 7200000000 THEN 3
         WHEN until - at <= 14400000000 THEN 4
         ELSE 5 END) VIRTUAL;
DROP INDEX checkins_venue;
CREATE INDEX checkins_venue ON checkins(venue_key, stay_class, at, until, visitor_key, by_phone);
