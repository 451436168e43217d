//! The check-in inbox: check-ins that arrive a few at a time, stored without writing a page
//! of each index for each of them.
//!
//! A check-in stored in `checkins` adds an entry to the visitor index, at a place its
//! visitor's scattered key decides, and one to the venue index; the commit then writes every
//! page it dirtied whole to the WAL, and the checkpoint writes it again. A group of a few
//! dozen single check-ins thus wrote about two pages (8 KiB) for each, where a group of fifty
//! thousand shares each index page among many check-ins. So a small group goes into
//! `checkin_inbox`, a table without indexes whose rows are appended at its end, and is on
//! disk, and answered, as soon as that transaction is. The inbox is moved into `checkins` in
//! one transaction once [`MOVE_AT`] check-ins have gathered, before a large group is
//! recorded, before check-ins are changed or loaded, and before anything reads them
//! (`SqliteStore::read_checkins`), so no reader ever looks in the inbox.
//!
//! The repeat window and client keys must see the inbox too, which has no index: the writer
//! keeps a map of what it holds ([`Inbox`]). The map is made again from the table whenever
//! the table's last id is not the map's: after a restart, or after a transaction whose
//! changes to the map were not committed.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::rows::micros;
use crate::Result;
use crate::records::NewCheckin;

/// Groups of fewer check-ins than this go through the inbox; a larger group dirties each
/// index page for enough of its check-ins to go straight to `checkins`.
pub(super) const SMALL_GROUP: usize = 1_000;

/// Check-ins held before the inbox is moved: as many as the check-in writer's largest group
/// (`MAX_COMMIT` in the services), for the same reason.
const MOVE_AT: usize = 50_000;

/// What the inbox table holds, as the repeat window and client keys ask for it.
#[derive(Default)]
pub(super) struct Inbox {
    /// The table's last id when the map was last made or added to.
    last_id: Option<i64>,
    by_visitor: HashMap<i64, Vec<Held>>,
    /// The held check-ins that came with a client key, by key: each visitor's, with its id.
    by_client_key: HashMap<String, Vec<(String, i64)>>,
    rows: usize,
}

/// A held check-in, as far as the repeat window asks.
struct Held {
    id: i64,
    venue_key: i64,
    at: i64,
    visitor: String,
}

impl Inbox {
    /// Makes the map agree with the table, and returns the id the next check-in takes: one
    /// past the last of both tables, as SQLite would number a row of `checkins`.
    pub(super) fn begin(&mut self, tx: &Connection) -> Result<i64> {
        let (held, stored): (Option<i64>, Option<i64>) =
            tx.query_row("SELECT (SELECT max(id) FROM checkin_inbox), (SELECT max(id) FROM checkins)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        if held != self.last_id {
            self.reload(tx)?;
        }
        Ok(held.max(stored).unwrap_or(0) + 1)
    }

    fn reload(&mut self, tx: &Connection) -> Result<()> {
        *self = Inbox::default();
        let mut stmt =
            tx.prepare("SELECT id, venue_key, visitor_key, visitor, at, client_key FROM checkin_inbox ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let held = Held { id: r.get(0)?, venue_key: r.get(1)?, at: r.get(4)?, visitor: r.get(3)? };
            self.remember(r.get(2)?, held, r.get(5)?);
        }
        Ok(())
    }

    fn remember(&mut self, visitor_key: i64, held: Held, client_key: Option<String>) {
        self.last_id = Some(held.id);
        if let Some(key) = client_key {
            self.by_client_key.entry(key).or_default().push((held.visitor.clone(), held.id));
        }
        self.by_visitor.entry(visitor_key).or_default().push(held);
        self.rows += 1;
    }

    /// The id of the held check-in that came with this client key for this visitor.
    pub(super) fn client_key(&self, visitor: &str, key: &str) -> Option<i64> {
        self.by_client_key.get(key)?.iter().find(|(held, _)| held == visitor).map(|&(_, id)| id)
    }

    /// The earliest held check-in by this visitor at this venue with its time in `(from,
    /// to)`, as `(at, id)`.
    pub(super) fn earliest(
        &self,
        venue_key: i64,
        visitor_key: i64,
        visitor: &str,
        from: i64,
        to: i64,
    ) -> Option<(i64, i64)> {
        self.by_visitor
            .get(&visitor_key)?
            .iter()
            .filter(|h| h.venue_key == venue_key && h.at > from && h.at < to && h.visitor == visitor)
            .map(|h| (h.at, h.id))
            .min()
    }

    /// Holds a new check-in under `id` (from [`Inbox::begin`], one more for each).
    pub(super) fn hold(&mut self, tx: &Connection, id: i64, c: &NewCheckin) -> Result<()> {
        let (venue_key, visitor_key, at) = (crate::venue_key(c.venue), crate::key64(&c.visitor), micros(c.at));
        tx.prepare_cached(
            "INSERT INTO checkin_inbox (id, venue_key, visitor_key, visitor, name, at, until, source, client_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            id,
            venue_key,
            visitor_key,
            c.visitor,
            c.name_to_store(),
            at,
            micros(c.until),
            c.source,
            c.client_key
        ])?;
        self.remember(visitor_key, Held { id, venue_key, at, visitor: c.visitor.clone() }, c.client_key.clone());
        Ok(())
    }

    /// Whether enough check-ins are held to move them.
    pub(super) fn is_full(&self) -> bool {
        self.rows >= MOVE_AT
    }

    /// Moves every held check-in into `checkins` under its id, its client key hashed as a
    /// stored check-in's is (`key64`, which the writer's connection has from `migrate`);
    /// returns how many moved.
    pub(super) fn move_all(&mut self, tx: &Connection) -> Result<usize> {
        tx.prepare_cached(
            "INSERT INTO checkins (id, venue_key, visitor_key, visitor, name, at, until, source, client_hash)
             SELECT id, venue_key, visitor_key, visitor, name, at, until, source, key64(client_key)
             FROM checkin_inbox ORDER BY id",
        )?
        .execute([])?;
        let moved = tx.prepare_cached("DELETE FROM checkin_inbox")?.execute([])?;
        *self = Inbox::default();
        if moved > 0 {
            ::tracing::debug!(moved, "check-ins moved from the inbox");
        }
        Ok(moved)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::records::CheckinOutcome;
    use crate::{CheckinStore, key64, venue_key};
    use outbreak_domain::venue::VenueId;
    use time::Duration;
    use uuid::Uuid;

    fn checkin(venue: VenueId, visitor: &str, client_key: &str) -> NewCheckin {
        let at = super::super::crate_now() - Duration::hours(1);
        NewCheckin {
            venue,
            visitor: visitor.into(),
            name: "Khách".into(),
            at,
            until: at + Duration::hours(1),
            source: "api".into(),
            client_key: Some(client_key.into()),
        }
    }

    #[test]
    fn the_map_is_made_again_after_a_rollback_and_moves_with_its_ids() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        let venue = VenueId(Uuid::now_v7());
        let (first, lost) =
            (checkin(venue, "tel:+84911111111", "gate:1"), checkin(venue, "tel:+84922222222", "gate:2"));
        let mut inbox = Inbox::default();
        let tx = conn.transaction().unwrap();
        let id = inbox.begin(&tx).unwrap();
        inbox.hold(&tx, id, &first).unwrap();
        tx.commit().unwrap();
        let tx = conn.transaction().unwrap();
        assert_eq!(inbox.begin(&tx).unwrap(), id + 1);
        inbox.hold(&tx, id + 1, &lost).unwrap();
        tx.rollback().unwrap();

        let tx = conn.transaction().unwrap();
        assert_eq!(inbox.begin(&tx).unwrap(), id + 1, "the rolled-back id is free again");
        assert_eq!(inbox.client_key(&lost.visitor, "gate:2"), None, "a rolled-back check-in is not held");
        assert_eq!(inbox.client_key(&first.visitor, "gate:1"), Some(id));
        assert_eq!(inbox.client_key(&lost.visitor, "gate:1"), None, "a key is its visitor's");
        let at = micros(first.at);
        let earliest = inbox.earliest(venue_key(venue), key64(&first.visitor), &first.visitor, at - 1, at + 1);
        assert_eq!(earliest, Some((at, id)));
        assert_eq!(inbox.earliest(venue_key(venue), key64(&first.visitor), "tel:+84933333333", at - 1, at + 1), None);

        assert_eq!(inbox.move_all(&tx).unwrap(), 1);
        let moved: (i64, i64) =
            tx.query_row("SELECT id, client_hash FROM checkins", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(moved, (id, key64("gate:1")));
        assert_eq!(inbox.client_key(&first.visitor, "gate:1"), None);
        assert_eq!(inbox.begin(&tx).unwrap(), id + 1, "numbering goes on after the moved check-in");
    }

    #[tokio::test]
    async fn check_ins_held_when_the_store_stopped_are_moved_when_it_opens() {
        let path = outbreak_testkit::scratch_dir("inbox").join("store.sqlite");
        let venue = VenueId(Uuid::now_v7());
        let store = super::super::SqliteStore::open(&path).await.unwrap();
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch(
            "INSERT INTO units (code, level, name, name_folded, division_type, path)
             VALUES ('00070', 'commune', 'Hàng Bạc', 'hang bac', 'Phường', '/VN/01/00070/')",
        )
        .unwrap();
        raw.execute(
                "INSERT INTO venues (id, code, name, kind, unit_code, unit_path, address, contact_phone, active, created_at)
                 VALUES (?1, 'CHO12345', 'Chợ Hôm', 'market', '00070', '/VN/01/00070/', 'Phố Huế', '0912345678', 1, 0)",
                [venue.0.to_string()],
            )
            .unwrap();
        let window = Duration::minutes(30);
        let held = store.record_checkins(vec![checkin(venue, "tel:+84911111111", "gate:1")], window, vec![]);
        let held = held.await.unwrap()[0];
        drop(store);
        let count = |table: &str| -> i64 {
            Connection::open(&path)
                .unwrap()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!((count("checkin_inbox"), count("checkins")), (1, 0), "a single check-in is held");

        let store = super::super::SqliteStore::open(&path).await.unwrap();
        assert_eq!((count("checkin_inbox"), count("checkins")), (0, 1));
        let retried = store.record_checkins(vec![checkin(venue, "tel:+84911111111", "gate:1")], window, vec![]);
        assert_eq!(retried.await.unwrap(), [CheckinOutcome::Repeat(held.id())]);
    }
}
