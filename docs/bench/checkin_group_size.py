"""How the size of a transaction changes what inserting check-ins costs in SQLite.

Inserts rows shaped like Outbreak's `checkins` table (migration 14, with its visitor, venue
and time indexes) in transactions of a given size, visitor keys scattered as real visitors'
are, and prints the microseconds a row spent inserting and committing. It backs the
"groups of up to 50,000 check-ins" paragraph of docs/benchmarks.md:

    python3 docs/bench/checkin_group_size.py 20000 2000000
    python3 docs/bench/checkin_group_size.py 100000 2000000
    python3 docs/bench/checkin_group_size.py 20000 2000000 --sorted
    python3 docs/bench/checkin_group_size.py 20000 2000000 --page-size 65536
"""

import argparse
import os
import sqlite3
import tempfile
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("rows_per_transaction", type=int)
parser.add_argument("total_rows", type=int)
parser.add_argument("--sorted", action="store_true", help="insert each transaction's rows by visitor key")
parser.add_argument("--page-size", type=int, default=4096)
args = parser.parse_args()

with tempfile.TemporaryDirectory() as directory:
    db = sqlite3.connect(os.path.join(directory, "checkins.sqlite"), isolation_level=None)
    db.execute(f"PRAGMA page_size = {args.page_size}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA cache_size = -131072")
    db.execute(
        """CREATE TABLE checkins (id INTEGER PRIMARY KEY, venue_key INTEGER NOT NULL,
           visitor_key INTEGER NOT NULL, visitor TEXT NOT NULL, name TEXT NOT NULL,
           at INTEGER NOT NULL, until INTEGER NOT NULL, source TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX checkins_visitor ON checkins(visitor_key, at)")
    db.execute("CREATE INDEX checkins_venue ON checkins(venue_key, at, until, visitor_key)")
    db.execute("CREATE INDEX checkins_at ON checkins(at)")
    # The rows of the next transaction are made in SQL, outside the timed part.
    db.execute("CREATE TEMP TABLE next (venue_key, visitor_key, visitor, name, at, until, source)")
    order = "ORDER BY visitor_key" if args.sorted else ""
    inserting = committing = 0.0
    transactions = args.total_rows // args.rows_per_transaction
    for t in range(transactions):
        start = 1_700_000_000_000_000 + t * args.rows_per_transaction * 8
        db.execute("DELETE FROM next")
        db.execute(
            """WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1)
               INSERT INTO next SELECT (i * 7919) % 200, random(), 'p:' || i, '', ?2 + i * 8,
                                       ?2 + i * 8 + 3600000000, 'api' FROM s""",
            (args.rows_per_transaction, start),
        )
        db.execute("BEGIN")
        began = time.perf_counter()
        db.execute(f"INSERT INTO checkins (venue_key, visitor_key, visitor, name, at, until, source) SELECT * FROM next {order}")
        inserted = time.perf_counter()
        db.execute("COMMIT")
        inserting += inserted - began
        committing += time.perf_counter() - inserted
    rows = transactions * args.rows_per_transaction
    print(
        f"{args.rows_per_transaction} rows a transaction, {rows} rows: "
        f"insert {inserting / rows * 1e6:.2f} µs a row, commit {committing / rows * 1e6:.2f} µs a row"
    )
