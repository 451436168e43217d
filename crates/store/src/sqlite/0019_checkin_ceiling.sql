-- A time no check-in is later than, raised before any later one is written (`sqlite/recent.rs`).
-- The check-in writer remembers the check-ins it stores from this time on, and answers the
-- repeat window from memory where it can; what was stored before it began is all earlier.
-- NULL: no check-in was ever stored. One row.
CREATE TABLE checkin_ceiling (at INTEGER);
INSERT INTO checkin_ceiling (at)
    SELECT max(at) FROM (SELECT at FROM checkins UNION ALL SELECT at FROM checkin_inbox);
