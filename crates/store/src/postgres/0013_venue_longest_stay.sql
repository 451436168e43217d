-- The longest stay checked in at each venue, in microseconds, raised as check-ins are
-- stored. Co-presence looks back from a visit only as far as a stay at its venue has
-- lasted (at most the longest a stay may last, 8 hours) instead of always 8 hours: at a
-- market of two-hour stays that reads a quarter of its visitors. Venues that exist already
-- were given no such figure with their check-ins, so they get the 8 hours.
ALTER TABLE venues ADD COLUMN longest_stay BIGINT NOT NULL DEFAULT 0;
UPDATE venues SET longest_stay = 28800000000;
