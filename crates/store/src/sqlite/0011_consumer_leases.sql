-- Who runs an outbox consumer (the notifier) now: one server holds the lease and renews
-- it every round; another takes over only once it has lapsed, so two servers never send
-- the same message twice.

CREATE TABLE consumer_leases (
    consumer   TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
