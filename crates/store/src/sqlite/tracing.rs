//! Co-presence, households and contacts in SQLite.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use outbreak_domain::testing::CaseId;
use outbreak_domain::tracing::{ContactId, ContactStatus, ExposureId, LONGEST_STAY, Stay};
use outbreak_domain::venue::{VenueKind, Visitor};
use outbreak_domain::{PersonId, Phone, UnitCode};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use time::{Duration, OffsetDateTime};

use super::rows::{from_micros, micros, parse_uuid};
use super::{SqliteStore, insert_audit, insert_events, push_scope};
use crate::records::NewAuditEntry;
use crate::testing::columns::word;
use crate::tracing::*;
use crate::{Result, StoreError, key64};

fn duration_micros(d: Duration) -> i64 {
    (d.whole_microseconds()) as i64
}

/// The sources' check-ins in their windows (by the visitor index), with their venues.
const SOURCE_VISITS_SQL: &str = "WITH src AS (
        SELECT key AS n, value ->> 0 AS visitor, value ->> 1 AS visitor_key, value ->> 2 AS wfrom,
               value ->> 3 AS wuntil
        FROM json_each(?1)
    )
    SELECT c.id, c.venue_key, c.visitor_key, c.visitor, max(c.at, src.wfrom), min(c.until, src.wuntil),
           v.id, v.code, v.name, v.kind, v.unit_path
    FROM src CROSS JOIN checkins c INDEXED BY checkins_visitor JOIN venues v ON v.key = c.venue_key
    WHERE c.visitor_key = src.visitor_key AND c.at >= src.wfrom - ?2 AND c.at < src.wuntil
      AND c.visitor = src.visitor AND c.until > src.wfrom
    ORDER BY src.n, c.at, c.id";

/// Other visitors' stays of one class at a visit's venue that meet it within the margin,
/// from the venue index alone (which also says whether each was made by phone): no check-in
/// row is read here. A class is read back only as far as its longest stay.
const MEETINGS_SQL: &str = "SELECT o.id, o.visitor_key, o.by_phone, o.at, o.until
    FROM checkins o INDEXED BY checkins_venue
    WHERE o.venue_key = ?1 AND o.stay_class = ?2 AND o.at > ?3 AND o.at < ?4
      AND o.until > ?5 AND o.visitor_key <> ?6";

/// People by their visitor keys, from the index that carries what a contact needs.
const PEOPLE_BY_KEY_SQL: &str = "SELECT pe.key, pe.id, pe.full_name, pe.phone, pe.address_path
    FROM json_each(?1) j CROSS JOIN people pe INDEXED BY people_key ON pe.key = j.value";

/// The rows of the listed check-ins, with the people they are (a person's visitor key is
/// their id).
const MET_VISITORS_SQL: &str = "SELECT o.id, o.visitor, coalesce(pe.full_name, o.name), pe.phone, pe.address_path
    FROM json_each(?1) j CROSS JOIN checkins o ON o.id = j.value LEFT JOIN people pe ON pe.id = o.visitor";

fn source_visit(r: &Row) -> rusqlite::Result<Result<SourceVisit>> {
    let (checkin, venue_key, visitor_key, visitor, at, until): (i64, i64, i64, String, i64, i64) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
    let (venue, code, name, kind, venue_path): (String, String, String, String, String) =
        (r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?);
    Ok((|| {
        Ok(SourceVisit {
            checkin,
            venue_key,
            visitor_key,
            visitor,
            venue: outbreak_domain::venue::VenueId(parse_uuid(&venue)?),
            code,
            name,
            kind: word(VenueKind::parse, &kind)?,
            venue_path,
            stay: Stay { at: from_micros(at), until: from_micros(until) },
        })
    })())
}

fn met_visitor(r: &Row) -> rusqlite::Result<Result<(i64, MetVisitor)>> {
    let (id, visitor, name): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
    let (person_phone, home_path): (Option<String>, Option<String>) = (r.get(3)?, r.get(4)?);
    let named = Visitor::from_key(&visitor);
    Ok((|| {
        // A known person's phone, else the phone they checked in with.
        let phone = match person_phone {
            Some(text) => Some(stored_phone(&text)?),
            None => named.as_ref().and_then(Visitor::phone).cloned(),
        };
        Ok((id, MetVisitor { person: named.as_ref().and_then(Visitor::person), visitor, name, phone, home_path }))
    })())
}

/// The rows of these check-ins, each read once.
fn checkin_visitors(c: &Connection, mut wanted: Vec<i64>) -> Result<HashMap<i64, MetVisitor>> {
    wanted.sort_unstable();
    wanted.dedup();
    c.prepare_cached(MET_VISITORS_SQL)?
        .query_map([serde_json::Value::from(wanted).to_string()], met_visitor)?
        .map(|r| r?)
        .collect()
}

/// A person found by their visitor key, as they would be met.
fn person_by_key(r: &Row) -> Result<MetVisitor> {
    let (id, name, phone, home_path): (String, String, Option<String>, String) =
        (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
    Ok(MetVisitor {
        person: Some(PersonId(parse_uuid(&id)?)),
        visitor: id,
        name,
        phone: phone.as_deref().map(stored_phone).transpose()?,
        home_path: Some(home_path),
    })
}

/// Who the visitors of the listed check-ins are. One who checked in as a person is found by
/// their visitor key in `people_key`, which costs neither their check-in's row nor their
/// record: at a hundred million check-ins those are pages the disk would be asked for. The
/// rows of the others are read: those who checked in by phone, and anyone whose key is not
/// one registered person's (no longer registered, or sharing the 64-bit key with another).
fn met_visitors(
    c: &Connection,
    listed: &[(Meeting, u64)],
    by_phone: &HashSet<i64>,
) -> Result<HashMap<i64, MetVisitor>> {
    let as_person = |m: &Meeting| !by_phone.contains(&m.checkin);
    let mut keys: Vec<i64> = listed.iter().filter(|(m, _)| as_person(m)).map(|(m, _)| m.visitor_key).collect();
    keys.sort_unstable();
    keys.dedup();
    // A key two people share names neither.
    let mut people: HashMap<i64, Option<MetVisitor>> = HashMap::with_capacity(keys.len());
    let mut stmt = c.prepare_cached(PEOPLE_BY_KEY_SQL)?;
    let mut rows = stmt.query([serde_json::Value::from(keys).to_string()])?;
    while let Some(r) = rows.next()? {
        let (key, person) = (r.get(0)?, person_by_key(r)?);
        people.entry(key).and_modify(|p| *p = None).or_insert(Some(person));
    }
    let mut met = HashMap::with_capacity(listed.len());
    let mut unread = Vec::new();
    for (m, _) in listed {
        match people.get(&m.visitor_key) {
            Some(Some(person)) if as_person(m) => {
                met.insert(m.checkin, person.clone());
            }
            _ => unread.push(m.checkin),
        }
    }
    if !unread.is_empty() {
        met.extend(checkin_visitors(c, unread)?);
    }
    Ok(met)
}

/// One range of the venue index that the co-presence search reads: the stays of one class
/// at a visit's venue that could meet the visit (see [`MEETINGS_SQL`]).
struct StayScan {
    visit: usize,
    venue_key: i64,
    class: i64,
    /// Arrivals after this and before `before`: a stay of the class that arrived earlier
    /// had ended before the visit began.
    after: i64,
    before: i64,
    /// Stays that end after this meet the visit within its margin.
    ends_after: i64,
    /// The visitor whose visit this is, whose own stays are not meetings.
    visitor_key: i64,
}

/// The scans of every visit, a stay class each.
fn stay_scans(visits: &[SourceVisit]) -> Vec<StayScan> {
    let mut scans = Vec::new();
    for (visit, v) in visits.iter().enumerate() {
        let (at, until, margin) = (micros(v.stay.at), micros(v.stay.until), duration_micros(v.margin()));
        for (class, longest) in super::stay_class_longest().enumerate() {
            scans.push(StayScan {
                visit,
                venue_key: v.venue_key,
                class: class as i64,
                after: at - longest - margin,
                before: until + margin,
                ends_after: at - margin,
                visitor_key: v.visitor_key,
            });
        }
    }
    scans
}

/// Runs the scans that are left, taking the next from `next` until there is none, and
/// answers the meetings found and which of them were check-ins by phone. Several
/// connections share the scans this way, a hub's long scan on one while the others go on.
/// A connection's scans share one snapshot.
fn meetings(c: &Connection, scans: &[StayScan], next: &AtomicUsize) -> Result<(Vec<Meeting>, HashSet<i64>)> {
    let (mut meetings, mut by_phone) = (Vec::new(), HashSet::new());
    let tx = c.unchecked_transaction()?;
    let mut stmt = tx.prepare_cached(MEETINGS_SQL)?;
    while let Some(scan) = scans.get(next.fetch_add(1, Ordering::Relaxed)) {
        let mut found = stmt.query(params![
            scan.venue_key,
            scan.class,
            scan.after,
            scan.before,
            scan.ends_after,
            scan.visitor_key
        ])?;
        while let Some(r) = found.next()? {
            let (checkin, visitor_key, phone, at, until): (i64, i64, bool, i64, i64) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            if phone {
                by_phone.insert(checkin);
            }
            meetings.push(Meeting {
                visit: scan.visit,
                checkin,
                visitor_key,
                at: from_micros(at),
                until: from_micros(until),
            });
        }
    }
    Ok((meetings, by_phone))
}

/// The sources' check-ins in their windows, with their venues.
fn source_visits(c: &Connection, sources: &str) -> Result<Vec<SourceVisit>> {
    c.prepare_cached(SOURCE_VISITS_SQL)?
        .query_map(params![sources, duration_micros(LONGEST_STAY)], source_visit)?
        .map(|r| r?)
        .collect()
}

fn stored_phone(text: &str) -> Result<Phone> {
    Phone::parse("phone", text).map_err(|_| StoreError::Backend(format!("stored phone {text:?} does not parse")))
}

fn contact_row(r: &Row) -> rusqlite::Result<Result<Contact>> {
    let ids: (String, String, Option<String>, Option<String>) = (r.get(0)?, r.get(1)?, r.get(3)?, r.get(4)?);
    let (generation, visitor, name, phone, kind): (i64, String, String, Option<String>, String) =
        (r.get(2)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?);
    let (evidence, exposure_at, unit_path, status, note): (String, i64, String, String, String) =
        (r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?);
    let (quarantine_until, test_days, created_at, updated_at): (i64, String, i64, i64) =
        (r.get(14)?, r.get(15)?, r.get(16)?, r.get(17)?);
    Ok((|| {
        let optional = |text: &Option<String>| text.as_deref().map(parse_uuid).transpose();
        ContactColumns {
            id: parse_uuid(&ids.0)?,
            case: parse_uuid(&ids.1)?,
            generation,
            via: optional(&ids.2)?,
            person: optional(&ids.3)?,
            visitor,
            name,
            phone,
            kind,
            evidence: serde_json::from_str(&evidence)
                .map_err(|e| StoreError::Backend(format!("stored evidence does not parse: {e}")))?,
            exposure_at: from_micros(exposure_at),
            unit_path,
            status,
            note,
            quarantine_until: from_micros(quarantine_until),
            test_days: days_of(&test_days)?,
            created_at: from_micros(created_at),
            updated_at: from_micros(updated_at),
        }
        .decode()
    })())
}

/// The F1 contacts the F2s were found through, by case and visitor, whichever run of
/// tracing recorded them: read before the F2s are written, so that their insert opens no
/// cursor of its own per row.
fn f1_links(tx: &Connection, f2: &[NewContact]) -> Result<HashMap<(CaseId, String), String>> {
    let mut find = tx.prepare_cached("SELECT id FROM contacts WHERE case_id = ?1 AND visitor = ?2")?;
    let mut links = HashMap::new();
    for c in f2 {
        let Some(via) = &c.via_visitor else { continue };
        if links.contains_key(&(c.case, via.clone())) {
            continue;
        }
        if let Some(id) = find.query_row(params![c.case.to_string(), via], |r| r.get(0)).optional()? {
            links.insert((c.case, via.clone()), id);
        }
    }
    Ok(links)
}

/// One contact; it starts identified, without a note (the order of CONTACT_COLUMNS).
/// A row a statement: a statement that writes several rows and may stop half-way (a
/// foreign key, a `CHECK`) first copies every page it changes into a statement journal,
/// which cost more than running one statement a row.
static INSERT_CONTACT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO contacts ({CONTACT_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, '{}', '', ?13, ?14, ?15, ?16)
         ON CONFLICT (case_id, visitor) DO NOTHING",
        ContactStatus::Identified.as_str()
    )
});

/// Writes one generation of contacts, F2s linked through `links` to their F1s, and returns
/// those that were new, in the order given.
fn insert_generation(
    tx: &Connection,
    contacts: &[NewContact],
    links: &HashMap<(CaseId, String), String>,
) -> Result<Vec<Contact>> {
    let mut insert = tx.prepare_cached(&INSERT_CONTACT)?;
    // A trace records the contacts of one case: its id is written out once, not once a row.
    let mut cases: HashMap<CaseId, String> = HashMap::new();
    let mut added = Vec::with_capacity(contacts.len());
    for c in contacts {
        let case: &str = cases.entry(c.case).or_insert_with(|| c.case.to_string());
        let via = c.via_visitor.as_ref().and_then(|v| links.get(&(c.case, v.clone())));
        let evidence = serde_json::to_string(&c.evidence)
            .map_err(|e| StoreError::Backend(format!("evidence does not serialise: {e}")))?;
        let written = insert.execute(params![
            c.id.to_string(),
            case,
            c.generation,
            via,
            c.person.map(|p| p.0.to_string()),
            c.visitor,
            c.name,
            c.phone.as_ref().map(Phone::as_str),
            c.evidence.kind().as_str(),
            evidence,
            micros(c.exposure_at),
            c.unit_path,
            micros(c.quarantine_until),
            days_text(&c.test_days),
            micros(c.created_at),
            micros(c.created_at),
        ])?;
        // The row is not read back: the contact is what was written, with its F1 link.
        if written == 1 {
            added.push(recorded(c, via.map(|id| parse_uuid(id)).transpose()?.map(ContactId)));
        }
    }
    Ok(added)
}

fn exposure_contact_row(r: &Row) -> rusqlite::Result<Result<ExposureContact>> {
    let ids: (String, String, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?);
    let (visitor, name, phone, kind, evidence): (String, String, Option<String>, String, String) =
        (r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
    let (exposure_at, unit_path, status, note): (i64, String, String, String) =
        (r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?);
    let (quarantine_until, test_days, created_at, updated_at): (i64, String, i64, i64) =
        (r.get(12)?, r.get(13)?, r.get(14)?, r.get(15)?);
    Ok((|| {
        ExposureContactColumns {
            id: parse_uuid(&ids.0)?,
            exposure: parse_uuid(&ids.1)?,
            person: ids.2.as_deref().map(parse_uuid).transpose()?,
            visitor,
            name,
            phone,
            kind,
            evidence: serde_json::from_str(&evidence)
                .map_err(|e| StoreError::Backend(format!("stored evidence does not parse: {e}")))?,
            exposure_at: from_micros(exposure_at),
            unit_path,
            status,
            note,
            quarantine_until: from_micros(quarantine_until),
            test_days: days_of(&test_days)?,
            created_at: from_micros(created_at),
            updated_at: from_micros(updated_at),
        }
        .decode()
    })())
}

fn exposure_row(r: &Row) -> rusqlite::Result<Result<Exposure>> {
    let (id, venue, code, name, unit_path): (String, String, String, String, String) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
    let (from, until, reason, declared_by, created_at, contacts): (i64, i64, String, String, i64, i64) =
        (r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?);
    Ok((|| {
        Ok(Exposure {
            id: ExposureId(parse_uuid(&id)?),
            venue: outbreak_domain::venue::VenueId(parse_uuid(&venue)?),
            venue_code: code,
            venue_name: name,
            unit_path,
            window_from: from_micros(from),
            window_until: from_micros(until),
            reason,
            declared_by,
            created_at: from_micros(created_at),
            contacts: contacts as u64,
        })
    })())
}

/// Moves a contact of a case or of an exposure (`table`) to `status`, by the same rules.
#[allow(clippy::too_many_arguments)]
fn move_contact<T>(
    tx: &Connection,
    table: &str,
    columns: &str,
    row: fn(&Row) -> rusqlite::Result<Result<T>>,
    id: ContactId,
    status: ContactStatus,
    note: &str,
    at: OffsetDateTime,
) -> Result<T> {
    let current: Option<String> = tx
        .prepare_cached(&format!("SELECT status FROM {table} WHERE id = ?1"))?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    check_move(&current.ok_or(StoreError::NotFound("contact"))?, status)?;
    tx.prepare_cached(&format!(
        "UPDATE {table} SET status = ?2, note = ?3, updated_at = ?4 WHERE id = ?1 RETURNING {columns}"
    ))?
    .query_row(params![id.to_string(), status.as_str(), note, micros(at)], row)?
}

#[async_trait]
impl TracingStore for SqliteStore {
    async fn copresence(&self, sources: &[Presence], cap: u32) -> Result<Vec<CoPresence>> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let sources: Vec<serde_json::Value> = sources
            .iter()
            .map(|s| serde_json::json!([s.visitor, key64(&s.visitor), micros(s.from), micros(s.until)]))
            .collect();
        let sources = serde_json::Value::Array(sources).to_string();
        // Where the search's time goes, for the trace log.
        let started = std::time::Instant::now();
        let visits = self.read_checkins(move |c| source_visits(c, &sources)).await?;
        if visits.is_empty() {
            return Ok(Vec::new());
        }
        // The venue index's ranges are read on two connections at once (see `meetings`).
        // Each reads a snapshot of its own; a check-in recorded meanwhile is met by at
        // most one of them.
        let (scans, next) = (Arc::new(stay_scans(&visits)), Arc::new(AtomicUsize::new(0)));
        let reader = || {
            let (scans, next) = (scans.clone(), next.clone());
            self.read(move |c| meetings(c, &scans, &next))
        };
        let visits_read = started.elapsed();
        let ((mut meetings, mut by_phone), (more, more_by_phone)) = tokio::try_join!(reader(), reader())?;
        let meetings_read = started.elapsed();
        meetings.extend(more);
        by_phone.extend(more_by_phone);
        let stays: Vec<Stay> = visits.iter().map(|v| v.stay).collect();
        let ranked = rank_meetings(visits.len(), &meetings, &stays, cap);
        let found = meetings.len();
        let (ranked, rows) = self
            .read(move |c| {
                let rows = met_visitors(c, &ranked, &by_phone)?;
                Ok((ranked, rows))
            })
            .await?;
        ::tracing::trace!(
            visits = visits.len(),
            meetings = found,
            listed = ranked.len(),
            rows = rows.len(),
            visits_us = visits_read.as_micros() as u64,
            meetings_us = (meetings_read - visits_read).as_micros() as u64,
            ranked_and_rows_us = (started.elapsed() - meetings_read).as_micros() as u64,
            "co-presence read"
        );
        Ok(copresence_rows(&visits, ranked, &rows))
    }

    async fn household_members(&self, people: &[PersonId]) -> Result<Vec<HouseholdMember>> {
        if people.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::Value::from(people.iter().map(|p| p.0.to_string()).collect::<Vec<_>>()).to_string();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT p1.id, p2.household, p2.id, p2.full_name, p2.phone, p2.address_path
                 FROM people p1 JOIN people p2 ON p2.household = p1.household AND p2.id <> p1.id
                 WHERE p1.id IN (SELECT value FROM json_each(?1)) AND p1.household IS NOT NULL
                 ORDER BY p1.id, p2.full_name, p2.id",
            )?;
            let rows = stmt.query_map([ids], |r| {
                let (of, household, person, full_name, phone, address_path): (
                    String,
                    String,
                    String,
                    String,
                    Option<String>,
                    String,
                ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
                Ok((|| {
                    Ok(HouseholdMember {
                        of: PersonId(parse_uuid(&of)?),
                        household: UnitCode::parse("household", &household)
                            .map_err(|_| StoreError::Backend(format!("stored unit {household:?} does not parse")))?,
                        person: PersonId(parse_uuid(&person)?),
                        full_name,
                        phone: phone.as_deref().map(stored_phone).transpose()?,
                        address_path,
                    })
                })())
            })?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn insert_contacts(&self, contacts: Vec<NewContact>, audit: Vec<NewAuditEntry>) -> Result<Vec<Contact>> {
        let contacts = by_generation(contacts);
        self.write(move |tx| {
            let mut case_known = tx.prepare_cached("SELECT 1 FROM cases WHERE id = ?1")?;
            let mut cases_seen = std::collections::HashSet::new();
            for c in &contacts {
                if cases_seen.insert(c.case)
                    && case_known.query_row([c.case.to_string()], |_| Ok(())).optional()?.is_none()
                {
                    return Err(StoreError::NotFound("case"));
                }
            }
            let split = contacts.partition_point(|c| c.generation < 2);
            let (f1, f2) = contacts.split_at(split);
            let mut added = insert_generation(tx, f1, &HashMap::new())?;
            added.extend(insert_generation(tx, f2, &f1_links(tx, f2)?)?);
            insert_events(tx, &identified_events(&added))?;
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            Ok(added)
        })
        .await
    }

    async fn contact(&self, id: ContactId) -> Result<Option<Contact>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = ?1"))?
                .query_row([id.to_string()], contact_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn case_contacts(&self, case: CaseId, limit: u32) -> Result<Vec<Contact>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE case_id = ?1
                 ORDER BY generation, kind, exposure_at DESC, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![case.to_string(), i64::from(limit)], contact_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn count_case_contacts(&self, case: CaseId) -> Result<Vec<ContactCount>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT generation, status, count(*) FROM contacts WHERE case_id = ?1
                 GROUP BY generation, status ORDER BY generation, status",
            )?;
            let rows = stmt.query_map([case.to_string()], |r| {
                let (generation, status, contacts): (i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                Ok(word(ContactStatus::parse, &status).map(|status| ContactCount {
                    generation: generation as u8,
                    status,
                    contacts: contacts as u64,
                }))
            })?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn contact_queue(&self, filter: &ContactFilter) -> Result<Vec<Contact>> {
        let filter = filter.clone();
        self.read(move |c| {
            if filter.statuses.is_empty() {
                return Ok(Vec::new());
            }
            let statuses: Vec<String> = filter.statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
            let mut sql =
                format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE status IN ({}) AND (", statuses.join(", "));
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "unit_path", &filter.scope);
            sql.push(')');
            if let Some(person) = filter.person {
                values.push(person.to_string());
                sql.push_str(&format!(" AND person_id = ?{}", values.len()));
            }
            sql.push_str(&format!(" ORDER BY quarantine_until, id LIMIT {}", filter.limit));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), contact_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn update_contact(
        &self,
        id: ContactId,
        status: ContactStatus,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<Contact> {
        let note = note.to_owned();
        self.write(move |tx| move_contact(tx, "contacts", CONTACT_COLUMNS, contact_row, id, status, &note, at)).await
    }

    async fn insert_exposure(
        &self,
        exposure: NewExposure,
        contacts: Vec<NewExposureContact>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<ExposureContact>> {
        self.write(move |tx| {
            let venue_known =
                tx.prepare_cached("SELECT 1 FROM venues WHERE id = ?1")?.query_row([exposure.venue.to_string()], |_| Ok(())).optional()?;
            if venue_known.is_none() {
                return Err(StoreError::NotFound("venue"));
            }
            tx.prepare_cached(
                "INSERT INTO exposures (id, venue_id, unit_path, window_from, window_until, reason, declared_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                exposure.id.to_string(),
                exposure.venue.to_string(),
                exposure.unit_path,
                micros(exposure.window_from),
                micros(exposure.window_until),
                exposure.reason,
                exposure.declared_by,
                micros(exposure.created_at),
            ])?;
            // Listed once per exposure, and not again by a declaration whose window overlaps
            // an earlier one's at the same venue.
            let mut insert = tx.prepare_cached(&format!(
                "INSERT INTO exposure_contacts ({EXPOSURE_CONTACT_COLUMNS})
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '', ?12, ?13, ?14, ?14
                 WHERE NOT EXISTS (
                     SELECT 1 FROM exposure_contacts x JOIN exposures e ON e.id = x.exposure_id
                     WHERE x.visitor = ?4 AND e.venue_id = ?15 AND e.id <> ?2
                       AND e.window_from < ?17 AND e.window_until > ?16)
                 ON CONFLICT (exposure_id, visitor) DO NOTHING
                 RETURNING {EXPOSURE_CONTACT_COLUMNS}"
            ))?;
            let mut added = Vec::new();
            for c in &contacts {
                let evidence = serde_json::to_string(&c.evidence)
                    .map_err(|e| StoreError::Backend(format!("evidence does not serialise: {e}")))?;
                let row = insert
                    .query_row(
                        params![
                            c.id.to_string(),
                            exposure.id.to_string(),
                            c.person.map(|p| p.0.to_string()),
                            c.visitor,
                            c.name,
                            c.phone.as_ref().map(Phone::as_str),
                            outbreak_domain::tracing::ContactKind::Venue.as_str(),
                            evidence,
                            micros(c.exposure_at),
                            c.unit_path,
                            ContactStatus::Identified.as_str(),
                            micros(c.quarantine_until),
                            days_text(&c.test_days),
                            micros(c.created_at),
                            exposure.venue.to_string(),
                            micros(exposure.window_from),
                            micros(exposure.window_until),
                        ],
                        exposure_contact_row,
                    )
                    .optional()?;
                if let Some(contact) = row {
                    added.push(contact?);
                }
            }
            insert_events(tx, &exposure_identified_events(&added))?;
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            Ok(added)
        })
        .await
    }

    async fn exposure(&self, id: ExposureId) -> Result<Option<Exposure>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {EXPOSURE_COLUMNS} FROM exposures e JOIN venues v ON v.id = e.venue_id WHERE e.id = ?1"
            ))?
            .query_row([id.to_string()], exposure_row)
            .optional()?
            .transpose()
        })
        .await
    }

    async fn exposures(&self, scope: &[String], limit: u32) -> Result<Vec<Exposure>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql =
                format!("SELECT {EXPOSURE_COLUMNS} FROM exposures e JOIN venues v ON v.id = e.venue_id WHERE (");
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "e.unit_path", &scope);
            sql.push_str(&format!(") ORDER BY e.created_at DESC, e.id DESC LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), exposure_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn exposure_contacts(&self, id: ExposureId, limit: u32) -> Result<Vec<ExposureContact>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EXPOSURE_CONTACT_COLUMNS} FROM exposure_contacts WHERE exposure_id = ?1
                 ORDER BY exposure_at DESC, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![id.to_string(), i64::from(limit)], exposure_contact_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn phone_contacts(&self, visitor: &str, limit: u32) -> Result<Vec<Contact>> {
        let visitor = visitor.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts INDEXED BY contacts_phone_visitor
                 WHERE visitor = ?1 AND person_id IS NULL ORDER BY exposure_at DESC, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![visitor, i64::from(limit)], contact_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn visitor_exposure_contacts(&self, visitor: &str, limit: u32) -> Result<Vec<ExposureContact>> {
        let visitor = visitor.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EXPOSURE_CONTACT_COLUMNS} FROM exposure_contacts WHERE visitor = ?1
                 ORDER BY exposure_at DESC, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![visitor, i64::from(limit)], exposure_contact_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn update_exposure_contact(
        &self,
        id: ContactId,
        status: ContactStatus,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<ExposureContact> {
        let note = note.to_owned();
        self.write(move |tx| {
            move_contact(tx, "exposure_contacts", EXPOSURE_CONTACT_COLUMNS, exposure_contact_row, id, status, &note, at)
        })
        .await
    }

    async fn exposure_contact(&self, id: ContactId) -> Result<Option<ExposureContact>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {EXPOSURE_CONTACT_COLUMNS} FROM exposure_contacts WHERE id = ?1"))?
                .query_row([id.to_string()], exposure_contact_row)
                .optional()?
                .transpose()
        })
        .await
    }
}
