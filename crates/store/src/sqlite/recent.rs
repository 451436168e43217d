//! The check-in writer's memory of the check-ins it stored lately, so that a new check-in's
//! repeat window is answered without a seek into the visitor index.
//!
//! Every check-in asks whether its visitor was at the venue less than the repeat window
//! before or after. In `checkins` that is a seek to the place of the visitor index that the
//! visitor's scattered key decides, and for nearly every check-in it finds nothing: a third
//! of the writer's time in the batched phase of `bench ingest`, and on a store larger than
//! memory a page read from the disk for each check-in. So the writer remembers the keys of
//! every check-in in `checkins` whose time is at or after [`Recent::covers`]'s bound, and
//! answers a window that starts there from memory. A window that starts earlier (a gate's
//! batch sent late) is read from the index as before.
//!
//! The memory must hold every such check-in, or a repeat would be stored twice. What
//! `checkins` held before the memory began is bounded by the ceiling (`checkin_ceiling`,
//! migration 19): no check-in's time is later, and a later one raises it, in the transaction
//! that writes it. So the memory starts just past the ceiling, and is made again so
//! whenever `checkins`' last id is not the one it saw last: after a restart, a bulk load, or
//! a transaction whose additions to the memory were not committed.

use std::collections::BTreeSet;

use rusqlite::Connection;

use crate::Result;

/// How far back from the latest check-in remembered the memory keeps: a check-in this late
/// is still answered from memory. Older ones are let go every [`PRUNE_EVERY`].
const KEEP: i64 = 2 * 3_600_000_000;

/// How much later than the latest check-in the ceiling is raised to, so that live traffic
/// raises it once every so often rather than with every group.
const CEILING_SLACK: i64 = 10 * 60_000_000;

/// How far the latest check-in moves between two prunings.
const PRUNE_EVERY: i64 = 30 * 60_000_000;

#[derive(Default)]
pub(super) struct Recent {
    /// Whether the memory was made since the store opened.
    made: bool,
    /// `checkins`' last id as the memory knows it.
    last_id: Option<i64>,
    /// Every check-in of `checkins` at or after this time is in `visits`.
    covers_from: i64,
    /// The ceiling as this transaction found or raised it.
    ceiling: Option<i64>,
    /// (visitor key, venue key, time, id) of each check-in remembered.
    visits: BTreeSet<(i64, i64, i64, i64)>,
    /// The latest time remembered, and what it was at the last pruning.
    newest: i64,
    pruned_at: i64,
}

impl Recent {
    /// Makes the memory agree with `checkins`, at the start of each transaction that
    /// records or moves check-ins.
    pub(super) fn begin(&mut self, tx: &Connection) -> Result<()> {
        let (last_id, ceiling): (Option<i64>, Option<i64>) =
            tx.query_row("SELECT (SELECT max(id) FROM checkins), (SELECT at FROM checkin_ceiling)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        self.ceiling = ceiling;
        if !self.made || last_id != self.last_id {
            let covers_from = ceiling.map_or(i64::MIN, |at| at.saturating_add(1));
            *self = Recent {
                made: true,
                last_id,
                covers_from,
                ceiling,
                visits: BTreeSet::new(),
                newest: covers_from,
                pruned_at: covers_from,
            };
        }
        Ok(())
    }

    /// Whether a window that starts after `from` is answered from memory.
    pub(super) fn covers(&self, from: i64) -> bool {
        self.made && from >= self.covers_from
    }

    /// The earliest check-in remembered under these keys with its time in `(from, to)`, as
    /// `(at, id)`. Only where [`Recent::covers`] `from`; the keys are hashes, so the caller
    /// makes sure the visitor is the same.
    pub(super) fn earliest(&self, venue_key: i64, visitor_key: i64, from: i64, to: i64) -> Option<(i64, i64)> {
        let first = (visitor_key, venue_key, from.saturating_add(1), i64::MIN);
        let &(visitor, venue, at, id) = self.visits.range(first..).next()?;
        (visitor == visitor_key && venue == venue_key && at < to).then_some((at, id))
    }

    /// Makes sure the ceiling is at or after `at`, before a check-in at that time is
    /// written in this transaction (stored or held in the inbox).
    pub(super) fn raise_ceiling(&mut self, tx: &Connection, at: i64) -> Result<()> {
        if self.ceiling.is_some_and(|ceiling| at <= ceiling) {
            return Ok(());
        }
        let ceiling = at.saturating_add(CEILING_SLACK);
        tx.prepare_cached("UPDATE checkin_ceiling SET at = ?1")?.execute([ceiling])?;
        self.ceiling = Some(ceiling);
        Ok(())
    }

    /// Remembers a check-in just written to `checkins` in this transaction.
    pub(super) fn add(&mut self, visitor_key: i64, venue_key: i64, at: i64, id: i64) {
        self.last_id = self.last_id.max(Some(id));
        if at < self.covers_from {
            return;
        }
        self.visits.insert((visitor_key, venue_key, at, id));
        self.newest = self.newest.max(at);
        if self.newest.saturating_sub(self.pruned_at) >= PRUNE_EVERY {
            self.forget_before(self.newest.saturating_sub(KEEP));
            self.pruned_at = self.newest;
        }
    }

    /// Lets go of the check-ins before `at` (too old to ask for, or deleted): windows that
    /// start earlier are read from the index from now on.
    pub(super) fn forget_before(&mut self, at: i64) {
        self.visits.retain(|v| v.2 >= at);
        self.covers_from = self.covers_from.max(at);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        conn
    }

    fn insert(tx: &Connection, id: i64, at: i64) {
        tx.execute(
            "INSERT INTO checkins (id, venue_key, visitor_key, visitor, name, at, until, source)
             VALUES (?1, 7, 9, 'tel:+84911111111', '', ?2, ?2, 'api')",
            [id, at],
        )
        .unwrap();
    }

    #[test]
    fn a_fresh_store_is_covered_and_the_window_is_exclusive() {
        let mut conn = store();
        let mut recent = Recent::default();
        let tx = conn.transaction().unwrap();
        recent.begin(&tx).unwrap();
        assert!(recent.covers(i64::MIN), "no check-in was ever stored");
        recent.raise_ceiling(&tx, 1_000).unwrap();
        insert(&tx, 1, 1_000);
        recent.add(9, 7, 1_000, 1);
        tx.commit().unwrap();
        assert_eq!(recent.earliest(7, 9, 999, 1_001), Some((1_000, 1)));
        assert_eq!(recent.earliest(7, 9, 1_000, 2_000), None, "the window's bounds are not in it");
        assert_eq!(recent.earliest(7, 9, 0, 1_000), None);
        assert_eq!(recent.earliest(8, 9, 0, 2_000), None, "another venue");
        assert_eq!(recent.earliest(7, 10, 0, 2_000), None, "another visitor");
    }

    #[test]
    fn the_memory_starts_past_the_ceiling_when_made_again() {
        let mut conn = store();
        let mut recent = Recent::default();
        let tx = conn.transaction().unwrap();
        recent.begin(&tx).unwrap();
        recent.raise_ceiling(&tx, 1_000).unwrap();
        insert(&tx, 1, 1_000);
        recent.add(9, 7, 1_000, 1);
        tx.commit().unwrap();

        // A transaction that remembered a check-in and was rolled back.
        let tx = conn.transaction().unwrap();
        recent.begin(&tx).unwrap();
        insert(&tx, 2, 1_100);
        recent.add(9, 7, 1_100, 2);
        tx.rollback().unwrap();

        let tx = conn.transaction().unwrap();
        recent.begin(&tx).unwrap();
        assert!(!recent.covers(1_000 + CEILING_SLACK), "what the ceiling bounds is read from the index");
        assert!(recent.covers(1_000 + CEILING_SLACK + 1));
        assert_eq!(recent.earliest(7, 9, i64::MIN, i64::MAX), None, "the rolled-back check-in is gone");

        // A new store's memory of the same file: the same bound.
        let mut reopened = Recent::default();
        reopened.begin(&tx).unwrap();
        assert!(!reopened.covers(1_000 + CEILING_SLACK));
        assert!(reopened.covers(1_000 + CEILING_SLACK + 1));
    }

    #[test]
    fn old_check_ins_are_let_go_and_their_windows_read_from_the_index() {
        let mut conn = store();
        let mut recent = Recent::default();
        let tx = conn.transaction().unwrap();
        recent.begin(&tx).unwrap();
        recent.add(9, 7, 0, 1);
        recent.add(9, 7, PRUNE_EVERY + KEEP, 2);
        assert_eq!(recent.earliest(7, 9, -1, 1), None, "pruned");
        assert!(!recent.covers(PRUNE_EVERY + KEEP - 1 - KEEP));
        assert_eq!(recent.earliest(7, 9, PRUNE_EVERY, i64::MAX), Some((PRUNE_EVERY + KEEP, 2)));
        recent.forget_before(i64::MAX);
        assert!(!recent.covers(PRUNE_EVERY + KEEP));
    }
}
