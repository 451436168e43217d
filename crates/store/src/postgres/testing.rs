//! Sampling sessions, specimens, pools, results, cases, totals and the outbox in PostgreSQL.
//!
//! The rules are the SQLite store's, from the same shared plan (`testing::plan`). What
//! differs is how concurrent writers are kept apart — the rows a change depends on are
//! locked before they are read — and how a batch of results travels: a few set-based
//! statements over arrays, whatever the batch's size.
//!
//! Locks are `FOR NO KEY UPDATE`: they keep two writers off one tube, pool or session as
//! `FOR UPDATE` would, but let other transactions insert rows that refer to the locked one
//! (a retest naming a pooled specimen, a case naming its specimen). Rows are locked in one
//! order (tubes by id, then people, then totals by key) so that writers queue, not deadlock.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use outbreak_domain::testing::{
    Barcode, CaseId, CaseStatus, Conclusion, EPISODE, Outcome, PoolId, SessionId, SpecimenId, SpecimenStatus, TestType,
};
use outbreak_domain::{PersonId, local_date};
use time::{Date, OffsetDateTime};
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::{PostgresStore, commit, push_scope, refs, unique_violation, unit_path};
use crate::records::NewAuditEntry;
use crate::testing::columns::{CaseColumns, PoolColumns, SessionColumns, SpecimenColumns, word};
use crate::testing::plan::{HistoryRow, NewEvent, OpenCase, ResultPlan, ResultState, payload, plan_results};
use crate::testing::*;
use crate::{Result, StoreError};

/// Results recorded in one transaction. Measured: 16,000-18,000 results a second in
/// transactions of 10,000, half that in transactions of 50,000 (larger arrays of labels,
/// longer-held locks).
const RESULTS_PER_TRANSACTION: usize = 10_000;

const SESSION_COLUMNS: &str =
    "id, site, unit_code, unit_path, day, team, test_type, pool_size, created_by, created_at, closed_at";
/// Specimens with their pool's label, looked up row by row rather than joined, so that
/// `FOR … OF s` needs no outer join.
const SPECIMEN_SELECT: &str = "SELECT s.id, s.barcode, s.session_id, s.person_id, s.test_type, s.site_path, \
     s.home_path, s.collected_at, s.pool_id, (SELECT p.barcode FROM pools p WHERE p.id = s.pool_id), s.status, \
     s.conclusion, s.ct, s.resulted_at, s.reject_reason, s.retest_of FROM specimens s";
const POOL_SELECT: &str = "SELECT p.id, p.barcode, p.session_id, p.size_limit, p.members, p.closed, p.status, \
     p.outcome, p.ct, p.resulted_at, p.reject_reason, ss.unit_path, ss.test_type \
     FROM pools p JOIN sampling_sessions ss ON ss.id = p.session_id";
const CASE_SELECT: &str = "SELECT c.id, c.person_id, c.unit_code, c.unit_path, c.source, c.specimen_id, \
     c.sample_date, c.onset_date, c.confirmed_at, c.status, c.note, pe.full_name, pe.phone \
     FROM cases c JOIN people pe ON pe.id = c.person_id";

fn session_row(r: &Row) -> Result<SamplingSession> {
    SessionColumns {
        id: r.try_get(0)?,
        site: r.try_get(1)?,
        unit: r.try_get(2)?,
        unit_path: r.try_get(3)?,
        day: r.try_get::<_, Date>(4)?.to_string(),
        team: r.try_get(5)?,
        test_type: r.try_get(6)?,
        pool_size: r.try_get(7)?,
        created_by: r.try_get(8)?,
        created_at: r.try_get(9)?,
        closed_at: r.try_get(10)?,
    }
    .decode()
}

fn specimen_columns(r: &Row) -> Result<SpecimenColumns> {
    Ok(SpecimenColumns {
        id: r.try_get(0)?,
        barcode: r.try_get(1)?,
        session: r.try_get(2)?,
        person: r.try_get(3)?,
        test_type: r.try_get(4)?,
        site_path: r.try_get(5)?,
        home_path: r.try_get(6)?,
        collected_at: r.try_get(7)?,
        pool: r.try_get(8)?,
        pool_barcode: r.try_get(9)?,
        status: r.try_get(10)?,
        conclusion: r.try_get(11)?,
        ct: r.try_get(12)?,
        resulted_at: r.try_get(13)?,
        reject_reason: r.try_get(14)?,
        retest_of: r.try_get(15)?,
    })
}

fn pool_columns(r: &Row) -> Result<PoolColumns> {
    Ok(PoolColumns {
        id: r.try_get(0)?,
        barcode: r.try_get(1)?,
        session: r.try_get(2)?,
        size_limit: r.try_get(3)?,
        members: r.try_get(4)?,
        closed: r.try_get(5)?,
        status: r.try_get(6)?,
        outcome: r.try_get(7)?,
        ct: r.try_get(8)?,
        resulted_at: r.try_get(9)?,
        reject_reason: r.try_get(10)?,
        site_path: r.try_get(11)?,
        test_type: r.try_get(12)?,
    })
}

fn case_row(r: &Row) -> Result<CaseRow> {
    let case = CaseColumns {
        id: r.try_get(0)?,
        person: r.try_get(1)?,
        unit: r.try_get(2)?,
        unit_path: r.try_get(3)?,
        source: r.try_get(4)?,
        specimen: r.try_get(5)?,
        sample_date: r.try_get::<_, Option<Date>>(6)?.map(|d| d.to_string()),
        onset_date: r.try_get::<_, Option<Date>>(7)?.map(|d| d.to_string()),
        confirmed_at: r.try_get(8)?,
        status: r.try_get(9)?,
        note: r.try_get(10)?,
    }
    .decode()?;
    Ok(CaseRow { case, full_name: r.try_get(11)?, phone: r.try_get(12)? })
}

/// The six counts of `Totals` from column `first` on.
fn totals_row(r: &Row, first: usize) -> Result<Totals> {
    Ok(Totals {
        collected: r.try_get(first)?,
        positive: r.try_get(first + 1)?,
        negative: r.try_get(first + 2)?,
        invalid: r.try_get(first + 3)?,
        retest: r.try_get(first + 4)?,
        rejected: r.try_get(first + 5)?,
    })
}

/// Specimens matching `clause` (a condition, then any order or lock).
async fn specimens_where(
    c: &impl GenericClient,
    clause: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<SpecimenColumns>> {
    let statement = c.prepare_cached(&format!("{SPECIMEN_SELECT} WHERE {clause}")).await?;
    c.query(&statement, params).await?.iter().map(specimen_columns).collect()
}

async fn pools_where(c: &impl GenericClient, clause: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<PoolColumns>> {
    let statement = c.prepare_cached(&format!("{POOL_SELECT} WHERE {clause}")).await?;
    c.query(&statement, params).await?.iter().map(pool_columns).collect()
}

async fn specimen_by_barcode(c: &impl GenericClient, barcode: &str, lock: bool) -> Result<Option<SpecimenColumns>> {
    let clause = if lock { "s.barcode = $1 FOR NO KEY UPDATE OF s" } else { "s.barcode = $1" };
    Ok(specimens_where(c, clause, &[&barcode]).await?.pop())
}

async fn pool_by_barcode(c: &impl GenericClient, barcode: &str, lock: bool) -> Result<Option<PoolColumns>> {
    let clause = if lock { "p.barcode = $1 FOR NO KEY UPDATE OF p" } else { "p.barcode = $1" };
    Ok(pools_where(c, clause, &[&barcode]).await?.pop())
}

async fn members_of(c: &impl GenericClient, pool: Uuid) -> Result<Vec<SpecimenColumns>> {
    specimens_where(c, "s.pool_id = $1 ORDER BY s.collected_at, s.id", &[&pool]).await
}

/// Adds `delta` to the running totals and turnaround histogram, in key order.
async fn apply_totals(tx: &Transaction<'_>, totals: &TotalsDelta, turnaround: &TurnaroundDelta) -> Result<()> {
    let mut rows: Vec<(&str, Date, &str, &Totals)> = totals
        .iter()
        .filter(|(_, t)| **t != Totals::default())
        .map(|((path, day, test_type), t)| (path.as_str(), *day, test_type.as_str(), t))
        .collect();
    rows.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    if !rows.is_empty() {
        let statement = tx
            .prepare_cached(
                "INSERT INTO testing_totals AS t
                   (unit_path, day, test_type, collected, positive, negative, invalid, retest, rejected)
                 SELECT unit_path, day, test_type, collected, positive, negative, invalid, retest, rejected
                 FROM UNNEST($1::text[], $2::date[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[],
                   $8::int8[], $9::int8[]) WITH ORDINALITY
                   AS u(unit_path, day, test_type, collected, positive, negative, invalid, retest, rejected, n)
                 ORDER BY n
                 ON CONFLICT (unit_path, day, test_type) DO UPDATE SET collected = t.collected + excluded.collected,
                   positive = t.positive + excluded.positive, negative = t.negative + excluded.negative,
                   invalid = t.invalid + excluded.invalid, retest = t.retest + excluded.retest,
                   rejected = t.rejected + excluded.rejected",
            )
            .await?;
        let column = |f: fn(&Totals) -> i64| rows.iter().map(|r| f(r.3)).collect::<Vec<i64>>();
        tx.execute(
            &statement,
            &[
                &rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                &column(|t| t.collected),
                &column(|t| t.positive),
                &column(|t| t.negative),
                &column(|t| t.invalid),
                &column(|t| t.retest),
                &column(|t| t.rejected),
            ],
        )
        .await?;
    }
    let mut rows: Vec<(&str, Date, i64, i64)> =
        turnaround.iter().map(|((path, day, hours), n)| (path.as_str(), *day, *hours, *n)).collect();
    rows.sort_unstable();
    if !rows.is_empty() {
        let statement = tx
            .prepare_cached(
                "INSERT INTO testing_turnaround AS t (unit_path, day, hours, specimens)
                 SELECT unit_path, day, hours, specimens
                 FROM UNNEST($1::text[], $2::date[], $3::int8[], $4::int8[]) WITH ORDINALITY
                   AS u(unit_path, day, hours, specimens, n)
                 ORDER BY n
                 ON CONFLICT (unit_path, day, hours) DO UPDATE SET specimens = t.specimens + excluded.specimens",
            )
            .await?;
        tx.execute(
            &statement,
            &[
                &rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The advisory lock every transaction that writes events takes before its first write.
/// Sequence numbers are handed out at insert, not at commit: without the lock a consumer
/// could read seq 11 while seq 10 is still uncommitted, move its cursor past 10 and never
/// see it. Held until commit, the lock makes seqs commit in order. Taking it first, before
/// any row lock, keeps every transaction's lock order the same.
pub(super) async fn lock_outbox(tx: &Transaction<'_>) -> Result<()> {
    const OUTBOX_LOCK: i64 = 0x6f75_7462_6f78;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&OUTBOX_LOCK]).await?;
    Ok(())
}

/// Appends events to the outbox in the order given.
pub(super) async fn insert_events(tx: &Transaction<'_>, events: &[NewEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO events (kind, subject, unit_path, payload, at)
             SELECT kind, subject, unit_path, payload, at
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[]) WITH ORDINALITY
               AS e(kind, subject, unit_path, payload, at, n)
             ORDER BY n",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            &events.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(),
            &events.iter().map(|e| e.unit_path.as_str()).collect::<Vec<_>>(),
            &events.iter().map(|e| Json(&*e.payload)).collect::<Vec<_>>(),
            &events.iter().map(|e| e.at).collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

async fn insert_cases(tx: &Transaction<'_>, cases: &[Case]) -> Result<()> {
    if cases.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO cases (id, person_id, unit_code, unit_path, source, specimen_id, sample_date, onset_date,
               confirmed_at, status, note, updated_at)
             SELECT id, person_id, unit_code, unit_path, source, specimen_id, sample_date, onset_date,
               confirmed_at, status, note, confirmed_at
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::date[],
               $8::date[], $9::timestamptz[], $10::text[], $11::text[])
               AS c(id, person_id, unit_code, unit_path, source, specimen_id, sample_date, onset_date,
                 confirmed_at, status, note)",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &cases.iter().map(|c| c.id.0).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.person.0).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.unit.as_str()).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.unit_path.as_str()).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.source.as_str()).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.specimen.map(|s| s.0)).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.sample_date).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.onset_date).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.confirmed_at).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.status.as_str()).collect::<Vec<_>>(),
            &cases.iter().map(|c| c.note.as_str()).collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

/// Writes the audit entries of a change, in order, with one statement.
async fn insert_audits(tx: &Transaction<'_>, entries: &[NewAuditEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO audit_log (at, actor, actor_kind, action, entity, entity_id, detail, client)
             SELECT at, actor, actor_kind, action, entity, entity_id, detail, client
             FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
               $8::text[]) WITH ORDINALITY AS a(at, actor, actor_kind, action, entity, entity_id, detail, client, n)
             ORDER BY n",
        )
        .await?;
    let text = |f: fn(&NewAuditEntry) -> &str| entries.iter().map(f).collect::<Vec<&str>>();
    tx.execute(
        &statement,
        &[
            &entries.iter().map(|e| e.at).collect::<Vec<_>>(),
            &text(|e| &e.actor),
            &text(|e| &e.actor_kind),
            &text(|e| &e.action),
            &text(|e| &e.entity),
            &text(|e| &e.entity_id),
            &text(|e| &e.detail),
            &text(|e| &e.client),
        ],
    )
    .await?;
    Ok(())
}

/// Loads and locks what `plan_results` needs for a batch: the tubes it names (a pool with
/// its members) and the open cases of their people, with one query for each kind.
async fn load_result_state(tx: &Transaction<'_>, results: &[RecordResult]) -> Result<ResultState> {
    let mut state = ResultState::default();
    let mut seen = HashSet::new();
    let barcodes: Vec<&str> = results.iter().map(|r| r.result.barcode.as_str()).filter(|b| seen.insert(*b)).collect();
    if barcodes.is_empty() {
        return Ok(state);
    }
    let specimens =
        specimens_where(tx, "s.barcode = ANY($1) ORDER BY s.id FOR NO KEY UPDATE OF s", &[&barcodes]).await?;
    for specimen in specimens {
        state.add_specimen(specimen.state()?);
    }
    let rest: Vec<&str> = barcodes.iter().copied().filter(|b| !state.specimen_barcodes.contains_key(*b)).collect();
    if !rest.is_empty() {
        let pools = pools_where(tx, "p.barcode = ANY($1) ORDER BY p.id FOR NO KEY UPDATE OF p", &[&rest]).await?;
        if !pools.is_empty() {
            let ids: Vec<Uuid> = pools.iter().map(|p| p.id).collect();
            let members =
                specimens_where(tx, "s.pool_id = ANY($1) ORDER BY s.pool_id, s.collected_at, s.id", &[&ids]).await?;
            let mut by_pool: HashMap<Uuid, Vec<SpecimenId>> = HashMap::new();
            for member in members {
                if let Some(pool) = member.pool {
                    by_pool.entry(pool).or_default().push(SpecimenId(member.id));
                }
                state.add_specimen(member.state()?);
            }
            for pool in pools {
                let members = by_pool.remove(&pool.id).unwrap_or_default();
                state.add_pool(pool.state(members)?);
            }
        }
    }
    // Two batches may both bring a first positive for one person: holding the person makes
    // the second see the case the first confirmed.
    let mut positive: Vec<Uuid> = results
        .iter()
        .filter(|r| r.result.outcome == Outcome::Positive)
        .filter_map(|r| state.specimen_barcodes.get(r.result.barcode.as_str()))
        .filter_map(|id| state.specimens.get(id))
        .filter(|s| s.pool.is_none())
        .map(|s| s.person.0)
        .collect();
    positive.sort_unstable();
    positive.dedup();
    if !positive.is_empty() {
        let statement =
            tx.prepare_cached("SELECT 1 FROM people WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE").await?;
        tx.query(&statement, &[&positive]).await?;
    }
    let people: Vec<Uuid> = state.case_people(results).into_iter().map(|p| p.0).collect();
    if !people.is_empty() {
        let since = results.iter().map(|r| r.recorded_at).min().map_or(OffsetDateTime::UNIX_EPOCH, |at| at - EPISODE);
        let statement = tx
            .prepare_cached(
                "SELECT person_id, id, specimen_id, confirmed_at FROM cases
                 WHERE person_id = ANY($1) AND confirmed_at > $2 AND status <> 'discarded'
                 ORDER BY person_id, confirmed_at, id",
            )
            .await?;
        for row in tx.query(&statement, &[&people, &since]).await? {
            let person = PersonId(row.try_get(0)?);
            state.open_cases.entry(person).or_default().push(OpenCase {
                id: CaseId(row.try_get(1)?),
                specimen: row.try_get::<_, Option<Uuid>>(2)?.map(SpecimenId),
                confirmed_at: row.try_get(3)?,
            });
        }
    }
    Ok(state)
}

/// Writes a batch's plan back: every kind of row with one statement over arrays. The
/// statements are pipelined — sent together, in this order, and run by the server one after
/// the other while the client still encodes the next — since none needs another's answer.
async fn apply_result_plan(tx: &Transaction<'_>, state: &ResultState, plan: &ResultPlan) -> Result<()> {
    tokio::try_join!(
        biased;
        update_specimens(tx, state, plan),
        update_pools(tx, state, plan),
        insert_history(tx, &plan.history),
        async {
            // A batch may confirm a case and correct it away: the insert goes first.
            insert_cases(tx, &plan.new_cases).await?;
            discard_cases(tx, &plan.discarded_cases).await
        },
        insert_events(tx, &plan.events),
        apply_totals(tx, &plan.totals, &plan.turnaround),
    )?;
    Ok(())
}

async fn update_specimens(tx: &Transaction<'_>, state: &ResultState, plan: &ResultPlan) -> Result<()> {
    let specimens: Vec<_> = plan.specimens.iter().filter_map(|(id, _)| state.specimens.get(id)).collect();
    if specimens.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "UPDATE specimens s SET status = u.status, conclusion = u.conclusion, ct = u.ct,
               resulted_at = u.resulted_at
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::float8[], $5::timestamptz[])
               AS u(id, status, conclusion, ct, resulted_at)
             WHERE s.id = u.id",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &specimens.iter().map(|s| s.id.0).collect::<Vec<_>>(),
            &specimens.iter().map(|s| s.status.as_str()).collect::<Vec<_>>(),
            &specimens.iter().map(|s| s.conclusion.map(Conclusion::as_str)).collect::<Vec<_>>(),
            &specimens.iter().map(|s| s.ct).collect::<Vec<_>>(),
            &specimens.iter().map(|s| s.resulted_at).collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

async fn update_pools(tx: &Transaction<'_>, state: &ResultState, plan: &ResultPlan) -> Result<()> {
    let pools: Vec<_> = plan.pools.iter().filter_map(|(id, _)| state.pools.get(id)).collect();
    if pools.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "UPDATE pools p SET status = u.status, outcome = u.outcome, ct = u.ct, resulted_at = u.resulted_at
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::float8[], $5::timestamptz[])
               AS u(id, status, outcome, ct, resulted_at)
             WHERE p.id = u.id",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &pools.iter().map(|p| p.id.0).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.status.as_str()).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.outcome.map(Outcome::as_str)).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.ct).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.resulted_at).collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

/// Appends to the tubes' result histories, in order.
async fn insert_history(tx: &Transaction<'_>, history: &[HistoryRow]) -> Result<()> {
    if history.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO results (tube_id, barcode, outcome, ct, resulted_at, recorded_at, recorded_by, correction)
             SELECT tube_id, barcode, outcome, ct, resulted_at, recorded_at, recorded_by, correction
             FROM UNNEST($8::uuid[], $1::text[], $2::text[], $3::float8[], $4::timestamptz[], $5::timestamptz[],
               $6::text[], $7::text[]) WITH ORDINALITY
               AS r(tube_id, barcode, outcome, ct, resulted_at, recorded_at, recorded_by, correction, n)
             ORDER BY n",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &history.iter().map(|r| r.barcode.as_str()).collect::<Vec<_>>(),
            &history.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(),
            &history.iter().map(|r| r.ct).collect::<Vec<_>>(),
            &history.iter().map(|r| r.resulted_at).collect::<Vec<_>>(),
            &history.iter().map(|r| r.recorded_at).collect::<Vec<_>>(),
            &history.iter().map(|r| r.recorded_by.as_str()).collect::<Vec<_>>(),
            &history.iter().map(|r| r.correction.as_deref()).collect::<Vec<_>>(),
            &history.iter().map(|r| r.tube).collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

async fn discard_cases(tx: &Transaction<'_>, cases: &[CaseId]) -> Result<()> {
    if cases.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = cases.iter().map(|c| c.0).collect();
    let statement =
        tx.prepare_cached("UPDATE cases SET status = 'discarded', updated_at = $2 WHERE id = ANY($1)").await?;
    tx.execute(&statement, &[&ids, &outbreak_domain::now()]).await?;
    Ok(())
}

/// The person's pooled specimen still waiting for its individual retest.
async fn awaiting_retest(tx: &Transaction<'_>, person: Uuid) -> Result<Option<Uuid>> {
    let statement = tx
        .prepare_cached(
            "SELECT s.id FROM specimens s WHERE s.person_id = $1 AND s.conclusion = 'retest_individually'
             AND NOT EXISTS (SELECT 1 FROM specimens r WHERE r.retest_of = s.id)
             ORDER BY s.collected_at DESC LIMIT 1",
        )
        .await?;
    Ok(tx.query_opt(&statement, &[&person]).await?.map(|r| r.try_get(0)).transpose()?)
}

fn barcode_taken(e: tokio_postgres::Error, barcode: &Barcode) -> StoreError {
    match unique_violation(&e) {
        Some(_) => StoreError::Conflict { field: "barcode", existing: Some(barcode.to_string()) },
        None => e.into(),
    }
}

/// Counts a new specimen as collected in `totals`.
fn count_collected(totals: &mut TotalsDelta, home_path: &str, s: &NewSpecimen, t: TestType) {
    for path in rollup_paths(home_path) {
        totals.entry((path.to_owned(), local_date(s.collected_at), t)).or_default().collected += 1;
    }
}

async fn take_one(
    tx: &Transaction<'_>,
    new: &NewSpecimen,
    session: &SamplingSession,
    totals: &mut TotalsDelta,
) -> Result<Specimen> {
    let person = new.person.0;
    let statement = tx.prepare_cached("SELECT address_path FROM people WHERE id = $1").await?;
    let home_path: String =
        tx.query_opt(&statement, &[&person]).await?.ok_or(StoreError::NotFound("person"))?.try_get(0)?;
    let statement =
        tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM specimens WHERE session_id = $1 AND person_id = $2)").await?;
    let twice: bool = tx.query_one(&statement, &[&session.id.0, &person]).await?.try_get(0)?;
    if twice {
        return Err(StoreError::Refused {
            field: "person",
            code: "already_sampled",
            message: "this person was already sampled in this session".into(),
        });
    }
    let retest_of = awaiting_retest(tx, person).await?;
    // A retest is always an individual tube: the point is to find whose swab was positive.
    let pool = match (session.pool_size, retest_of) {
        (Some(size), None) => {
            // Held until commit, so a tube shipped or filled meanwhile is not joined.
            let statement = tx
                .prepare_cached(
                    "SELECT id FROM pools WHERE session_id = $1 AND NOT closed AND members < size_limit
                     AND status = 'collected' ORDER BY created_at DESC LIMIT 1 FOR NO KEY UPDATE",
                )
                .await?;
            let open = tx.query_opt(&statement, &[&session.id.0]).await?;
            let id: Uuid = match (open, &new.new_pool) {
                (Some(row), _) => row.try_get(0)?,
                (None, Some((id, barcode))) => {
                    let statement = tx
                        .prepare_cached(
                            "INSERT INTO pools (id, barcode, session_id, size_limit, members, closed, status, created_at)
                             VALUES ($1, $2, $3, $4, 0, FALSE, 'collected', $5)",
                        )
                        .await?;
                    tx.execute(&statement, &[&id.0, &barcode.as_str(), &session.id.0, &size, &new.collected_at])
                        .await
                        .map_err(|e| barcode_taken(e, barcode))?;
                    id.0
                }
                (None, None) => {
                    return Err(StoreError::Backend("a pooled session needs a label for a new pool".into()));
                }
            };
            let statement = tx
                .prepare_cached(
                    "UPDATE pools SET members = members + 1, closed = (members + 1 >= size_limit) WHERE id = $1",
                )
                .await?;
            tx.execute(&statement, &[&id]).await?;
            Some(id)
        }
        _ => None,
    };
    let statement = tx
        .prepare_cached(
            "INSERT INTO specimens (id, barcode, session_id, person_id, test_type, site_path, home_path, collected_at,
               pool_id, status, retest_of) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'collected', $10)",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &new.id.0,
            &new.barcode.as_str(),
            &session.id.0,
            &person,
            &session.test_type.as_str(),
            &session.unit_path,
            &home_path,
            &new.collected_at,
            &pool,
            &retest_of,
        ],
    )
    .await
    .map_err(|e| barcode_taken(e, &new.barcode))?;
    count_collected(totals, &home_path, new, session.test_type);
    specimens_where(tx, "s.id = $1", &[&new.id.0]).await?.pop().ok_or(StoreError::NotFound("specimen"))?.decode()
}

/// Rows written by one statement of an import.
const IMPORT_CHUNK: usize = 10_000;

async fn insert_session(tx: &Transaction<'_>, s: &SamplingSession) -> Result<()> {
    let path = unit_path(tx, &s.unit, "unit").await?;
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO sampling_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .await?;
    tx.execute(
        &statement,
        &[
            &s.id.0,
            &s.site,
            &s.unit.as_str(),
            &path,
            &s.date,
            &s.team,
            &s.test_type.as_str(),
            &s.pool_size,
            &s.created_by,
            &s.created_at,
            &s.closed_at,
        ],
    )
    .await?;
    Ok(())
}

/// Sessions of an import with one statement; `NotFound("unit")` when a unit is unknown.
async fn import_sessions(tx: &Transaction<'_>, sessions: &[SamplingSession]) -> Result<()> {
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO sampling_sessions ({SESSION_COLUMNS})
             SELECT s.id, s.site, s.unit_code, u.path, s.day, s.team, s.test_type, s.pool_size, s.created_by,
               s.created_at, s.closed_at
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::date[], $5::text[], $6::text[], $7::int8[],
               $8::text[], $9::timestamptz[], $10::timestamptz[]) WITH ORDINALITY
               AS s(id, site, unit_code, day, team, test_type, pool_size, created_by, created_at, closed_at, n)
             JOIN units u ON u.code = s.unit_code
             ORDER BY s.n"
        ))
        .await?;
    let written = tx
        .execute(
            &statement,
            &[
                &sessions.iter().map(|s| s.id.0).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.site.as_str()).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.unit.as_str()).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.date).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.team.as_str()).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.test_type.as_str()).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.pool_size).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.created_by.as_str()).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.created_at).collect::<Vec<_>>(),
                &sessions.iter().map(|s| s.closed_at).collect::<Vec<_>>(),
            ],
        )
        .await?;
    if written as usize != sessions.len() {
        return Err(StoreError::NotFound("unit"));
    }
    Ok(())
}

/// A label taken by a row of a many-row insert: the database names the value.
fn label_taken(e: tokio_postgres::Error) -> StoreError {
    if unique_violation(&e).is_none() {
        return e.into();
    }
    // "Key (barcode)=(S00000000011) already exists."
    let existing = e
        .as_db_error()
        .and_then(|db| db.detail())
        .and_then(|detail| detail.split_once(")=(")?.1.split_once(')').map(|(value, _)| value.to_owned()));
    StoreError::Conflict { field: "barcode", existing }
}

async fn import_pools(tx: &Transaction<'_>, pools: &[Pool]) -> Result<()> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO pools (id, barcode, session_id, size_limit, members, closed, status, outcome, ct,
               resulted_at, reject_reason, created_at)
             SELECT id, barcode, session_id, size_limit, members, closed, status, outcome, ct, resulted_at,
               reject_reason, $12
             FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::int8[], $5::int8[], $6::bool[], $7::text[],
               $8::text[], $9::float8[], $10::timestamptz[], $11::text[])
               AS p(id, barcode, session_id, size_limit, members, closed, status, outcome, ct, resulted_at,
                 reject_reason)",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &pools.iter().map(|p| p.id.0).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.barcode.as_str()).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.session.0).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.size_limit).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.members).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.closed).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.status.as_str()).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.outcome.map(Outcome::as_str)).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.ct).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.resulted_at).collect::<Vec<_>>(),
            &pools.iter().map(|p| p.reject_reason.as_deref()).collect::<Vec<_>>(),
            &outbreak_domain::now(),
        ],
    )
    .await
    .map_err(label_taken)?;
    Ok(())
}

async fn import_specimens(tx: &Transaction<'_>, specimens: &[Specimen]) -> Result<()> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO specimens (id, barcode, session_id, person_id, test_type, site_path, home_path,
               collected_at, pool_id, status, conclusion, ct, resulted_at, reject_reason, retest_of)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[],
               $7::text[], $8::timestamptz[], $9::uuid[], $10::text[], $11::text[], $12::float8[],
               $13::timestamptz[], $14::text[], $15::uuid[])",
        )
        .await?;
    let s = specimens;
    tx.execute(
        &statement,
        &[
            &s.iter().map(|s| s.id.0).collect::<Vec<_>>(),
            &s.iter().map(|s| s.barcode.as_str()).collect::<Vec<_>>(),
            &s.iter().map(|s| s.session.0).collect::<Vec<_>>(),
            &s.iter().map(|s| s.person.0).collect::<Vec<_>>(),
            &s.iter().map(|s| s.test_type.as_str()).collect::<Vec<_>>(),
            &s.iter().map(|s| s.site_path.as_str()).collect::<Vec<_>>(),
            &s.iter().map(|s| s.home_path.as_str()).collect::<Vec<_>>(),
            &s.iter().map(|s| s.collected_at).collect::<Vec<_>>(),
            &s.iter().map(|s| s.pool.as_ref().map(|p| p.id.0)).collect::<Vec<_>>(),
            &s.iter().map(|s| s.status.as_str()).collect::<Vec<_>>(),
            &s.iter().map(|s| s.conclusion.map(Conclusion::as_str)).collect::<Vec<_>>(),
            &s.iter().map(|s| s.ct).collect::<Vec<_>>(),
            &s.iter().map(|s| s.resulted_at).collect::<Vec<_>>(),
            &s.iter().map(|s| s.reject_reason.as_deref()).collect::<Vec<_>>(),
            &s.iter().map(|s| s.retest_of.map(|r| r.0)).collect::<Vec<_>>(),
        ],
    )
    .await
    .map_err(label_taken)?;
    Ok(())
}

/// Counts a rejected tube's specimens in the totals.
async fn count_rejected(tx: &Transaction<'_>, specimens: &[SpecimenColumns]) -> Result<()> {
    let mut totals = TotalsDelta::new();
    for s in specimens {
        let test_type = word(TestType::parse, &s.test_type)?;
        for path in rollup_paths(&s.home_path) {
            totals.entry((path.to_owned(), local_date(s.collected_at), test_type)).or_default().count(None, true, 1);
        }
    }
    apply_totals(tx, &totals, &HashMap::new()).await
}

#[async_trait]
impl TestingStore for PostgresStore {
    async fn insert_sampling_session(&self, session: &SamplingSession) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = insert_session(&txn, session).await;
        commit(txn, result).await
    }

    async fn sampling_session(&self, id: SessionId) -> Result<Option<SamplingSession>> {
        let client = self.pool.get().await?;
        let statement =
            client.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sampling_sessions WHERE id = $1")).await?;
        client.query_opt(&statement, &[&id.0]).await?.as_ref().map(session_row).transpose()
    }

    async fn sampling_sessions(&self, scope: &[String], limit: u32) -> Result<Vec<SamplingSession>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sampling_sessions WHERE (");
        push_scope(&mut sql, &mut values, "unit_path", scope);
        sql.push_str(&format!(") ORDER BY day DESC, created_at DESC LIMIT {limit}"));
        client.query(&sql, &refs(&values)).await?.iter().map(session_row).collect()
    }

    async fn close_sampling_session(&self, id: SessionId, at: OffsetDateTime) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            let changed = txn
                .execute(
                    "UPDATE sampling_sessions SET closed_at = COALESCE(closed_at, $2) WHERE id = $1",
                    &[&id.0, &at],
                )
                .await?;
            if changed == 0 {
                return Err(StoreError::NotFound("session"));
            }
            txn.execute("UPDATE pools SET closed = TRUE WHERE session_id = $1", &[&id.0]).await?;
            Ok(())
        }
        .await;
        commit(txn, result).await
    }

    async fn take_specimens(&self, specimens: Vec<NewSpecimen>, audit: Vec<NewAuditEntry>) -> Result<Vec<Specimen>> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            let tx = &txn;
            // The sessions are held to the end, in id order: a session's specimens and pools
            // are taken by one writer at a time, and it cannot close halfway.
            let mut ids: Vec<Uuid> = specimens.iter().map(|s| s.session.0).collect();
            ids.sort_unstable();
            ids.dedup();
            let statement = tx
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sampling_sessions WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE"
                ))
                .await?;
            let mut sessions: HashMap<SessionId, SamplingSession> = HashMap::new();
            for row in tx.query(&statement, &[&ids]).await? {
                let session = session_row(&row)?;
                sessions.insert(session.id, session);
            }
            // Totals are added once at the end, in key order, like every other writer's.
            let mut totals = HashMap::new();
            let mut taken = Vec::with_capacity(specimens.len());
            for new in &specimens {
                let session = sessions.get(&new.session).ok_or(StoreError::NotFound("session"))?;
                if session.closed_at.is_some() {
                    return Err(StoreError::Refused {
                        field: "session",
                        code: "session_closed",
                        message: "this sampling session is closed: open a new one".into(),
                    });
                }
                taken.push(take_one(tx, new, session, &mut totals).await?);
            }
            apply_totals(tx, &totals, &HashMap::new()).await?;
            insert_audits(tx, &audit).await?;
            Ok(taken)
        }
        .await;
        commit(txn, result).await
    }

    async fn close_pool(&self, id: PoolId) -> Result<()> {
        let client = self.pool.get().await?;
        match client.execute("UPDATE pools SET closed = TRUE WHERE id = $1", &[&id.0]).await? {
            0 => Err(StoreError::NotFound("pool")),
            _ => Ok(()),
        }
    }

    async fn tube(&self, barcode: &Barcode) -> Result<Option<Tube>> {
        let client = self.pool.get().await?;
        if let Some(s) = specimen_by_barcode(&client, barcode.as_str(), false).await? {
            return Ok(Some(Tube::Specimen(s.decode()?)));
        }
        match pool_by_barcode(&client, barcode.as_str(), false).await? {
            Some(p) => Ok(Some(Tube::Pool(p.decode()?.0))),
            None => Ok(None),
        }
    }

    async fn pool_members(&self, pool: PoolId) -> Result<Vec<Specimen>> {
        let client = self.pool.get().await?;
        members_of(&client, pool.0).await?.into_iter().map(SpecimenColumns::decode).collect()
    }

    async fn session_specimens(&self, session: SessionId) -> Result<Vec<Specimen>> {
        let client = self.pool.get().await?;
        let rows = specimens_where(&client, "s.session_id = $1 ORDER BY s.collected_at DESC", &[&session.0]).await?;
        rows.into_iter().map(SpecimenColumns::decode).collect()
    }

    async fn session_pools(&self, session: SessionId) -> Result<Vec<Pool>> {
        let client = self.pool.get().await?;
        let rows = pools_where(&client, "p.session_id = $1 ORDER BY p.created_at DESC", &[&session.0]).await?;
        rows.into_iter().map(|p| Ok(p.decode()?.0)).collect()
    }

    async fn person_specimens(&self, person: PersonId) -> Result<Vec<Specimen>> {
        let client = self.pool.get().await?;
        let rows = specimens_where(&client, "s.person_id = $1 ORDER BY s.collected_at DESC", &[&person.0]).await?;
        rows.into_iter().map(SpecimenColumns::decode).collect()
    }

    async fn open_specimens(&self, scope: &[String], limit: u32) -> Result<Vec<Specimen>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql = format!("{SPECIMEN_SELECT} WHERE s.conclusion IS NULL AND s.status <> 'rejected' AND (");
        push_scope(&mut sql, &mut values, "s.site_path", scope);
        sql.push_str(&format!(") ORDER BY s.collected_at LIMIT {limit}"));
        let rows = client.query(&sql, &refs(&values)).await?;
        rows.iter().map(|r| specimen_columns(r)?.decode()).collect()
    }

    async fn move_tube(&self, barcode: &Barcode, step: TubeStep, at: OffsetDateTime) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            let tx = &txn;
            lock_outbox(tx).await?;
            // The tube is held until commit, so two lab steps on one tube take turns.
            let (table, id, status, specimens) =
                if let Some(s) = specimen_by_barcode(tx, barcode.as_str(), true).await? {
                    if let Some(pool) = &s.pool_barcode {
                        return Err(StoreError::Refused {
                            field: "barcode",
                            code: "pooled_specimen",
                            message: format!("{barcode} was swabbed into pool {pool}: handle the pool's tube"),
                        });
                    }
                    ("specimens", s.id, s.status.clone(), vec![s])
                } else if let Some(p) = pool_by_barcode(tx, barcode.as_str(), true).await? {
                    let members = members_of(tx, p.id).await?;
                    ("pools", p.id, p.status, members)
                } else {
                    return Err(StoreError::NotFound("barcode"));
                };
            let next = next_status(barcode, word(SpecimenStatus::parse, &status)?, &step)?;
            let reason = match &step {
                TubeStep::Reject { reason } => Some(reason.as_str()),
                _ => None,
            };
            tx.execute(
                &format!(
                    "UPDATE {table} SET status = $2, reject_reason = COALESCE($3, reject_reason){} WHERE id = $1",
                    if table == "pools" { ", closed = TRUE" } else { "" }
                ),
                &[&id, &next.as_str(), &reason],
            )
            .await?;
            // The swabs in a pool travel in its tube.
            let ids: Vec<Uuid> = specimens.iter().map(|s| s.id).collect();
            tx.execute(
                "UPDATE specimens SET status = $2, reject_reason = COALESCE($3, reject_reason) WHERE id = ANY($1)",
                &[&ids, &next.as_str(), &reason],
            )
            .await?;
            if next == SpecimenStatus::Rejected {
                count_rejected(tx, &specimens).await?;
                let events: Vec<NewEvent> = specimens
                    .iter()
                    .map(|s| NewEvent {
                        kind: "specimen.rejected",
                        subject: s.id.to_string(),
                        unit_path: s.home_path.clone(),
                        payload: payload(
                            &serde_json::json!({ "person": s.person, "barcode": s.barcode, "reason": reason }),
                        ),
                        at,
                    })
                    .collect();
                insert_events(tx, &events).await?;
            }
            Ok(())
        }
        .await;
        commit(txn, result).await
    }

    async fn record_results(
        &self,
        results: Vec<RecordResult>,
        scope: Vec<String>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<ResultOutcome>> {
        let mut outcomes = Vec::with_capacity(results.len());
        let mut audit = Some(audit);
        for chunk in results.chunks(RESULTS_PER_TRANSACTION) {
            let mut client = self.pool.get().await?;
            let txn = client.transaction().await?;
            let audit = audit.take().unwrap_or_default();
            let result = async {
                lock_outbox(&txn).await?;
                let mut state = load_result_state(&txn, chunk).await?;
                let plan = plan_results(&mut state, chunk, &scope, || CaseId(Uuid::now_v7()));
                apply_result_plan(&txn, &state, &plan).await?;
                insert_audits(&txn, &audit).await?;
                Ok(plan.outcomes)
            }
            .await;
            outcomes.extend(commit(txn, result).await?);
        }
        Ok(outcomes)
    }

    async fn result_history(&self, barcode: &Barcode) -> Result<Vec<ResultEntry>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT outcome, ct, resulted_at, recorded_at, recorded_by, correction FROM results
                 WHERE tube_id IN (SELECT id FROM specimens WHERE barcode = $1 UNION ALL
                                   SELECT id FROM pools WHERE barcode = $1)
                 ORDER BY id",
            )
            .await?;
        let rows = client.query(&statement, &[&barcode.as_str()]).await?;
        rows.iter()
            .map(|r| {
                Ok(ResultEntry {
                    outcome: word(Outcome::parse, r.try_get(0)?)?,
                    ct: r.try_get(1)?,
                    resulted_at: r.try_get(2)?,
                    recorded_at: r.try_get(3)?,
                    recorded_by: r.try_get(4)?,
                    correction: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn import_tests(&self, import: TestImport) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            for sessions in import.sessions.chunks(IMPORT_CHUNK) {
                import_sessions(&txn, sessions).await?;
            }
            for pools in import.pools.chunks(IMPORT_CHUNK) {
                import_pools(&txn, pools).await?;
            }
            for specimens in import.specimens.chunks(IMPORT_CHUNK) {
                import_specimens(&txn, specimens).await?;
            }
            let (totals, turnaround) = import.totals();
            apply_totals(&txn, &totals, &turnaround).await
        }
        .await;
        commit(txn, result).await
    }

    async fn insert_case(&self, case: &Case) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let result = async {
            lock_outbox(&txn).await?;
            let exists: bool = txn
                .query_one("SELECT EXISTS (SELECT 1 FROM people WHERE id = $1)", &[&case.person.0])
                .await?
                .try_get(0)?;
            if !exists {
                return Err(StoreError::NotFound("person"));
            }
            insert_cases(&txn, std::slice::from_ref(case)).await?;
            insert_events(
                &txn,
                &[NewEvent {
                    kind: "case.confirmed",
                    subject: case.id.to_string(),
                    unit_path: case.unit_path.clone(),
                    payload: payload(&serde_json::json!({ "person": case.person, "source": case.source })),
                    at: case.confirmed_at,
                }],
            )
            .await
        }
        .await;
        commit(txn, result).await
    }

    async fn case(&self, id: CaseId) -> Result<Option<CaseRow>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&format!("{CASE_SELECT} WHERE c.id = $1")).await?;
        client.query_opt(&statement, &[&id.0]).await?.as_ref().map(case_row).transpose()
    }

    async fn cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRow>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql = format!("{CASE_SELECT} WHERE (");
        push_scope(&mut sql, &mut values, "c.unit_path", &filter.scope);
        sql.push(')');
        if let Some(since) = filter.since {
            values.push(Box::new(since));
            sql.push_str(&format!(" AND c.confirmed_at >= ${}", values.len()));
        }
        if let Some(person) = filter.person {
            values.push(Box::new(person.0));
            sql.push_str(&format!(" AND c.person_id = ${}", values.len()));
        }
        sql.push_str(&format!(" ORDER BY c.confirmed_at DESC LIMIT {}", filter.limit));
        client.query(&sql, &refs(&values)).await?.iter().map(case_row).collect()
    }

    async fn set_case_status(&self, id: CaseId, status: CaseStatus, note: &str, at: OffsetDateTime) -> Result<()> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "UPDATE cases SET status = $2, note = $3, updated_at = $4 WHERE id = $1",
                &[&id.0, &status.as_str(), &note, &at],
            )
            .await?;
        match changed {
            0 => Err(StoreError::NotFound("case")),
            _ => Ok(()),
        }
    }

    async fn testing_totals(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<DailyTotals>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT day, test_type, collected, positive, negative, invalid, retest, rejected FROM testing_totals
                 WHERE unit_path = $1 AND day >= $2 AND day <= $3 ORDER BY day, test_type COLLATE \"C\"",
            )
            .await?;
        let rows = client.query(&statement, &[&unit_path, &from, &to]).await?;
        rows.iter()
            .map(|r| {
                Ok(DailyTotals {
                    day: r.try_get(0)?,
                    test_type: word(TestType::parse, r.try_get(1)?)?,
                    totals: totals_row(r, 2)?,
                })
            })
            .collect()
    }

    async fn testing_totals_of(&self, unit_paths: &[String], from: Date, to: Date) -> Result<Vec<(String, Totals)>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT u.path, COALESCE(SUM(t.collected), 0)::bigint, COALESCE(SUM(t.positive), 0)::bigint,
                   COALESCE(SUM(t.negative), 0)::bigint, COALESCE(SUM(t.invalid), 0)::bigint,
                   COALESCE(SUM(t.retest), 0)::bigint, COALESCE(SUM(t.rejected), 0)::bigint
                 FROM UNNEST($1::text[]) WITH ORDINALITY AS u(path, n)
                 LEFT JOIN testing_totals t ON t.unit_path = u.path AND t.day >= $2 AND t.day <= $3
                 GROUP BY u.n, u.path ORDER BY u.n",
            )
            .await?;
        let rows = client.query(&statement, &[&unit_paths, &from, &to]).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, totals_row(r, 1)?))).collect()
    }

    async fn testing_totals_all(&self, unit_path: &str) -> Result<Totals> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT COALESCE(SUM(collected), 0)::bigint, COALESCE(SUM(positive), 0)::bigint,
                   COALESCE(SUM(negative), 0)::bigint, COALESCE(SUM(invalid), 0)::bigint,
                   COALESCE(SUM(retest), 0)::bigint, COALESCE(SUM(rejected), 0)::bigint
                 FROM testing_totals WHERE unit_path = $1",
            )
            .await?;
        totals_row(&client.query_one(&statement, &[&unit_path]).await?, 0)
    }

    async fn turnaround(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<(i64, i64)>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT hours, SUM(specimens)::bigint FROM testing_turnaround
                 WHERE unit_path = $1 AND day >= $2 AND day <= $3 GROUP BY hours ORDER BY hours",
            )
            .await?;
        let rows = client.query(&statement, &[&unit_path, &from, &to]).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn events_after(&self, seq: i64, kinds: &[&str], limit: u32) -> Result<Vec<Event>> {
        let client = self.pool.get().await?;
        let mut sql = "SELECT seq, kind, subject, unit_path, payload, at FROM events WHERE seq > $1".to_owned();
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(seq)];
        if !kinds.is_empty() {
            values.push(Box::new(kinds.iter().map(|k| (*k).to_owned()).collect::<Vec<String>>()));
            sql.push_str(" AND kind = ANY($2)");
        }
        sql.push_str(&format!(" ORDER BY seq LIMIT {limit}"));
        let rows = client.query(&sql, &refs(&values)).await?;
        rows.iter()
            .map(|r| {
                Ok(Event {
                    seq: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    subject: r.try_get(2)?,
                    unit_path: r.try_get(3)?,
                    payload: r.try_get(4)?,
                    at: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn event_cursor(&self, consumer: &str) -> Result<i64> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT seq FROM event_cursors WHERE consumer = $1", &[&consumer]).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    async fn set_event_cursor(&self, consumer: &str, seq: i64) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO event_cursors AS c (consumer, seq) VALUES ($1, $2)
                 ON CONFLICT (consumer) DO UPDATE SET seq = GREATEST(c.seq, excluded.seq)",
                &[&consumer, &seq],
            )
            .await?;
        Ok(())
    }

    async fn lease_consumer(
        &self,
        consumer: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool> {
        let client = self.pool.get().await?;
        let taken = client
            .execute(
                "INSERT INTO consumer_leases AS l (consumer, holder, expires_at) VALUES ($1, $2, $4)
                 ON CONFLICT (consumer) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE l.holder = excluded.holder OR l.expires_at <= $3",
                &[&consumer, &holder, &now, &until],
            )
            .await?;
        Ok(taken > 0)
    }
}
