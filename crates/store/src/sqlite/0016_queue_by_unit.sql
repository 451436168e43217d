-- The tracers' queue index ended on `quarantine_until`, which no query orders by through
-- it: a jurisdiction is a range of unit paths, so the queue is sorted after the scan
-- anyway. It scattered every trace's writes, though: a case's contacts live in a few
-- dozen units, but their quarantine ends are spread over the window, so each one went to
-- its own place among the other cases' contacts of that unit, about one index page
-- dirtied (and written to the WAL) a contact. Without it, a unit's entries follow the
-- rowid, and a trace's contacts are appended at the end of each of their units.
DROP INDEX contacts_queue;
CREATE INDEX contacts_queue ON contacts(status, unit_path);
DROP INDEX exposure_contacts_queue;
CREATE INDEX exposure_contacts_queue ON exposure_contacts(status, unit_path);
