-- Matching a registration without a CCCD reads the few people who share its phone through
-- `people_phone`; a second, wider index on phone, name and birth date only cost every new
-- person another scattered index write (a quarter of a registration upload's disk writes
-- with ten million people known).

DROP INDEX people_match;
