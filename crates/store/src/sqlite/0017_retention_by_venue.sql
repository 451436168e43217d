-- The time index served one reader, retention (every hour), and cost every check-in an
-- index entry written as it arrived: about 17 bytes, 1.7 GB at a hundred million. (A
-- build without it made batched ingest 6–12% faster in `bench ingest`; alternating pairs
-- on a noisy host did not tell the two apart.) Retention now finds old check-ins venue
-- by venue through the venue index, each stay class back from the cutoff
-- (`purge_before`).
DROP INDEX checkins_at;
