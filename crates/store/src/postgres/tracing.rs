//! Co-presence, households and contacts in PostgreSQL.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use outbreak_domain::testing::CaseId;
use outbreak_domain::tracing::{ContactId, ContactKind, ContactStatus, ExposureId, LONGEST_STAY, Stay};
use outbreak_domain::venue::{VenueId, VenueKind};
use outbreak_domain::{PersonId, Phone, UnitCode};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};
use uuid::Uuid;

use super::testing::{insert_events, lock_outbox};
use super::{PostgresStore, commit, insert_audit, push_scope, refs};
use crate::records::NewAuditEntry;
use crate::testing::columns::word;
use crate::tracing::*;
use crate::{Result, StoreError, key64};

/// The sources' check-ins in their windows (by the visitor index), with their venues.
const SOURCE_VISITS_SQL: &str = "SELECT c.id, c.venue_key, c.visitor_key, c.visitor, GREATEST(c.at, src.wfrom),
           LEAST(c.until, src.wuntil), v.id, v.code, v.name, v.kind, v.unit_path
    FROM UNNEST($1::text[], $2::bigint[], $3::timestamptz[], $4::timestamptz[])
           WITH ORDINALITY AS src(visitor, visitor_key, wfrom, wuntil, n)
      JOIN checkins c ON c.visitor_key = src.visitor_key
        AND c.at >= src.wfrom - $5::bigint * interval '1 microsecond' AND c.at < src.wuntil
      JOIN venues v ON v.id = c.venue_id
    WHERE c.visitor = src.visitor AND c.until > src.wfrom
    ORDER BY src.n, c.at, c.id";

/// Other visitors' stays at each visit's venue that meet it within the margin, by an
/// index-only scan of the venue index: no check-in row is read here.
const MEETINGS_SQL: &str = "SELECT s.n - 1, o.id, o.at, o.until, o.visitor_key
    FROM UNNEST($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::bigint[])
           WITH ORDINALITY AS s(venue_key, visitor_key, at, until, margin, n)
      JOIN checkins o ON o.venue_key = s.venue_key
        AND o.at > s.at - ($6::bigint + s.margin) * interval '1 microsecond'
        AND o.at < s.until + s.margin * interval '1 microsecond'
    WHERE o.until + s.margin * interval '1 microsecond' > s.at AND o.visitor_key <> s.visitor_key";

/// The rows of the listed check-ins (by their primary key, so each is looked up in its own
/// day's partition), with the people they are.
const MET_VISITORS_SQL: &str = "SELECT o.id, o.visitor, o.person_id, coalesce(pe.full_name, o.name),
           coalesce(pe.phone, o.phone), pe.address_path
    FROM UNNEST($1::bigint[], $2::timestamptz[]) AS j(id, at)
      JOIN checkins o ON o.id = j.id AND o.at = j.at
      LEFT JOIN people pe ON pe.id = o.person_id";

fn source_visit(r: &Row) -> Result<SourceVisit> {
    let kind: String = r.try_get(9)?;
    Ok(SourceVisit {
        checkin: r.try_get(0)?,
        venue_key: r.try_get(1)?,
        visitor_key: r.try_get(2)?,
        visitor: r.try_get(3)?,
        stay: Stay { at: r.try_get(4)?, until: r.try_get(5)? },
        venue: VenueId(r.try_get(6)?),
        code: r.try_get(7)?,
        name: r.try_get(8)?,
        kind: word(VenueKind::parse, &kind)?,
        venue_path: r.try_get(10)?,
    })
}

fn met_visitor(r: &Row) -> Result<(i64, MetVisitor)> {
    let phone: Option<String> = r.try_get(4)?;
    Ok((
        r.try_get(0)?,
        MetVisitor {
            visitor: r.try_get(1)?,
            person: r.try_get::<_, Option<Uuid>>(2)?.map(PersonId),
            name: r.try_get(3)?,
            phone: phone.as_deref().map(stored_phone).transpose()?,
            home_path: r.try_get(5)?,
        },
    ))
}

/// The rows of these check-ins (id and time), each read once.
async fn met_visitors(
    txn: &Transaction<'_>,
    checkins: impl Iterator<Item = (i64, OffsetDateTime)>,
) -> Result<HashMap<i64, MetVisitor>> {
    let mut wanted: Vec<(i64, OffsetDateTime)> = checkins.collect();
    wanted.sort_unstable();
    wanted.dedup();
    let statement = txn.prepare_cached(MET_VISITORS_SQL).await?;
    txn.query(
        &statement,
        &[&wanted.iter().map(|w| w.0).collect::<Vec<_>>(), &wanted.iter().map(|w| w.1).collect::<Vec<_>>()],
    )
    .await?
    .iter()
    .map(met_visitor)
    .collect()
}

fn micros(d: time::Duration) -> i64 {
    d.whole_microseconds() as i64
}

fn stored_phone(text: &str) -> Result<Phone> {
    Phone::parse("phone", text).map_err(|_| StoreError::Backend(format!("stored phone {text:?} does not parse")))
}

fn contact_row(r: &Row) -> Result<Contact> {
    let generation: i16 = r.try_get(2)?;
    ContactColumns {
        id: r.try_get(0)?,
        case: r.try_get(1)?,
        generation: i64::from(generation),
        via: r.try_get(3)?,
        person: r.try_get(4)?,
        visitor: r.try_get(5)?,
        name: r.try_get(6)?,
        phone: r.try_get(7)?,
        kind: r.try_get(8)?,
        evidence: r.try_get(9)?,
        exposure_at: r.try_get(10)?,
        unit_path: r.try_get(11)?,
        status: r.try_get(12)?,
        note: r.try_get(13)?,
        quarantine_until: r.try_get(14)?,
        test_days: r.try_get(15)?,
        created_at: r.try_get(16)?,
        updated_at: r.try_get(17)?,
    }
    .decode()
}

/// Writes one generation's contacts; returns those that were new.
async fn insert_generation(tx: &Transaction<'_>, contacts: &[NewContact]) -> Result<Vec<Contact>> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO contacts ({CONTACT_COLUMNS})
             SELECT n.id, n.case_id, n.generation,
                    (SELECT c.id FROM contacts c WHERE c.case_id = n.case_id AND c.visitor = n.via_visitor),
                    n.person_id, n.visitor, n.name, n.phone, n.kind, n.evidence, n.exposure_at, n.unit_path,
                    'identified', '', n.quarantine_until, string_to_array(n.test_days, ',')::date[], n.created_at,
                    n.created_at
             FROM UNNEST($1::uuid[], $2::uuid[], $3::int2[], $4::text[], $5::uuid[], $6::text[], $7::text[],
                    $8::text[], $9::text[], $10::jsonb[], $11::timestamptz[], $12::text[], $13::timestamptz[],
                    $14::text[], $15::timestamptz[]) WITH ORDINALITY
               AS n(id, case_id, generation, via_visitor, person_id, visitor, name, phone, kind, evidence,
                    exposure_at, unit_path, quarantine_until, test_days, created_at, ord)
             ORDER BY n.ord
             ON CONFLICT (case_id, visitor) DO NOTHING
             RETURNING id, via"
        ))
        .await?;
    let evidence = contacts
        .iter()
        .map(|c| serde_json::to_value(&c.evidence))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Backend(format!("evidence does not serialise: {e}")))?;
    let rows = tx
        .query(
            &statement,
            &[
                &contacts.iter().map(|c| c.id.0).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.case.0).collect::<Vec<_>>(),
                &contacts.iter().map(|c| i16::from(c.generation)).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.via_visitor.as_deref()).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.person.map(|p| p.0)).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.visitor.as_str()).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.phone.as_ref().map(Phone::as_str)).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.evidence.kind().as_str()).collect::<Vec<_>>(),
                &evidence,
                &contacts.iter().map(|c| c.exposure_at).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.unit_path.as_str()).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.quarantine_until).collect::<Vec<_>>(),
                &contacts.iter().map(|c| days_text(&c.test_days)).collect::<Vec<_>>(),
                &contacts.iter().map(|c| c.created_at).collect::<Vec<_>>(),
            ],
        )
        .await?;
    // The rows are not read back: each contact is what was written, with its F1 link.
    let mut links: std::collections::HashMap<Uuid, Option<Uuid>> = std::collections::HashMap::new();
    for row in &rows {
        links.insert(row.try_get(0)?, row.try_get(1)?);
    }
    // In the order given (RETURNING promises none).
    Ok(contacts.iter().filter_map(|c| links.get(&c.id.0).map(|via| recorded(c, via.map(ContactId)))).collect())
}

fn exposure_contact_row(r: &Row) -> Result<ExposureContact> {
    ExposureContactColumns {
        id: r.try_get(0)?,
        exposure: r.try_get(1)?,
        person: r.try_get(2)?,
        visitor: r.try_get(3)?,
        name: r.try_get(4)?,
        phone: r.try_get(5)?,
        kind: r.try_get(6)?,
        evidence: r.try_get(7)?,
        exposure_at: r.try_get(8)?,
        unit_path: r.try_get(9)?,
        status: r.try_get(10)?,
        note: r.try_get(11)?,
        quarantine_until: r.try_get(12)?,
        test_days: r.try_get(13)?,
        created_at: r.try_get(14)?,
        updated_at: r.try_get(15)?,
    }
    .decode()
}

fn exposure_row(r: &Row) -> Result<Exposure> {
    let contacts: i64 = r.try_get(10)?;
    Ok(Exposure {
        id: ExposureId(r.try_get(0)?),
        venue: VenueId(r.try_get(1)?),
        venue_code: r.try_get(2)?,
        venue_name: r.try_get(3)?,
        unit_path: r.try_get(4)?,
        window_from: r.try_get(5)?,
        window_until: r.try_get(6)?,
        reason: r.try_get(7)?,
        declared_by: r.try_get(8)?,
        created_at: r.try_get(9)?,
        contacts: contacts as u64,
    })
}

/// Moves a contact of a case or of an exposure (`table`) to `status`, by the same rules.
#[allow(clippy::too_many_arguments)]
async fn move_contact<T>(
    pool: &deadpool_postgres::Pool,
    table: &str,
    columns: &str,
    row: fn(&Row) -> Result<T>,
    id: ContactId,
    status: ContactStatus,
    note: &str,
    at: OffsetDateTime,
) -> Result<T> {
    let mut client = pool.get().await?;
    let txn = client.transaction().await?;
    let result = async {
        let current: String = txn
            .query_opt(&format!("SELECT status FROM {table} WHERE id = $1 FOR UPDATE"), &[&id.0])
            .await?
            .ok_or(StoreError::NotFound("contact"))?
            .try_get(0)?;
        check_move(&current, status)?;
        let updated = txn
            .query_one(
                &format!(
                    "UPDATE {table} SET status = $2, note = $3, updated_at = $4 WHERE id = $1 RETURNING {columns}"
                ),
                &[&id.0, &status.as_str(), &note, &at],
            )
            .await?;
        row(&updated)
    }
    .await;
    commit(txn, result).await
}

#[async_trait]
impl TracingStore for PostgresStore {
    async fn copresence(&self, sources: &[Presence], cap: u32) -> Result<Vec<CoPresence>> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.pool.get().await?;
        // Three reads that see the same check-ins.
        let txn =
            client.build_transaction().read_only(true).isolation_level(IsolationLevel::RepeatableRead).start().await?;
        let longest = micros(LONGEST_STAY);
        let statement = txn.prepare_cached(SOURCE_VISITS_SQL).await?;
        let visits: Vec<SourceVisit> = txn
            .query(
                &statement,
                &[
                    &sources.iter().map(|s| s.visitor.as_str()).collect::<Vec<_>>(),
                    &sources.iter().map(|s| key64(&s.visitor)).collect::<Vec<_>>(),
                    &sources.iter().map(|s| s.from).collect::<Vec<_>>(),
                    &sources.iter().map(|s| s.until).collect::<Vec<_>>(),
                    &longest,
                ],
            )
            .await?
            .iter()
            .map(source_visit)
            .collect::<Result<_>>()?;
        if visits.is_empty() {
            return Ok(Vec::new());
        }
        let statement = txn.prepare_cached(MEETINGS_SQL).await?;
        let meetings: Vec<Meeting> = txn
            .query(
                &statement,
                &[
                    &visits.iter().map(|v| v.venue_key).collect::<Vec<_>>(),
                    &visits.iter().map(|v| v.visitor_key).collect::<Vec<_>>(),
                    &visits.iter().map(|v| v.stay.at).collect::<Vec<_>>(),
                    &visits.iter().map(|v| v.stay.until).collect::<Vec<_>>(),
                    &visits.iter().map(|v| micros(v.margin())).collect::<Vec<_>>(),
                    &longest,
                ],
            )
            .await?
            .iter()
            .map(|r| {
                let visit: i64 = r.try_get(0)?;
                Ok(Meeting {
                    visit: visit as usize,
                    checkin: r.try_get(1)?,
                    visitor_key: r.try_get(4)?,
                    at: r.try_get(2)?,
                    until: r.try_get(3)?,
                })
            })
            .collect::<Result<_>>()?;
        let stays: Vec<Stay> = visits.iter().map(|v| v.stay).collect();
        let ranked = rank_meetings(visits.len(), &meetings, &stays, cap);
        let rows = met_visitors(&txn, ranked.iter().map(|(m, _)| (m.checkin, m.at))).await?;
        txn.commit().await?;
        Ok(copresence_rows(&visits, ranked, &rows))
    }

    async fn household_members(&self, people: &[PersonId]) -> Result<Vec<HouseholdMember>> {
        if people.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT p1.id, p2.household, p2.id, p2.full_name, p2.phone, p2.address_path
                 FROM people p1 JOIN people p2 ON p2.household = p1.household AND p2.id <> p1.id
                 WHERE p1.id = ANY($1) AND p1.household IS NOT NULL
                 ORDER BY p1.id, p2.full_name, p2.id",
            )
            .await?;
        let ids: Vec<Uuid> = people.iter().map(|p| p.0).collect();
        let rows = client.query(&statement, &[&ids]).await?;
        rows.iter()
            .map(|r| {
                let household: String = r.try_get(1)?;
                let phone: Option<String> = r.try_get(4)?;
                Ok(HouseholdMember {
                    of: PersonId(r.try_get(0)?),
                    household: UnitCode::parse("household", &household)
                        .map_err(|_| StoreError::Backend(format!("stored unit {household:?} does not parse")))?,
                    person: PersonId(r.try_get(2)?),
                    full_name: r.try_get(3)?,
                    phone: phone.as_deref().map(stored_phone).transpose()?,
                    address_path: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn insert_contacts(&self, contacts: Vec<NewContact>, audit: Vec<NewAuditEntry>) -> Result<Vec<Contact>> {
        let contacts = by_generation(contacts);
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            lock_outbox(&txn).await?;
            let mut cases: Vec<Uuid> = contacts.iter().map(|c| c.case.0).collect();
            cases.sort();
            cases.dedup();
            let known: i64 =
                txn.query_one("SELECT count(*) FROM cases WHERE id = ANY($1)", &[&cases]).await?.try_get(0)?;
            if known != cases.len() as i64 {
                return Err(StoreError::NotFound("case"));
            }
            // An F2's link is looked up by the F1's visitor, so the F1s are written first.
            let split = contacts.partition_point(|c| c.generation < 2);
            let mut added = insert_generation(&txn, &contacts[..split]).await?;
            added.extend(insert_generation(&txn, &contacts[split..]).await?);
            insert_events(&txn, &identified_events(&added)).await?;
            for entry in &audit {
                insert_audit(&txn, entry).await?;
            }
            Ok(added)
        }
        .await;
        commit(txn, result).await
    }

    async fn contact(&self, id: ContactId) -> Result<Option<Contact>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1")).await?;
        client.query_opt(&statement, &[&id.0]).await?.as_ref().map(contact_row).transpose()
    }

    async fn case_contacts(&self, case: CaseId, limit: u32) -> Result<Vec<Contact>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE case_id = $1
                 ORDER BY generation, kind COLLATE \"C\", exposure_at DESC, id LIMIT $2"
            ))
            .await?;
        client.query(&statement, &[&case.0, &i64::from(limit)]).await?.iter().map(contact_row).collect()
    }

    async fn count_case_contacts(&self, case: CaseId) -> Result<Vec<ContactCount>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT generation, status, count(*) FROM contacts WHERE case_id = $1
                 GROUP BY generation, status ORDER BY generation, status COLLATE \"C\"",
            )
            .await?;
        client
            .query(&statement, &[&case.0])
            .await?
            .iter()
            .map(|r| {
                let (generation, status, contacts): (i16, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                Ok(ContactCount {
                    generation: generation as u8,
                    status: word(ContactStatus::parse, &status)?,
                    contacts: contacts as u64,
                })
            })
            .collect()
    }

    async fn contact_queue(&self, filter: &ContactFilter) -> Result<Vec<Contact>> {
        if filter.statuses.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> =
            vec![Box::new(filter.statuses.iter().map(|s| s.as_str().to_owned()).collect::<Vec<String>>())];
        let mut sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE status = ANY($1) AND (");
        push_scope(&mut sql, &mut values, "unit_path", &filter.scope);
        sql.push(')');
        if let Some(person) = filter.person {
            values.push(Box::new(person.0));
            sql.push_str(&format!(" AND person_id = ${}", values.len()));
        }
        sql.push_str(&format!(" ORDER BY quarantine_until, id LIMIT {}", filter.limit));
        client.query(&sql, &refs(&values)).await?.iter().map(contact_row).collect()
    }

    async fn update_contact(
        &self,
        id: ContactId,
        status: ContactStatus,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<Contact> {
        move_contact(&self.pool, "contacts", CONTACT_COLUMNS, contact_row, id, status, note, at).await
    }

    async fn insert_exposure(
        &self,
        exposure: NewExposure,
        contacts: Vec<NewExposureContact>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<ExposureContact>> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            // Also serialises declarations, so two overlapping ones never list a visitor twice.
            lock_outbox(&txn).await?;
            if txn.query_opt("SELECT 1 FROM venues WHERE id = $1", &[&exposure.venue.0]).await?.is_none() {
                return Err(StoreError::NotFound("venue"));
            }
            txn.execute(
                "INSERT INTO exposures (id, venue_id, unit_path, window_from, window_until, reason, declared_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &exposure.id.0,
                    &exposure.venue.0,
                    &exposure.unit_path,
                    &exposure.window_from,
                    &exposure.window_until,
                    &exposure.reason,
                    &exposure.declared_by,
                    &exposure.created_at,
                ],
            )
            .await?;
            let insert = txn
                .prepare_cached(&format!(
                    "INSERT INTO exposure_contacts ({EXPOSURE_CONTACT_COLUMNS})
                     SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::text, $7::text, $8::jsonb,
                            $9::timestamptz, $10::text, $11::text, '', $12::timestamptz,
                            string_to_array($13::text, ',')::date[], $14::timestamptz, $14::timestamptz
                     WHERE NOT EXISTS (
                         SELECT 1 FROM exposure_contacts x JOIN exposures e ON e.id = x.exposure_id
                         WHERE x.visitor = $4::text AND e.venue_id = $15::uuid AND e.id <> $2::uuid
                           AND e.window_from < $17::timestamptz AND e.window_until > $16::timestamptz)
                     ON CONFLICT (exposure_id, visitor) DO NOTHING
                     RETURNING {EXPOSURE_CONTACT_COLUMNS}"
                ))
                .await?;
            let mut added = Vec::new();
            for c in &contacts {
                let evidence = serde_json::to_value(&c.evidence)
                    .map_err(|e| StoreError::Backend(format!("evidence does not serialise: {e}")))?;
                let row = txn
                    .query_opt(
                        &insert,
                        &[
                            &c.id.0,
                            &exposure.id.0,
                            &c.person.map(|p| p.0),
                            &c.visitor,
                            &c.name,
                            &c.phone.as_ref().map(Phone::as_str),
                            &ContactKind::Venue.as_str(),
                            &evidence,
                            &c.exposure_at,
                            &c.unit_path,
                            &ContactStatus::Identified.as_str(),
                            &c.quarantine_until,
                            &days_text(&c.test_days),
                            &c.created_at,
                            &exposure.venue.0,
                            &exposure.window_from,
                            &exposure.window_until,
                        ],
                    )
                    .await?;
                if let Some(row) = row {
                    added.push(exposure_contact_row(&row)?);
                }
            }
            insert_events(&txn, &exposure_identified_events(&added)).await?;
            for entry in &audit {
                insert_audit(&txn, entry).await?;
            }
            Ok(added)
        }
        .await;
        commit(txn, result).await
    }

    async fn exposure(&self, id: ExposureId) -> Result<Option<Exposure>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {EXPOSURE_COLUMNS} FROM exposures e JOIN venues v ON v.id = e.venue_id WHERE e.id = $1"
            ))
            .await?;
        client.query_opt(&statement, &[&id.0]).await?.as_ref().map(exposure_row).transpose()
    }

    async fn exposures(&self, scope: &[String], limit: u32) -> Result<Vec<Exposure>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql = format!("SELECT {EXPOSURE_COLUMNS} FROM exposures e JOIN venues v ON v.id = e.venue_id WHERE (");
        push_scope(&mut sql, &mut values, "e.unit_path", scope);
        sql.push_str(&format!(") ORDER BY e.created_at DESC, e.id DESC LIMIT {limit}"));
        client.query(&sql, &refs(&values)).await?.iter().map(exposure_row).collect()
    }

    async fn exposure_contacts(&self, id: ExposureId, limit: u32) -> Result<Vec<ExposureContact>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {EXPOSURE_CONTACT_COLUMNS} FROM exposure_contacts WHERE exposure_id = $1
                 ORDER BY exposure_at DESC, id LIMIT $2"
            ))
            .await?;
        client.query(&statement, &[&id.0, &i64::from(limit)]).await?.iter().map(exposure_contact_row).collect()
    }

    async fn phone_contacts(&self, visitor: &str, limit: u32) -> Result<Vec<Contact>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE visitor = $1 AND person_id IS NULL
                 ORDER BY exposure_at DESC, id LIMIT $2"
            ))
            .await?;
        client.query(&statement, &[&visitor, &i64::from(limit)]).await?.iter().map(contact_row).collect()
    }

    async fn visitor_exposure_contacts(&self, visitor: &str, limit: u32) -> Result<Vec<ExposureContact>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {EXPOSURE_CONTACT_COLUMNS} FROM exposure_contacts WHERE visitor = $1
                 ORDER BY exposure_at DESC, id LIMIT $2"
            ))
            .await?;
        client.query(&statement, &[&visitor, &i64::from(limit)]).await?.iter().map(exposure_contact_row).collect()
    }

    async fn update_exposure_contact(
        &self,
        id: ContactId,
        status: ContactStatus,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<ExposureContact> {
        move_contact(
            &self.pool,
            "exposure_contacts",
            EXPOSURE_CONTACT_COLUMNS,
            exposure_contact_row,
            id,
            status,
            note,
            at,
        )
        .await
    }

    async fn exposure_contact(&self, id: ContactId) -> Result<Option<ExposureContact>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!("SELECT {EXPOSURE_CONTACT_COLUMNS} FROM exposure_contacts WHERE id = $1"))
            .await?;
        client.query_opt(&statement, &[&id.0]).await?.as_ref().map(exposure_contact_row).transpose()
    }
}
