-- The time index served one reader, retention, once a day, and cost every check-in an
-- index entry written as it arrived: 6–12% of the batched ingest's writer in
-- `bench ingest`. Retention now finds old check-ins venue by venue through the venue
-- index, each stay class back from the cutoff (`purge_before`).
DROP INDEX checkins_at;
