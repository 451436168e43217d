-- The running totals and turnaround counts were filed by unit, then day: a unit's rows for
-- every day sat together, so a lab's batch of results, which concludes tubes from all over
-- the country on one or a few days, changed a row on a page of its own for each commune.
-- A chunk of 50,000 results wrote about 6,700 pages of these two tables, 40% of its WAL
-- (`docs/benchmarks.md`, issue 4). Filed by day, then unit, a day's rows of every unit sit
-- together and the same chunk changes a few hundred pages. One unit's days are read
-- through a second index by unit, which changes only when a unit counts its first specimen
-- of a day, never when a count moves. Totals are also filed by the depth of their unit
-- (the slashes in its path), so that a dashboard's units below (the provinces, or one
-- province's communes) are a range of each day's rows.
CREATE TABLE testing_totals_by_day (
    day       TEXT NOT NULL,
    depth     INTEGER NOT NULL,
    unit_path TEXT NOT NULL,
    test_type TEXT NOT NULL,
    collected INTEGER NOT NULL,
    positive  INTEGER NOT NULL,
    negative  INTEGER NOT NULL,
    invalid   INTEGER NOT NULL,
    retest    INTEGER NOT NULL,
    rejected  INTEGER NOT NULL,
    PRIMARY KEY (day, depth, unit_path, test_type)
) WITHOUT ROWID;
INSERT INTO testing_totals_by_day
    (day, depth, unit_path, test_type, collected, positive, negative, invalid, retest, rejected)
    SELECT day, length(unit_path) - length(replace(unit_path, '/', '')), unit_path, test_type,
           collected, positive, negative, invalid, retest, rejected
    FROM testing_totals;
DROP TABLE testing_totals;
ALTER TABLE testing_totals_by_day RENAME TO testing_totals;
CREATE INDEX testing_totals_unit ON testing_totals(unit_path, day);

CREATE TABLE testing_turnaround_by_day (
    day       TEXT NOT NULL,
    unit_path TEXT NOT NULL,
    hours     INTEGER NOT NULL,
    specimens INTEGER NOT NULL,
    PRIMARY KEY (day, unit_path, hours)
) WITHOUT ROWID;
INSERT INTO testing_turnaround_by_day (day, unit_path, hours, specimens)
    SELECT day, unit_path, hours, specimens FROM testing_turnaround;
DROP TABLE testing_turnaround;
ALTER TABLE testing_turnaround_by_day RENAME TO testing_turnaround;
CREATE INDEX testing_turnaround_unit ON testing_turnaround(unit_path, day);
