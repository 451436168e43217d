//! Venues, check-ins and declarations in SQLite.

use async_trait::async_trait;
use outbreak_domain::Phone;
use outbreak_domain::venue::{VenueId, Visitor};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use time::{Duration, OffsetDateTime};

use super::inbox::{self, Inbox};
use super::rows::{from_micros, micros, parse_uuid};
use super::{EVERY_STAY_CLASS, SqliteStore, push_scope, unique_violation, unit_path};
use crate::decode::{CheckinColumns, DeclarationColumns, venue as decode_venue};
use crate::records::*;
use crate::{CheckinStore, Result, StoreError, key64, venue_key};

const VENUE_COLUMNS: &str =
    "id, code, name, kind, plate, unit_code, unit_path, address, contact_phone, owner_phone, active, created_at";
const CHECKIN_COLUMNS: &str =
    "c.id, v.id, v.code, v.name, c.visitor, coalesce(pe.full_name, c.name), c.at, c.until, c.source";
/// A check-in with its venue and, for a known person, their record (a person's visitor
/// key is their id).
const CHECKIN_FROM: &str = "checkins c JOIN venues v ON v.key = c.venue_key LEFT JOIN people pe ON pe.id = c.visitor";
const DECLARATION_COLUMNS: &str = "d.id, d.visitor, d.person_id, d.phone, d.venue_id, d.at, d.symptoms, d.f0_contact, \
     d.places_visited, d.move_from, d.move_to, d.move_date, d.vehicle, d.flagged, d.unit_path, v.name";

fn venue_row(r: &Row) -> rusqlite::Result<Result<Venue>> {
    let id: String = r.get(0)?;
    let columns = (
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        from_micros(r.get(11)?),
    );
    Ok(parse_uuid(&id).and_then(|id| {
        let (code, name, kind, plate, unit, path, address, contact, owner, active, created) = columns;
        decode_venue(id, code, name, kind, plate, unit, path, address, contact, owner, active, created)
    }))
}

fn optional_uuid(text: Option<String>) -> Result<Option<uuid::Uuid>> {
    text.as_deref().map(parse_uuid).transpose()
}

fn checkin_row(r: &Row) -> rusqlite::Result<Result<Checkin>> {
    let (venue, visitor): (String, String) = (r.get(1)?, r.get(4)?);
    let (id, code, name, visitor_name, at, until, source) =
        (r.get(0)?, r.get(2)?, r.get(3)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?);
    // A row keeps only the visitor key; the person or phone is read back from it.
    let named = Visitor::from_key(&visitor);
    Ok((|| {
        CheckinColumns {
            id,
            venue: parse_uuid(&venue)?,
            venue_code: code,
            venue_name: name,
            person: named.as_ref().and_then(Visitor::person).map(|p| p.0),
            phone: named.as_ref().and_then(Visitor::phone).map(|p| p.as_str().to_owned()),
            visitor,
            name: visitor_name,
            at: from_micros(at),
            until: from_micros(until),
            source,
        }
        .decode()
    })())
}

fn declaration_row(r: &Row) -> rusqlite::Result<Result<Declaration>> {
    let (person, venue, move_date): (Option<String>, Option<String>, Option<String>) =
        (r.get(2)?, r.get(4)?, r.get(11)?);
    let (id, visitor, phone, at, symptoms, f0, places) =
        (r.get(0)?, r.get(1)?, r.get(3)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?);
    let (move_from, move_to, vehicle, flagged, unit_path, venue_name) =
        (r.get(9)?, r.get(10)?, r.get(12)?, r.get(13)?, r.get(14)?, r.get(15)?);
    Ok((|| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let move_date = move_date
            .map(|d| time::Date::parse(&d, format).map_err(|_| StoreError::Backend(format!("stored date {d:?}"))))
            .transpose()?;
        DeclarationColumns {
            id,
            visitor,
            person: optional_uuid(person)?,
            phone,
            venue: optional_uuid(venue)?,
            at: from_micros(at),
            symptoms,
            f0_contact: f0,
            places_visited: places,
            move_from,
            move_to,
            move_date,
            vehicle,
            flagged,
            unit_path,
            venue_name,
        }
        .decode()
    })())
}

#[async_trait]
impl CheckinStore for SqliteStore {
    async fn insert_venue(&self, venue: &Venue) -> Result<()> {
        let v = venue.clone();
        self.write(move |tx| {
            unit_path(tx, &v.unit, "unit")?;
            tx.execute(
                &format!(
                    "INSERT INTO venues ({VENUE_COLUMNS}, key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    v.id.0.to_string(),
                    v.code,
                    v.name,
                    v.kind.as_str(),
                    v.plate,
                    v.unit.as_str(),
                    v.unit_path,
                    v.address,
                    v.contact_phone.as_str(),
                    v.owner_phone.as_ref().map(Phone::as_str),
                    v.active,
                    micros(v.created_at),
                    venue_key(v.id)
                ],
            )
            .map_err(|e| match unique_violation(&e) {
                Some("venues.code") => StoreError::Conflict { field: "code", existing: Some(v.code.clone()) },
                // The id itself, or its index key (`venues_key`), is another venue's.
                Some(_) => StoreError::Conflict { field: "id", existing: Some(v.id.to_string()) },
                None => e.into(),
            })?;
            Ok(())
        })
        .await
    }

    async fn venue(&self, id: VenueId) -> Result<Option<Venue>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {VENUE_COLUMNS} FROM venues WHERE id = ?1"))?
                .query_row([id.0.to_string()], venue_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn venue_by_code(&self, code: &str) -> Result<Option<Venue>> {
        let code = code.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {VENUE_COLUMNS} FROM venues WHERE code = ?1"))?
                .query_row([code], venue_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn venues(&self, scope: &[String], limit: u32) -> Result<Vec<Venue>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!("SELECT {VENUE_COLUMNS} FROM venues WHERE ");
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "unit_path", &scope);
            sql.push_str(&format!(" ORDER BY name, id LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), venue_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn venues_owned_by(&self, phone: &Phone) -> Result<Vec<Venue>> {
        let phone = phone.clone();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {VENUE_COLUMNS} FROM venues WHERE owner_phone = ?1 ORDER BY name, id"
            ))?;
            let rows = stmt.query_map([phone.as_str()], venue_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn set_venue_active(&self, id: VenueId, active: bool) -> Result<()> {
        self.write(move |tx| {
            match tx.execute("UPDATE venues SET active = ?2 WHERE id = ?1", params![id.0.to_string(), active])? {
                0 => Err(StoreError::NotFound("venue")),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn record_checkins(
        &self,
        checkins: Vec<NewCheckin>,
        window: Duration,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<CheckinOutcome>> {
        let window = micros(OffsetDateTime::UNIX_EPOCH + window);
        let inner = self.inner.clone();
        self.write(move |tx| {
            // Each venue of the batch is checked once, not once per row.
            let mut venue_known = tx.prepare_cached("SELECT 1 FROM venues WHERE id = ?1")?;
            let mut venues_seen = std::collections::HashSet::new();
            for c in &checkins {
                if venues_seen.insert(c.venue)
                    && venue_known.query_row([c.venue.0.to_string()], |_| Ok(())).optional()?.is_none()
                {
                    return Err(StoreError::NotFound("venue"));
                }
            }
            let mut inbox = inner.inbox.lock().map_err(super::poisoned)?;
            let outcomes = record_rows(tx, &mut inbox, &checkins, window)?;
            if inbox.is_full() {
                inbox.move_all(tx)?;
            }
            for entry in &audit {
                super::insert_audit(tx, entry)?;
            }
            Ok(outcomes)
        })
        .await
    }

    async fn load_checkins(&self, mut batches: tokio::sync::mpsc::Receiver<Vec<NewCheckin>>) -> Result<u64> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().map_err(super::poisoned)?;
            let tx = conn.transaction()?;
            inner.inbox.lock().map_err(super::poisoned)?.move_all(&tx)?;
            tx.commit()?;
            // The indexes as the migrations made them, read back so that nothing here can
            // drift from the schema.
            let indexes: Vec<(String, String)> = conn
                .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'checkins' AND sql IS NOT NULL")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (name, _) in &indexes {
                conn.execute_batch(&format!("DROP INDEX \"{name}\""))?;
            }
            let loaded = load_batches(&mut conn, &mut batches);
            // Built whatever happened to the rows: a store is never left without them. Each
            // build sorts every row; sorted in memory (the connections' `temp_store`) that
            // took 8 GB of heap at 100 million check-ins, which the allocator then kept.
            // In temporary files the sort holds no more memory than the page cache.
            let temp_store: i64 = conn.pragma_query_value(None, "temp_store", |r| r.get(0))?;
            let spilled = conn.pragma_update(None, "temp_store", "FILE");
            let built = indexes.iter().try_for_each(|(_, sql)| conn.execute_batch(sql));
            let restored = conn.pragma_update(None, "temp_store", temp_store);
            let loaded = loaded?;
            built?;
            spilled.and(restored)?;
            inner.durability.flush_now(&inner.path)?;
            Ok(loaded)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    async fn check_out(&self, id: i64, visitor: &str, at: OffsetDateTime) -> Result<()> {
        let visitor = visitor.to_owned();
        let inner = self.inner.clone();
        self.write(move |tx| {
            inner.inbox.lock().map_err(super::poisoned)?.move_all(tx)?;
            let at = micros(at);
            match tx.execute(
                "UPDATE checkins SET until = min(until, max(at, ?3)) WHERE id = ?1 AND visitor = ?2",
                params![id, visitor, at],
            )? {
                0 => Err(StoreError::NotFound("checkin")),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn checkins_of(&self, visitors: &[String], since: OffsetDateTime) -> Result<Vec<Checkin>> {
        let visitors = visitors.to_vec();
        self.read_checkins(move |c| {
            if visitors.is_empty() {
                return Ok(Vec::new());
            }
            let keys: Vec<String> = visitors.iter().map(|v| key64(v).to_string()).collect();
            let marks: Vec<String> = (2..visitors.len() + 2).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "SELECT {CHECKIN_COLUMNS} FROM {CHECKIN_FROM}
                 WHERE c.visitor_key IN ({}) AND c.at >= ?1 AND c.visitor IN ({}) ORDER BY c.at DESC, c.id DESC",
                keys.join(", "),
                marks.join(", ")
            );
            let mut values: Vec<rusqlite::types::Value> = vec![micros(since).into()];
            values.extend(visitors.into_iter().map(Into::into));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), checkin_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn venue_checkins(
        &self,
        venue: VenueId,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Checkin>> {
        self.read_checkins(move |c| {
            let sql = format!(
                "SELECT {CHECKIN_COLUMNS} FROM {CHECKIN_FROM}
                 WHERE c.venue_key = ?1 AND c.{every_class} AND c.at >= ?2 AND c.at < ?3
                 ORDER BY c.at DESC, c.id DESC LIMIT {limit}",
                every_class = *EVERY_STAY_CLASS
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![venue_key(venue), micros(since), micros(until)], checkin_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn count_venue_checkins(&self, venue: VenueId, since: OffsetDateTime) -> Result<u64> {
        self.read_checkins(move |c| {
            let n: i64 = c
                .prepare_cached(&format!(
                    "SELECT count(*) FROM checkins WHERE venue_key = ?1 AND {every_class} AND at >= ?2",
                    every_class = *EVERY_STAY_CLASS
                ))?
                .query_row(params![venue_key(venue), micros(since)], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn count_checkins(&self) -> Result<u64> {
        self.read_checkins(|c| Ok(c.query_row("SELECT count(*) FROM checkins", [], |r| r.get::<_, i64>(0))? as u64))
            .await
    }

    async fn insert_declaration(&self, d: &NewDeclarationRecord) -> Result<i64> {
        let d = d.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO declarations (visitor, person_id, phone, venue_id, at, symptoms, f0_contact, places_visited,
                    move_from, move_to, move_date, vehicle, flagged, unit_path)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    d.visitor,
                    d.person.map(|p| p.0.to_string()),
                    d.phone.as_ref().map(Phone::as_str),
                    d.venue.map(|v| v.0.to_string()),
                    micros(d.at),
                    d.symptoms.join(","),
                    d.f0_contact,
                    d.places_visited,
                    d.move_from.as_ref().map(|u| u.as_str()),
                    d.move_to.as_ref().map(|u| u.as_str()),
                    d.move_date.map(|date| date.to_string()),
                    d.vehicle,
                    d.flagged,
                    d.unit_path
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
        .await
    }

    async fn declarations(&self, filter: &DeclarationFilter) -> Result<Vec<Declaration>> {
        let filter = filter.clone();
        self.read(move |c| {
            let mut sql = format!(
                "SELECT {DECLARATION_COLUMNS} FROM declarations d LEFT JOIN venues v ON v.id = d.venue_id WHERE 1 = 1"
            );
            let mut values: Vec<String> = Vec::new();
            if let Some(visitors) = &filter.visitors {
                if visitors.is_empty() {
                    return Ok(Vec::new());
                }
                let mut marks = Vec::new();
                for visitor in visitors {
                    values.push(visitor.clone());
                    marks.push(format!("?{}", values.len()));
                }
                sql.push_str(&format!(" AND d.visitor IN ({})", marks.join(", ")));
            }
            if let Some(venue) = filter.venue {
                values.push(venue.0.to_string());
                sql.push_str(&format!(" AND d.venue_id = ?{}", values.len()));
            }
            if filter.flagged_only {
                sql.push_str(" AND d.flagged = 1");
            }
            if let Some(scope) = &filter.scope {
                sql.push_str(" AND (");
                push_scope(&mut sql, &mut values, "d.unit_path", scope);
                sql.push(')');
            }
            let since = filter.since.map(micros).unwrap_or(i64::MIN);
            sql.push_str(&format!(" AND d.at >= {since} ORDER BY d.at DESC, d.id DESC LIMIT {}", filter.limit));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), declaration_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<(u64, u64)> {
        let inner = self.inner.clone();
        self.write(move |tx| {
            inner.inbox.lock().map_err(super::poisoned)?.move_all(tx)?;
            let cutoff = micros(cutoff);
            // No index orders check-ins by time alone (migration 17): each venue of the
            // venue index in turn, found by a seek past the one before, and each of its
            // stay classes is read back from the cutoff.
            let checkins = tx
                .prepare_cached(&format!(
                    "WITH RECURSIVE venue(key) AS (
                       SELECT min(venue_key) FROM checkins
                       UNION ALL
                       SELECT (SELECT min(venue_key) FROM checkins WHERE venue_key > venue.key)
                       FROM venue WHERE venue.key IS NOT NULL)
                     DELETE FROM checkins WHERE venue_key IN (SELECT key FROM venue) AND {every_class} AND at < ?1",
                    every_class = *EVERY_STAY_CLASS
                ))?
                .execute([cutoff])? as u64;
            let declarations = tx.execute("DELETE FROM declarations WHERE at < ?1", [cutoff])? as u64;
            Ok((checkins, declarations))
        })
        .await
    }
}

/// Records check-ins in the batch's order: one whose visitor stored a check-in under the
/// same client key before, or was at the venue less than `window` before or after, is a
/// repeat of that check-in. A small group's new check-ins are held in the inbox; a large
/// group's go straight into `checkins`, the inbox moved there first.
fn record_rows(
    tx: &Connection,
    inbox: &mut Inbox,
    checkins: &[NewCheckin],
    window: i64,
) -> Result<Vec<CheckinOutcome>> {
    let mut next_id = if checkins.len() < inbox::SMALL_GROUP {
        Some(inbox.begin(tx)?)
    } else {
        inbox.move_all(tx)?;
        None
    };
    // A key is its visitor's, and hashed in the visitor index; the visitor is compared in
    // full, as the key of the index is a hash too.
    let mut known_key = tx.prepare_cached(
        "SELECT id FROM checkins INDEXED BY checkins_visitor WHERE visitor_key = ?1 AND client_hash = ?2
         AND visitor = ?3 ORDER BY at LIMIT 1",
    )?;
    let mut repeat = tx.prepare_cached(
        // The visitor's few check-ins, not the venue's many: SQLite has no statistics to
        // tell the two indexes apart on a fresh store.
        "SELECT at, id FROM checkins INDEXED BY checkins_visitor WHERE visitor_key = ?2 AND at > ?3 AND at < ?4
         AND venue_key = ?1 AND visitor = ?5 ORDER BY at LIMIT 1",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO checkins (venue_key, visitor_key, visitor, name, at, until, source, client_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut outcomes = Vec::with_capacity(checkins.len());
    for c in checkins {
        let (venue_key, visitor_key) = (venue_key(c.venue), key64(&c.visitor));
        let client_hash = c.client_key.as_deref().map(key64);
        if let (Some(key), Some(hash)) = (&c.client_key, client_hash) {
            let known = match inbox.client_key(&c.visitor, key) {
                Some(id) => Some(id),
                None => known_key.query_row(params![visitor_key, hash, c.visitor], |r| r.get(0)).optional()?,
            };
            if let Some(id) = known {
                outcomes.push(CheckinOutcome::Repeat(id));
                continue;
            }
        }
        let at = micros(c.at);
        let stored: Option<(i64, i64)> = repeat
            .query_row(params![venue_key, visitor_key, at - window, at + window, c.visitor], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let held = inbox.earliest(venue_key, visitor_key, &c.visitor, at - window, at + window);
        // The earlier of the two; a stored check-in came first on a tie.
        let earlier = match (stored, held) {
            (Some(s), Some(h)) if h.0 < s.0 => Some(h),
            (Some(s), _) => Some(s),
            (None, h) => h,
        };
        // A repeat's client key is not kept: a retry of it is the same visit again, which
        // the window finds as long as the visit it repeats is kept.
        let outcome = match (earlier, next_id.as_mut()) {
            (Some((_, id)), _) => CheckinOutcome::Repeat(id),
            (None, Some(next)) => {
                inbox.hold(tx, *next, c)?;
                *next += 1;
                CheckinOutcome::Stored(*next - 1)
            }
            (None, None) => {
                insert.execute(params![
                    venue_key,
                    visitor_key,
                    c.visitor,
                    c.name_to_store(),
                    at,
                    micros(c.until),
                    c.source,
                    client_hash
                ])?;
                CheckinOutcome::Stored(tx.last_insert_rowid())
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Writes each batch in a transaction of its own, as it comes.
fn load_batches(
    conn: &mut rusqlite::Connection,
    batches: &mut tokio::sync::mpsc::Receiver<Vec<NewCheckin>>,
) -> Result<u64> {
    let mut loaded = 0;
    while let Some(batch) = batches.blocking_recv() {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut venue_known = tx.prepare_cached("SELECT 1 FROM venues WHERE id = ?1")?;
            let venues: std::collections::HashSet<VenueId> = batch.iter().map(|c| c.venue).collect();
            for venue in venues {
                if venue_known.query_row([venue.0.to_string()], |_| Ok(())).optional()?.is_none() {
                    return Err(StoreError::NotFound("venue"));
                }
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO checkins (venue_key, visitor_key, visitor, name, at, until, source, client_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for c in &batch {
                insert.execute(params![
                    venue_key(c.venue),
                    key64(&c.visitor),
                    c.visitor,
                    c.name_to_store(),
                    micros(c.at),
                    micros(c.until),
                    c.source,
                    c.client_key.as_deref().map(key64)
                ])?;
            }
        }
        tx.commit()?;
        loaded += batch.len() as u64;
    }
    Ok(loaded)
}
