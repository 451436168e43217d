//! Venues, check-ins and declarations in PostgreSQL. Check-ins live in daily partitions:
//! `ensure_partitions` makes them for the retention period and a week ahead, and the
//! retention job drops whole days instead of deleting row by row.

use async_trait::async_trait;
use outbreak_domain::Phone;
use outbreak_domain::venue::{VenueId, Visitor};
use std::collections::{HashMap, HashSet};
use time::{Date, Duration, OffsetDateTime, Time};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresStore, commit, push_scope, refs, unique_violation, unit_path};
use crate::decode::{CheckinColumns, DeclarationColumns, venue as decode_venue};
use crate::records::*;
use crate::{CheckinStore, Result, StoreError, key64, venue_key};

const VENUE_COLUMNS: &str =
    "id, code, name, kind, plate, unit_code, unit_path, address, contact_phone, owner_phone, active, created_at";
const CHECKIN_COLUMNS: &str = "c.id, c.venue_id, v.code, v.name, c.visitor, c.person_id, c.phone, coalesce(pe.full_name, c.name), c.at, c.until, c.source";
/// A check-in with its venue and, for a known person, their record.
const CHECKIN_FROM: &str = "checkins c JOIN venues v ON v.id = c.venue_id LEFT JOIN people pe ON pe.id = c.person_id";
const DECLARATION_COLUMNS: &str = "d.id, d.visitor, d.person_id, d.phone, d.venue_id, d.at, d.symptoms, d.f0_contact, \
     d.places_visited, d.move_from, d.move_to, d.move_date, d.vehicle, d.flagged, d.unit_path, v.name";

/// Daily partitions made ahead of today.
const DAYS_AHEAD: i64 = 7;
/// Days of past partitions made at start, covering any retention period in use.
const DAYS_BEHIND: i64 = 30;

fn venue_row(r: &Row) -> Result<Venue> {
    decode_venue(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
        r.try_get(8)?,
        r.try_get(9)?,
        r.try_get(10)?,
        r.try_get(11)?,
    )
}

fn checkin_row(r: &Row) -> Result<Checkin> {
    CheckinColumns {
        id: r.try_get(0)?,
        venue: r.try_get(1)?,
        venue_code: r.try_get(2)?,
        venue_name: r.try_get(3)?,
        visitor: r.try_get(4)?,
        person: r.try_get(5)?,
        phone: r.try_get(6)?,
        name: r.try_get(7)?,
        at: r.try_get(8)?,
        until: r.try_get(9)?,
        source: r.try_get(10)?,
    }
    .decode()
}

fn declaration_row(r: &Row) -> Result<Declaration> {
    DeclarationColumns {
        id: r.try_get(0)?,
        visitor: r.try_get(1)?,
        person: r.try_get(2)?,
        phone: r.try_get(3)?,
        venue: r.try_get(4)?,
        at: r.try_get(5)?,
        symptoms: r.try_get(6)?,
        f0_contact: r.try_get(7)?,
        places_visited: r.try_get(8)?,
        move_from: r.try_get(9)?,
        move_to: r.try_get(10)?,
        move_date: r.try_get(11)?,
        vehicle: r.try_get(12)?,
        flagged: r.try_get(13)?,
        unit_path: r.try_get(14)?,
        venue_name: r.try_get(15)?,
    }
    .decode()
}

fn partition_name(day: Date) -> String {
    format!("checkins_p{:04}{:02}{:02}", day.year(), u8::from(day.month()), day.day())
}

fn day_of(name: &str) -> Option<Date> {
    let digits = name.strip_prefix("checkins_p")?;
    let format = time::macros::format_description!("[year][month][day]");
    Date::parse(digits, format).ok()
}

fn midnight(day: Date) -> String {
    format!("{} 00:00:00+00", day)
}

/// The names of the check-in table's partitions.
async fn partitions(client: &deadpool_postgres::Client) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'checkins'",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

impl PostgresStore {
    /// Makes the daily check-in partitions from `DAYS_BEHIND` days ago to `DAYS_AHEAD`
    /// days ahead. Rows already caught by the default partition move into their day.
    pub(super) async fn ensure_partitions(&self, now: OffsetDateTime) -> Result<()> {
        let mut client = self.pool.get().await?;
        let existing = partitions(&client).await?;
        let today = now.date();
        for offset in -DAYS_BEHIND..=DAYS_AHEAD {
            let day = today + Duration::days(offset);
            let name = partition_name(day);
            if existing.contains(&name) {
                continue;
            }
            let (from, to) = (midnight(day), midnight(day + Duration::DAY));
            let tx = client.transaction().await?;
            // Servers starting together take turns.
            tx.execute("SELECT pg_advisory_xact_lock(7262032)", &[]).await?;
            let made = tx.query_opt("SELECT 1 FROM pg_class WHERE relname = $1", &[&name]).await?.is_some();
            if !made {
                tx.batch_execute(&format!(
                    "CREATE TEMP TABLE moving (LIKE checkins) ON COMMIT DROP;
                     WITH d AS (DELETE FROM checkins_default WHERE at >= '{from}' AND at < '{to}' RETURNING *)
                       INSERT INTO moving SELECT * FROM d;
                     CREATE TABLE {name} PARTITION OF checkins FOR VALUES FROM ('{from}') TO ('{to}');
                     INSERT INTO checkins OVERRIDING SYSTEM VALUE SELECT * FROM moving;"
                ))
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}

#[async_trait]
impl CheckinStore for PostgresStore {
    async fn insert_venue(&self, v: &Venue) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            unit_path(&txn, &v.unit, "unit").await?;
            txn.execute(
                &format!(
                    "INSERT INTO venues ({VENUE_COLUMNS}, key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ),
                &[
                    &v.id.0,
                    &v.code,
                    &v.name,
                    &v.kind.as_str(),
                    &v.plate,
                    &v.unit.as_str(),
                    &v.unit_path,
                    &v.address,
                    &v.contact_phone.as_str(),
                    &v.owner_phone.as_ref().map(Phone::as_str),
                    &v.active,
                    &v.created_at,
                    &venue_key(v.id),
                ],
            )
            .await
            .map_err(|e| match unique_violation(&e) {
                Some("venues_code_key") => StoreError::Conflict { field: "code", existing: Some(v.code.clone()) },
                // The id itself, or its index key (`venues_key`), is another venue's.
                Some(_) => StoreError::Conflict { field: "id", existing: Some(v.id.to_string()) },
                None => e.into(),
            })?;
            Ok(())
        }
        .await;
        commit(txn, result).await
    }

    async fn venue(&self, id: VenueId) -> Result<Option<Venue>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&format!("SELECT {VENUE_COLUMNS} FROM venues WHERE id = $1")).await?;
        client.query_opt(&statement, &[&id.0]).await?.as_ref().map(venue_row).transpose()
    }

    async fn venue_by_code(&self, code: &str) -> Result<Option<Venue>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&format!("SELECT {VENUE_COLUMNS} FROM venues WHERE code = $1")).await?;
        client.query_opt(&statement, &[&code]).await?.as_ref().map(venue_row).transpose()
    }

    async fn venues(&self, scope: &[String], limit: u32) -> Result<Vec<Venue>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql = format!("SELECT {VENUE_COLUMNS} FROM venues WHERE ");
        push_scope(&mut sql, &mut values, "unit_path", scope);
        sql.push_str(&format!(" ORDER BY name COLLATE \"C\", id::text COLLATE \"C\" LIMIT {limit}"));
        client.query(&sql, &refs(&values)).await?.iter().map(venue_row).collect()
    }

    async fn venues_owned_by(&self, phone: &Phone) -> Result<Vec<Venue>> {
        let client = self.pool.get().await?;
        let sql = format!(
            "SELECT {VENUE_COLUMNS} FROM venues WHERE owner_phone = $1 ORDER BY name COLLATE \"C\", id::text COLLATE \"C\""
        );
        client.query(&sql, &[&phone.as_str()]).await?.iter().map(venue_row).collect()
    }

    async fn set_venue_active(&self, id: VenueId, active: bool) -> Result<()> {
        let client = self.pool.get().await?;
        match client.execute("UPDATE venues SET active = $2 WHERE id = $1", &[&id.0, &active]).await? {
            0 => Err(StoreError::NotFound("venue")),
            _ => Ok(()),
        }
    }

    async fn record_checkins(
        &self,
        checkins: Vec<NewCheckin>,
        window: Duration,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<CheckinOutcome>> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            check_venues(&txn, &checkins).await?;
            // A few set-based statements for the whole batch rather than two round trips a
            // check-in: what the store already holds, then the new rows at once.
            let keys: Vec<&str> = checkins.iter().filter_map(|c| c.client_key.as_deref()).collect();
            let mut known_keys: HashMap<String, Vec<(String, i64)>> = HashMap::new();
            if !keys.is_empty() {
                let rows = txn
                    .query(
                        "SELECT client_key, visitor, checkin_id FROM checkin_client_keys WHERE client_key = ANY($1)",
                        &[&keys],
                    )
                    .await?;
                for r in &rows {
                    known_keys.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
                }
            }
            let stored = earlier_visits(&txn, &checkins, window).await?;
            let batch = decide_batch(&checkins, &known_keys, &stored, window);
            let ids = new_checkin_ids(&txn, batch.new.len()).await?;
            insert_new_checkins(&txn, &checkins, &batch.new, &ids).await?;
            let id_of = |found: Found| match found {
                Found::Stored(id) => id,
                Found::New(k) => ids[k],
            };
            if !batch.remember.is_empty() {
                let mut keys = Vec::with_capacity(batch.remember.len());
                let mut visitors = Vec::with_capacity(batch.remember.len());
                let mut checkin_ids = Vec::with_capacity(batch.remember.len());
                let mut ats = Vec::with_capacity(batch.remember.len());
                for &(i, found) in &batch.remember {
                    keys.push(checkins[i].client_key.as_deref().unwrap_or_default());
                    visitors.push(checkins[i].visitor.as_str());
                    checkin_ids.push(id_of(found));
                    ats.push(checkins[i].at);
                }
                txn.execute(
                    "INSERT INTO checkin_client_keys (client_key, visitor, checkin_id, at)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])",
                    &[&keys, &visitors, &checkin_ids, &ats],
                )
                .await?;
            }
            let outcomes =
                batch
                    .outcomes
                    .iter()
                    .map(|&(found, is_new)| {
                        if is_new { CheckinOutcome::Stored(id_of(found)) } else { CheckinOutcome::Repeat(id_of(found)) }
                    })
                    .collect();
            for entry in &audit {
                super::insert_audit(&txn, entry).await?;
            }
            Ok(outcomes)
        }
        .await;
        commit(txn, result).await
    }

    async fn load_checkins(&self, mut batches: tokio::sync::mpsc::Receiver<Vec<NewCheckin>>) -> Result<u64> {
        let mut client = self.pool.get().await?;
        // The indexes as the migrations made them (not those backing the primary key),
        // read back so that nothing here can drift from the schema. Dropping an index of
        // the partitioned table drops it on every partition; making it again builds them all
        // — but the definition PostgreSQL gives back says `ON ONLY checkins`, which would
        // make an empty, invalid index on the parent and none on the days, so that is
        // taken out.
        let indexes: Vec<(String, String)> = client
            .query(
                "SELECT i.relname::text, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 WHERE x.indrelid = 'checkins'::regclass AND NOT x.indisprimary AND NOT x.indisunique",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get::<_, String>(1).replacen(" ON ONLY ", " ON ", 1)))
            .collect();
        for (name, _) in &indexes {
            client.batch_execute(&format!("DROP INDEX \"{name}\"")).await?;
        }
        let loaded = copy_batches(&mut client, &mut batches).await;
        // Built whatever happened to the rows: a store is never left without them.
        let mut built = Ok(());
        for (_, sql) in &indexes {
            if let Err(e) = client.batch_execute(sql).await {
                built = Err(e);
                break;
            }
        }
        let loaded = loaded?;
        built?;
        // VACUUM as well as ANALYZE: a bulk load leaves the visibility map empty, and until
        // autovacuum comes by every index scan would visit the table to check each row.
        client.batch_execute("VACUUM (ANALYZE) checkins").await?;
        Ok(loaded)
    }

    async fn check_out(&self, id: i64, visitor: &str, at: OffsetDateTime) -> Result<()> {
        let client = self.pool.get().await?;
        match client
            .execute(
                "UPDATE checkins SET until = LEAST(until, GREATEST(at, $3)) WHERE id = $1 AND visitor = $2",
                &[&id, &visitor, &at],
            )
            .await?
        {
            0 => Err(StoreError::NotFound("checkin")),
            _ => Ok(()),
        }
    }

    async fn checkins_of(&self, visitors: &[String], since: OffsetDateTime) -> Result<Vec<Checkin>> {
        if visitors.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.pool.get().await?;
        let sql = format!(
            "SELECT {CHECKIN_COLUMNS} FROM {CHECKIN_FROM}
             WHERE c.visitor_key = ANY($3) AND c.at >= $1 AND c.visitor = ANY($2) ORDER BY c.at DESC, c.id DESC"
        );
        let keys: Vec<i64> = visitors.iter().map(|v| key64(v)).collect();
        client.query(&sql, &[&since, &visitors, &keys]).await?.iter().map(checkin_row).collect()
    }

    async fn venue_checkins(
        &self,
        venue: VenueId,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Checkin>> {
        let client = self.pool.get().await?;
        let sql = format!(
            "SELECT {CHECKIN_COLUMNS} FROM {CHECKIN_FROM}
             WHERE c.venue_key = $4 AND c.venue_id = $1 AND c.at >= $2 AND c.at < $3 ORDER BY c.at DESC, c.id DESC LIMIT {limit}"
        );
        client.query(&sql, &[&venue.0, &since, &until, &venue_key(venue)]).await?.iter().map(checkin_row).collect()
    }

    async fn count_venue_checkins(&self, venue: VenueId, since: OffsetDateTime) -> Result<u64> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM checkins WHERE venue_key = $3 AND venue_id = $1 AND at >= $2",
                &[&venue.0, &since, &venue_key(venue)],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn count_checkins(&self) -> Result<u64> {
        let client = self.pool.get().await?;
        Ok(client.query_one("SELECT count(*) FROM checkins", &[]).await?.get::<_, i64>(0) as u64)
    }

    async fn insert_declaration(&self, d: &NewDeclarationRecord) -> Result<i64> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "INSERT INTO declarations (visitor, person_id, phone, venue_id, at, symptoms, f0_contact, places_visited,
                    move_from, move_to, move_date, vehicle, flagged, unit_path)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
                &[
                    &d.visitor,
                    &d.person.map(|p| p.0),
                    &d.phone.as_ref().map(Phone::as_str),
                    &d.venue.map(|v| v.0),
                    &d.at,
                    &d.symptoms.join(","),
                    &d.f0_contact,
                    &d.places_visited,
                    &d.move_from.as_ref().map(|u| u.as_str()),
                    &d.move_to.as_ref().map(|u| u.as_str()),
                    &d.move_date,
                    &d.vehicle,
                    &d.flagged,
                    &d.unit_path,
                ],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn declarations(&self, filter: &DeclarationFilter) -> Result<Vec<Declaration>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql = format!(
            "SELECT {DECLARATION_COLUMNS} FROM declarations d LEFT JOIN venues v ON v.id = d.venue_id WHERE TRUE"
        );
        if let Some(visitors) = &filter.visitors {
            if visitors.is_empty() {
                return Ok(Vec::new());
            }
            values.push(Box::new(visitors.clone()));
            sql.push_str(&format!(" AND d.visitor = ANY(${})", values.len()));
        }
        if let Some(venue) = filter.venue {
            values.push(Box::new(venue.0));
            sql.push_str(&format!(" AND d.venue_id = ${}", values.len()));
        }
        if filter.flagged_only {
            sql.push_str(" AND d.flagged");
        }
        if let Some(scope) = &filter.scope {
            sql.push_str(" AND (");
            push_scope(&mut sql, &mut values, "d.unit_path", scope);
            sql.push(')');
        }
        if let Some(since) = filter.since {
            values.push(Box::new(since));
            sql.push_str(&format!(" AND d.at >= ${}", values.len()));
        }
        sql.push_str(&format!(" ORDER BY d.at DESC, d.id DESC LIMIT {}", filter.limit));
        client.query(&sql, &refs(&values)).await?.iter().map(declaration_row).collect()
    }

    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<(u64, u64)> {
        let mut client = self.pool.get().await?;
        let partitions = partitions(&client).await?;
        let tx = client.transaction().await?;
        let mut checkins = 0u64;
        for name in partitions {
            // A whole day before the cutoff goes at once.
            let Some(day) = day_of(&name) else { continue };
            if (day + Duration::DAY).with_time(Time::MIDNIGHT).assume_utc() <= cutoff {
                checkins += tx.query_one(&format!("SELECT count(*) FROM {name}"), &[]).await?.get::<_, i64>(0) as u64;
                tx.batch_execute(&format!("DROP TABLE {name}")).await?;
            }
        }
        checkins += tx.execute("DELETE FROM checkins WHERE at < $1", &[&cutoff]).await?;
        tx.execute("DELETE FROM checkin_client_keys WHERE at < $1", &[&cutoff]).await?;
        let declarations = tx.execute("DELETE FROM declarations WHERE at < $1", &[&cutoff]).await?;
        tx.commit().await?;
        drop(client);
        self.ensure_partitions(cutoff.max(outbreak_domain::now())).await?;
        Ok((checkins, declarations))
    }
}

/// Copies each batch in a transaction of its own, as it comes (binary COPY: one round trip
/// a batch).
async fn copy_batches(
    client: &mut deadpool_postgres::Client,
    batches: &mut tokio::sync::mpsc::Receiver<Vec<NewCheckin>>,
) -> Result<u64> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    let mut loaded = 0;
    while let Some(batch) = batches.recv().await {
        let txn = client.transaction().await?;
        check_venues(&txn, &batch).await?;
        let sink = txn
            .copy_in(
                "COPY checkins (venue_key, visitor_key, venue_id, visitor, person_id, phone, name, at, until, source) \
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
        let types = [
            Type::INT8,
            Type::INT8,
            Type::UUID,
            Type::TEXT,
            Type::UUID,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::TEXT,
        ];
        let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
        for c in &batch {
            let (venue_key, visitor_key, visitor) =
                (venue_key(c.venue), key64(&c.visitor), Visitor::from_key(&c.visitor));
            let person = visitor.as_ref().and_then(Visitor::person).map(|p| p.0);
            let phone = visitor.as_ref().and_then(Visitor::phone).map(Phone::as_str);
            writer
                .as_mut()
                .write(&[
                    &venue_key,
                    &visitor_key,
                    &c.venue.0,
                    &c.visitor,
                    &person,
                    &phone,
                    &c.name_to_store(),
                    &c.at,
                    &c.until,
                    &c.source,
                ])
                .await?;
        }
        writer.finish().await?;
        txn.commit().await?;
        loaded += batch.len() as u64;
    }
    Ok(loaded)
}

/// `NotFound("venue")` unless every venue the check-ins name is stored: each venue of the
/// batch is checked once, not once per row.
async fn check_venues(txn: &tokio_postgres::Transaction<'_>, checkins: &[NewCheckin]) -> Result<()> {
    let venues: Vec<uuid::Uuid> = checkins.iter().map(|c| c.venue.0).collect::<HashSet<_>>().into_iter().collect();
    let known: i64 = txn.query_one("SELECT count(*) FROM venues WHERE id = ANY($1)", &[&venues]).await?.get(0);
    if known as usize != venues.len() {
        return Err(StoreError::NotFound("venue"));
    }
    Ok(())
}

/// A check-in a batch refers to: one the store holds, or the batch's `k`-th new row.
#[derive(Clone, Copy)]
enum Found {
    Stored(i64),
    New(usize),
}

/// What becomes of each check-in of a batch, decided in order as if they were recorded one
/// by one, from what the store held before the batch.
struct BatchPlan {
    /// For each check-in: the new row it becomes (and `true`), or the check-in it repeats.
    outcomes: Vec<(Found, bool)>,
    /// The check-ins stored as new rows, in order.
    new: Vec<usize>,
    /// The new check-ins that came with a client key, with the row each becomes.
    remember: Vec<(usize, Found)>,
}

/// Decides a batch: a client key the same visitor stored a check-in under before (in the
/// store or earlier in the batch) is a repeat of that check-in; otherwise the visitor's
/// earliest check-in at the same venue less than `window` away, stored or earlier in the
/// batch, is the visit this repeats; otherwise the check-in is new. `stored[i]` is the
/// earliest such check-in the store held for check-in `i`; `known_keys` holds, for each
/// client key, the visitors who stored a check-in under it and that check-in's id.
fn decide_batch(
    checkins: &[NewCheckin],
    known_keys: &HashMap<String, Vec<(String, i64)>>,
    stored: &[Option<(i64, OffsetDateTime)>],
    window: Duration,
) -> BatchPlan {
    let mut plan = BatchPlan { outcomes: Vec::with_capacity(checkins.len()), new: Vec::new(), remember: Vec::new() };
    let mut batch_keys: HashMap<(&str, &str), Found> = HashMap::new();
    let mut batch_visits: HashMap<(VenueId, &str), Vec<(OffsetDateTime, usize)>> = HashMap::new();
    for (i, c) in checkins.iter().enumerate() {
        let key = c.client_key.as_deref();
        let known = |k: &str| {
            let stored = known_keys.get(k)?.iter().find(|(visitor, _)| *visitor == c.visitor);
            stored.map(|&(_, id)| Found::Stored(id))
        };
        if let Some(found) = key.and_then(|k| known(k).or(batch_keys.get(&(c.visitor.as_str(), k)).copied())) {
            plan.outcomes.push((found, false));
            continue;
        }
        let in_batch = batch_visits
            .get(&(c.venue, c.visitor.as_str()))
            .into_iter()
            .flatten()
            .filter(|(at, _)| *at > c.at - window && *at < c.at + window)
            .min_by_key(|(at, _)| *at)
            .map(|&(at, k)| (at, Found::New(k)));
        let in_store = stored.get(i).copied().flatten().map(|(id, at)| (at, Found::Stored(id)));
        // The earlier of the two; the stored one on a tie, as SQLite finds it first.
        let (found, is_new) = match [in_store, in_batch].into_iter().flatten().min_by_key(|(at, _)| *at) {
            Some((_, found)) => (found, false),
            None => {
                let k = plan.new.len();
                plan.new.push(i);
                batch_visits.entry((c.venue, c.visitor.as_str())).or_default().push((c.at, k));
                (Found::New(k), true)
            }
        };
        if let Some(key) = key
            && is_new
        {
            batch_keys.insert((c.visitor.as_str(), key), found);
            plan.remember.push((i, found));
        }
        plan.outcomes.push((found, is_new));
    }
    plan
}

/// For each check-in, the visitor's earliest stored check-in at the same venue less than
/// `window` away, with its time: one statement for the whole batch.
async fn earlier_visits(
    txn: &tokio_postgres::Transaction<'_>,
    checkins: &[NewCheckin],
    window: Duration,
) -> Result<Vec<Option<(i64, OffsetDateTime)>>> {
    let venues: Vec<uuid::Uuid> = checkins.iter().map(|c| c.venue.0).collect();
    let visitors: Vec<&str> = checkins.iter().map(|c| c.visitor.as_str()).collect();
    let visitor_keys: Vec<i64> = checkins.iter().map(|c| key64(&c.visitor)).collect();
    let after: Vec<OffsetDateTime> = checkins.iter().map(|c| c.at - window).collect();
    let before: Vec<OffsetDateTime> = checkins.iter().map(|c| c.at + window).collect();
    let rows = txn
        .query(
            // Only the visitor's index can serve this: their few check-ins, not the venue's many.
            "SELECT e.id, e.at
             FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])
                  WITH ORDINALITY AS i(venue_id, visitor, visitor_key, after, before, n)
             LEFT JOIN LATERAL (
                 SELECT c.id, c.at FROM checkins c
                 WHERE c.visitor_key = i.visitor_key AND c.at > i.after AND c.at < i.before
                   AND c.venue_id = i.venue_id AND c.visitor = i.visitor
                 ORDER BY c.at LIMIT 1
             ) e ON true
             ORDER BY i.n",
            &[&venues, &visitors, &visitor_keys, &after, &before],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get::<_, Option<i64>>(0).zip(r.get::<_, Option<OffsetDateTime>>(1))).collect())
}

/// `count` ids from the check-ins' own sequence, in ascending order, so that a batch's new
/// rows are numbered in the batch's order.
async fn new_checkin_ids(txn: &tokio_postgres::Transaction<'_>, count: usize) -> Result<Vec<i64>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = txn
        .query(
            "SELECT nextval(pg_get_serial_sequence('checkins', 'id')) FROM generate_series(1, $1::bigint)",
            &[&(count as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if ids.len() != count {
        return Err(StoreError::Backend(format!("asked for {count} check-in ids, got {}", ids.len())));
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Inserts the check-ins `new` names, with `ids`, in one statement.
async fn insert_new_checkins(
    txn: &tokio_postgres::Transaction<'_>,
    checkins: &[NewCheckin],
    new: &[usize],
    ids: &[i64],
) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let rows: Vec<&NewCheckin> = new.iter().map(|&i| &checkins[i]).collect();
    let visitors: Vec<Option<Visitor>> = rows.iter().map(|c| Visitor::from_key(&c.visitor)).collect();
    let venues: Vec<uuid::Uuid> = rows.iter().map(|c| c.venue.0).collect();
    let visitor_texts: Vec<&str> = rows.iter().map(|c| c.visitor.as_str()).collect();
    let people: Vec<Option<uuid::Uuid>> =
        visitors.iter().map(|v| v.as_ref().and_then(Visitor::person).map(|p| p.0)).collect();
    let phones: Vec<Option<&str>> =
        visitors.iter().map(|v| v.as_ref().and_then(Visitor::phone).map(Phone::as_str)).collect();
    let names: Vec<&str> = rows.iter().map(|c| c.name_to_store()).collect();
    let ats: Vec<OffsetDateTime> = rows.iter().map(|c| c.at).collect();
    let untils: Vec<OffsetDateTime> = rows.iter().map(|c| c.until).collect();
    let sources: Vec<&str> = rows.iter().map(|c| c.source.as_str()).collect();
    let venue_keys: Vec<i64> = rows.iter().map(|c| venue_key(c.venue)).collect();
    let visitor_keys: Vec<i64> = rows.iter().map(|c| key64(&c.visitor)).collect();
    txn.execute(
        "INSERT INTO checkins (id, venue_id, visitor, person_id, phone, name, at, until, source, venue_key, visitor_key)
         OVERRIDING SYSTEM VALUE
         SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[],
                              $7::timestamptz[], $8::timestamptz[], $9::text[], $10::bigint[], $11::bigint[])",
        &[&ids, &venues, &visitor_texts, &people, &phones, &names, &ats, &untils, &sources, &venue_keys, &visitor_keys],
    )
    .await?;
    Ok(())
}
