-- Tracing ranks the stays that met a case's visit before it reads any check-in row: the
-- venue index carries each stay's end and its visitor's key (an index-only scan), so a
-- hub's thousands of visitors cost index entries and only the listed ones cost a row.
DROP INDEX checkins_venue;
CREATE INDEX checkins_venue ON checkins(venue_key, at) INCLUDE (until, visitor_key);
