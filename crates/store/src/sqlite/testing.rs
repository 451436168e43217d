//! Sampling sessions, specimens, pools, results, cases, totals and the outbox in SQLite.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use async_trait::async_trait;
use outbreak_domain::testing::{
    Barcode, CaseId, CaseStatus, Conclusion, EPISODE, PoolId, SessionId, SpecimenId, SpecimenStatus, TestType,
};
use outbreak_domain::{PersonId, local_date};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::rows::{from_micros, micros, parse_uuid};
use super::{SqliteStore, insert_audit, insert_events, push_scope, unique_violation, unit_path};
use crate::records::NewAuditEntry;
use crate::testing::columns::{CaseColumns, PoolColumns, SessionColumns, SpecimenColumns, day, word};
use crate::testing::plan::{Before, NewEvent, OpenCase, PlanMap, ResultPlan, ResultState, payload, plan_results};
use crate::testing::*;
use crate::{Result, StoreError};

/// Results recorded in one transaction: one writer with everything in reach records
/// fewer, larger transactions best.
pub(super) const RESULTS_PER_TRANSACTION: usize = 50_000;

const SESSION_COLUMNS: &str =
    "id, site, unit_code, unit_path, day, team, test_type, pool_size, created_by, created_at, closed_at";
const SPECIMEN_SELECT: &str = "SELECT s.id, s.barcode, s.session_id, s.person_id, s.test_type, s.site_path, \
     s.home_path, s.collected_at, s.pool_id, p.barcode, s.status, s.conclusion, s.ct, s.resulted_at, \
     s.reject_reason, s.retest_of, s.rowid FROM specimens s LEFT JOIN pools p ON p.id = s.pool_id";
const POOL_SELECT: &str = "SELECT p.id, p.barcode, p.session_id, p.size_limit, p.members, p.closed, p.status, \
     p.outcome, p.ct, p.resulted_at, p.reject_reason, ss.unit_path, ss.test_type \
     FROM pools p JOIN sampling_sessions ss ON ss.id = p.session_id";
const CASE_SELECT: &str = "SELECT c.id, c.person_id, c.unit_code, c.unit_path, c.source, c.specimen_id, \
     c.sample_date, c.onset_date, c.confirmed_at, c.status, c.note, pe.full_name, pe.phone \
     FROM cases c JOIN people pe ON pe.id = c.person_id";

fn uuid_col(r: &Row, i: usize) -> rusqlite::Result<Result<Uuid>> {
    let text: String = r.get(i)?;
    Ok(parse_uuid(&text))
}

fn optional_uuid(r: &Row, i: usize) -> rusqlite::Result<Result<Option<Uuid>>> {
    let text: Option<String> = r.get(i)?;
    Ok(text.as_deref().map(parse_uuid).transpose())
}

fn session_row(r: &Row) -> rusqlite::Result<Result<SamplingSession>> {
    let id = uuid_col(r, 0)?;
    let columns = (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?);
    let (created, closed): (i64, Option<i64>) = (r.get(9)?, r.get(10)?);
    Ok(id.and_then(|id| {
        let (site, unit, unit_path, day, team, test_type, pool_size, created_by) = columns;
        SessionColumns {
            id,
            site,
            unit,
            unit_path,
            day,
            team,
            test_type,
            pool_size,
            created_by,
            created_at: from_micros(created),
            closed_at: closed.map(from_micros),
        }
        .decode()
    }))
}

fn specimen_columns(r: &Row) -> rusqlite::Result<Result<SpecimenColumns>> {
    let ids = (uuid_col(r, 0)?, uuid_col(r, 2)?, uuid_col(r, 3)?, optional_uuid(r, 8)?, optional_uuid(r, 15)?);
    let (barcode, test_type, site_path, home_path, collected): (String, String, String, String, i64) =
        (r.get(1)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
    let (pool_barcode, status, conclusion): (Option<String>, String, Option<String>) =
        (r.get(9)?, r.get(10)?, r.get(11)?);
    let (ct, resulted, reason): (Option<f64>, Option<i64>, Option<String>) = (r.get(12)?, r.get(13)?, r.get(14)?);
    Ok((|| {
        Ok(SpecimenColumns {
            id: ids.0?,
            barcode,
            session: ids.1?,
            person: ids.2?,
            test_type,
            site_path,
            home_path,
            collected_at: from_micros(collected),
            pool: ids.3?,
            pool_barcode,
            status,
            conclusion,
            ct,
            resulted_at: resulted.map(from_micros),
            reject_reason: reason,
            retest_of: ids.4?,
        })
    })())
}

fn specimen_row(r: &Row) -> rusqlite::Result<Result<Specimen>> {
    Ok(specimen_columns(r)?.and_then(SpecimenColumns::decode))
}

fn pool_columns(r: &Row) -> rusqlite::Result<Result<PoolColumns>> {
    let (id, session) = (uuid_col(r, 0)?, uuid_col(r, 2)?);
    let (barcode, size_limit, members, closed, status, outcome, ct, resulted, reason, site_path, test_type) = (
        r.get(1)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get::<_, Option<i64>>(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    );
    Ok((|| {
        Ok(PoolColumns {
            id: id?,
            barcode,
            session: session?,
            size_limit,
            members,
            closed,
            status,
            outcome,
            ct,
            resulted_at: resulted.map(from_micros),
            reject_reason: reason,
            site_path,
            test_type,
        })
    })())
}

fn case_row(r: &Row) -> rusqlite::Result<Result<CaseRow>> {
    let ids = (uuid_col(r, 0)?, uuid_col(r, 1)?, optional_uuid(r, 5)?);
    let (unit, unit_path, source, sample_date, onset_date, confirmed, status, note, full_name, phone) = (
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(6)?,
        r.get(7)?,
        r.get::<_, i64>(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    );
    Ok((|| {
        let case = CaseColumns {
            id: ids.0?,
            person: ids.1?,
            unit,
            unit_path,
            source,
            specimen: ids.2?,
            sample_date,
            onset_date,
            confirmed_at: from_micros(confirmed),
            status,
            note,
        }
        .decode()?;
        Ok(CaseRow { case, full_name, phone })
    })())
}

fn totals_row(r: &Row) -> rusqlite::Result<Totals> {
    Ok(Totals {
        collected: r.get(0)?,
        positive: r.get(1)?,
        negative: r.get(2)?,
        invalid: r.get(3)?,
        retest: r.get(4)?,
        rejected: r.get(5)?,
    })
}

fn collect<T>(rows: impl Iterator<Item = rusqlite::Result<Result<T>>>) -> Result<Vec<T>> {
    rows.map(|r| r.map_err(StoreError::from).and_then(|v| v)).collect()
}

fn specimen_by_barcode(c: &Connection, barcode: &str) -> Result<Option<SpecimenColumns>> {
    Ok(specimen_row_by_barcode(c, barcode)?.map(|(columns, _)| columns))
}

/// A specimen with its rowid, which the writer updates it by without a look-up by id.
fn specimen_row_by_barcode(c: &Connection, barcode: &str) -> Result<Option<(SpecimenColumns, i64)>> {
    c.prepare_cached(&format!("{SPECIMEN_SELECT} WHERE s.barcode = ?1"))?
        .query_row([barcode], with_rowid)
        .optional()?
        .map(|(columns, row)| Ok((columns?, row)))
        .transpose()
}

fn with_rowid(r: &Row) -> rusqlite::Result<(Result<SpecimenColumns>, i64)> {
    Ok((specimen_columns(r)?, r.get(16)?))
}

fn pool_by_barcode(c: &Connection, barcode: &str) -> Result<Option<PoolColumns>> {
    c.prepare_cached(&format!("{POOL_SELECT} WHERE p.barcode = ?1"))?
        .query_row([barcode], pool_columns)
        .optional()?
        .transpose()
}

fn members_of(c: &Connection, pool: PoolId) -> Result<Vec<SpecimenColumns>> {
    Ok(member_rows(c, pool)?.into_iter().map(|(columns, _)| columns).collect())
}

fn member_rows(c: &Connection, pool: PoolId) -> Result<Vec<(SpecimenColumns, i64)>> {
    let mut stmt = c.prepare_cached(&format!("{SPECIMEN_SELECT} WHERE s.pool_id = ?1 ORDER BY s.collected_at"))?;
    let rows = stmt.query_map([pool.0.to_string()], with_rowid)?;
    rows.map(|row| {
        let (columns, rowid) = row?;
        Ok((columns?, rowid))
    })
    .collect()
}

/// Where each loaded specimen's row is, so the writer updates it without a look-up by id.
type Rowids = PlanMap<SpecimenId, i64>;

/// Adds `delta` to the running totals and turnaround histogram.
fn apply_totals(
    tx: &Connection,
    totals: &HashMap<(String, Date, TestType), Totals>,
    turnaround: &HashMap<(String, Date, i64), i64>,
) -> Result<()> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO testing_totals
           (unit_path, day, test_type, collected, positive, negative, invalid, retest, rejected, depth)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (day, depth, unit_path, test_type) DO UPDATE SET collected = collected + excluded.collected,
           positive = positive + excluded.positive, negative = negative + excluded.negative,
           invalid = invalid + excluded.invalid, retest = retest + excluded.retest, rejected = rejected + excluded.rejected",
    )?;
    for ((path, day, test_type), t) in totals {
        if *t != Totals::default() {
            upsert.execute(params![
                path,
                day.to_string(),
                test_type.as_str(),
                t.collected,
                t.positive,
                t.negative,
                t.invalid,
                t.retest,
                t.rejected,
                depth(path)
            ])?;
        }
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO testing_turnaround (unit_path, day, hours, specimens) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (day, unit_path, hours) DO UPDATE SET specimens = specimens + excluded.specimens",
    )?;
    for ((path, day, hours), n) in turnaround {
        upsert.execute(params![path, day.to_string(), hours, n])?;
    }
    Ok(())
}

/// How deep a unit's path is (its slashes), under which its totals are filed: a unit's
/// children are one depth below it, and their totals of a day a range of that day's rows.
fn depth(path: &str) -> i64 {
    path.bytes().filter(|b| *b == b'/').count() as i64
}

fn insert_case(tx: &Connection, case: &Case) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO cases (id, person_id, unit_code, unit_path, source, specimen_id, sample_date, onset_date,
           confirmed_at, status, note, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?9)",
    )?
    .execute(params![
        case.id.to_string(),
        case.person.0.to_string(),
        case.unit.as_str(),
        case.unit_path,
        case.source,
        case.specimen.map(|s| s.to_string()),
        case.sample_date.map(|d| d.to_string()),
        case.onset_date.map(|d| d.to_string()),
        micros(case.confirmed_at),
        case.status.as_str(),
        case.note
    ])?;
    Ok(())
}

/// Loads what `plan_results` needs for a batch: the tubes it names and the open cases of
/// their people.
///
/// The tubes are looked up in the order of their labels, and the specimens then read in the
/// order of their rows. A chunk's tubes are scattered over indexes and tables of millions
/// of rows, and each new snapshot starts from an empty page cache (or, for an upload's
/// planner, a memory map made afresh). In key order, neighbouring look-ups can share the
/// pages they read; in the file's order nearly every look-up reads pages of its own. At
/// three million tests this took a fifth to two fifths off planning. At ten million the
/// look-ups are sparse enough to land about one per index leaf, and no gain showed
/// (`docs/benchmarks.md`).
fn load_result_state(tx: &Connection, results: &[RecordResult]) -> Result<(ResultState, Rowids)> {
    let mut state = ResultState::default();
    // Room for a result per tube at first, so that the maps grow by few rehashes.
    state.specimens.reserve(results.len());
    state.specimen_barcodes.reserve(results.len());
    let mut rowids = Rowids::with_capacity_and_hasher(results.len(), Default::default());
    let mut barcodes: Vec<&str> = results.iter().map(|r| r.result.barcode.as_str()).collect();
    barcodes.sort_unstable();
    barcodes.dedup();
    let mut specimen_at = tx.prepare_cached("SELECT rowid FROM specimens WHERE barcode = ?1")?;
    let mut specimens = Vec::with_capacity(barcodes.len());
    for barcode in barcodes {
        if let Some(rowid) = specimen_at.query_row([barcode], |r| r.get::<_, i64>(0)).optional()? {
            specimens.push(rowid);
        } else if let Some(pool) = pool_by_barcode(tx, barcode)? {
            let members = member_rows(tx, PoolId(pool.id))?;
            let ids = members.iter().map(|(m, _)| SpecimenId(m.id)).collect();
            for (member, rowid) in members {
                rowids.insert(SpecimenId(member.id), rowid);
                state.add_specimen(member.state()?);
            }
            state.add_pool(pool.state(ids)?);
        }
    }
    specimens.sort_unstable();
    let mut specimen = tx.prepare_cached(&format!("{SPECIMEN_SELECT} WHERE s.rowid = ?1"))?;
    for rowid in specimens {
        let (columns, rowid) = specimen.query_row([rowid], with_rowid)?;
        let columns = columns?;
        rowids.insert(SpecimenId(columns.id), rowid);
        state.add_specimen(columns.state()?);
    }
    let since = results.iter().map(|r| r.recorded_at).min().map(|at| micros(at - EPISODE)).unwrap_or(0);
    let mut open = tx.prepare_cached(
        "SELECT id, specimen_id, confirmed_at FROM cases
         WHERE person_id = ?1 AND confirmed_at > ?2 AND status <> 'discarded'",
    )?;
    for person in state.case_people(results) {
        let cases = open.query_map(params![person.0.to_string(), since], |r| {
            Ok((uuid_col(r, 0)?, optional_uuid(r, 1)?, r.get::<_, i64>(2)?))
        })?;
        for row in cases {
            let (id, specimen, at) = row?;
            state.open_cases.entry(person).or_default().push(OpenCase {
                id: CaseId(id?),
                specimen: specimen?.map(SpecimenId),
                confirmed_at: from_micros(at),
            });
        }
    }
    Ok((state, rowids))
}

/// Whether a plan was written whole, or not at all because a row it changes no longer
/// holds what the plan started from.
#[derive(Debug, PartialEq)]
enum Written {
    Whole,
    Stale,
}

/// Writes a plan back, provided every row it changes still holds what the plan started
/// from; when one does not, it returns `Stale` having written part of the plan, which the
/// caller rolls back.
fn apply_result_plan(tx: &Connection, state: &ResultState, rowids: &Rowids, plan: &ResultPlan) -> Result<Written> {
    // A case the plan confirms must not have been confirmed by a write since.
    let mut confirmed = tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM cases WHERE person_id = ?1 AND confirmed_at > ?2 AND status <> 'discarded')",
    )?;
    for case in &plan.new_cases {
        let since = micros(case.confirmed_at - EPISODE);
        if confirmed.query_row(params![case.person.0.to_string(), since], |r| r.get::<_, bool>(0))? {
            return Ok(Written::Stale);
        }
    }
    let mut update = tx.prepare_cached(
        "UPDATE specimens SET status = ?2, conclusion = ?3, ct = ?4, resulted_at = ?5
         WHERE rowid = ?1 AND status = ?6 AND conclusion IS ?7 AND ct IS ?8 AND resulted_at IS ?9",
    )?;
    // In the table's order, so neighbouring rows share the pages the updates dirty.
    let mut changed: Vec<(i64, &SpecimenId, &Before)> =
        plan.specimens.iter().filter_map(|(id, before)| Some((*rowids.get(id)?, id, before))).collect();
    changed.sort_unstable_by_key(|(rowid, _, _)| *rowid);
    for (rowid, id, before) in changed {
        if let Some(s) = state.specimens.get(id) {
            let written = update.execute(params![
                rowid,
                s.status.as_str(),
                s.conclusion.map(Conclusion::as_str),
                s.ct,
                s.resulted_at.map(micros),
                before.status.as_str(),
                before.result,
                before.ct,
                before.resulted_at.map(micros)
            ])?;
            if written == 0 {
                return Ok(Written::Stale);
            }
        }
    }
    let mut update = tx.prepare_cached(
        "UPDATE pools SET status = ?2, outcome = ?3, ct = ?4, resulted_at = ?5
         WHERE id = ?1 AND status = ?6 AND outcome IS ?7 AND ct IS ?8 AND resulted_at IS ?9 AND members = ?10",
    )?;
    for (id, before) in &plan.pools {
        if let Some(p) = state.pools.get(id) {
            let written = update.execute(params![
                id.to_string(),
                p.status.as_str(),
                p.outcome.map(|o| o.as_str()),
                p.ct,
                p.resulted_at.map(micros),
                before.status.as_str(),
                before.result,
                before.ct,
                before.resulted_at.map(micros),
                p.swabs
            ])?;
            if written == 0 {
                return Ok(Written::Stale);
            }
        }
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO results (tube_id, barcode, outcome, ct, resulted_at, recorded_at, recorded_by, correction)
         VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for h in &plan.history {
        insert.execute(params![
            h.barcode,
            h.outcome.as_str(),
            h.ct,
            micros(h.resulted_at),
            micros(h.recorded_at),
            h.recorded_by,
            h.correction,
            h.tube.to_string()
        ])?;
    }
    for case in &plan.new_cases {
        insert_case(tx, case)?;
    }
    let mut discard = tx.prepare_cached("UPDATE cases SET status = 'discarded', updated_at = ?2 WHERE id = ?1")?;
    for id in &plan.discarded_cases {
        discard.execute(params![id.to_string(), micros(outbreak_domain::now())])?;
    }
    insert_events(tx, &plan.events)?;
    apply_totals(tx, &plan.totals, &plan.turnaround)?;
    Ok(Written::Whole)
}

/// A chunk of results, with the plan a reader made for it from the snapshot it saw.
struct Chunk {
    results: Vec<RecordResult>,
    planned: Option<Planned>,
}

struct Planned {
    state: ResultState,
    rowids: Rowids,
    plan: ResultPlan,
}

/// Loads and plans a chunk as `c` sees the store.
fn plan_chunk(c: &Connection, results: &[RecordResult], scope: &[String]) -> Result<Planned> {
    let (mut state, rowids) = load_result_state(c, results)?;
    let plan = plan_results(&mut state, results, scope, || CaseId(Uuid::now_v7()));
    Ok(Planned { state, rowids, plan })
}

/// Records a chunk in the writer's transaction by the reader's plan, or by its own when the
/// reader made none, and returns the outcomes. When a row the reader's plan changes is no
/// longer as the plan found it (the chunk before or someone else's write changed it
/// since), it returns none, for the transaction to be rolled back and the chunk recorded
/// again without that plan.
fn write_chunk(tx: &Connection, chunk: &mut Chunk, scope: &[String]) -> Result<Option<Vec<ResultOutcome>>> {
    let mut planned = match chunk.planned.take() {
        Some(planned) => planned,
        None => plan_chunk(tx, &chunk.results, scope)?,
    };
    let outcomes = match apply_result_plan(tx, &planned.state, &planned.rowids, &planned.plan)? {
        Written::Whole => Some(std::mem::take(&mut planned.plan.outcomes)),
        Written::Stale => None,
    };
    chunk.planned = Some(planned);
    Ok(outcomes)
}

impl SqliteStore {
    /// Commits a chunk (and `audit` with it) without waiting for the disk, by the reader's
    /// plan or, when that plan met rows changed since, by the writer's own; the outcomes,
    /// the commit's number and the chunk, whose memory is the caller's to free.
    async fn commit_chunk(
        &self,
        mut chunk: Chunk,
        scope: &[String],
        audit: Vec<NewAuditEntry>,
    ) -> Result<(Vec<ResultOutcome>, u64, Chunk)> {
        loop {
            let by_reader = chunk.planned.is_some();
            let (scope, audit) = (scope.to_vec(), audit.clone());
            let written = self
                .commit_if(move |tx| {
                    let mut chunk = chunk;
                    let Some(outcomes) = write_chunk(tx, &mut chunk, &scope)? else { return Ok(Err(chunk)) };
                    for entry in &audit {
                        insert_audit(tx, entry)?;
                    }
                    Ok(Ok((outcomes, chunk)))
                })
                .await?;
            match written {
                Ok(((recorded, chunk), commit, _)) => return Ok((recorded, commit, chunk)),
                Err(stale) if by_reader => {
                    let results = stale.results;
                    ::tracing::debug!(results = results.len(), "results planned again: their tubes changed meanwhile");
                    chunk = Chunk { results, planned: None };
                }
                Err(_) => {
                    return Err(StoreError::Backend("results planned by the writer met rows changed meanwhile".into()));
                }
            }
        }
    }
}

/// The person's pooled specimen still waiting for its individual retest.
fn awaiting_retest(tx: &Connection, person: &str) -> Result<Option<String>> {
    Ok(tx
        .prepare_cached(
            "SELECT s.id FROM specimens s WHERE s.person_id = ?1 AND s.conclusion = 'retest_individually'
             AND NOT EXISTS (SELECT 1 FROM specimens r WHERE r.retest_of = s.id)
             ORDER BY s.collected_at DESC LIMIT 1",
        )?
        .query_row([person], |r| r.get(0))
        .optional()?)
}

fn barcode_taken(e: rusqlite::Error, barcode: &Barcode) -> StoreError {
    match unique_violation(&e) {
        Some(_) => StoreError::Conflict { field: "barcode", existing: Some(barcode.to_string()) },
        None => e.into(),
    }
}

fn take_one(tx: &Connection, new: &NewSpecimen, session: &SamplingSession) -> Result<Specimen> {
    let person = new.person.0.to_string();
    let home: (String, String) = tx
        .prepare_cached("SELECT address_path, address_unit FROM people WHERE id = ?1")?
        .query_row([&person], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(StoreError::NotFound("person"))?;
    let session_id = session.id.to_string();
    let twice: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM specimens WHERE session_id = ?1 AND person_id = ?2)")?
        .query_row([&session_id, &person], |r| r.get(0))?;
    if twice {
        return Err(StoreError::Refused {
            field: "person",
            code: "already_sampled",
            message: "this person was already sampled in this session".into(),
        });
    }
    let retest_of = awaiting_retest(tx, &person)?;
    // A retest is always an individual tube: the point is to find whose swab was positive.
    let pool = match (session.pool_size, &retest_of) {
        (Some(size), None) => {
            let open: Option<(String, String)> = tx
                .prepare_cached(
                    "SELECT id, barcode FROM pools WHERE session_id = ?1 AND closed = 0 AND members < size_limit
                     AND status = 'collected' ORDER BY created_at DESC LIMIT 1",
                )?
                .query_row([&session_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (id, barcode) = match (open, &new.new_pool) {
                (Some(open), _) => open,
                (None, Some((id, barcode))) => {
                    tx.prepare_cached(
                        "INSERT INTO pools (id, barcode, session_id, size_limit, members, closed, status, created_at)
                         VALUES (?1, ?2, ?3, ?4, 0, 0, 'collected', ?5)",
                    )?
                    .execute(params![id.to_string(), barcode.as_str(), session_id, size, micros(new.collected_at)])
                    .map_err(|e| barcode_taken(e, barcode))?;
                    (id.to_string(), barcode.to_string())
                }
                (None, None) => {
                    return Err(StoreError::Backend("a pooled session needs a label for a new pool".into()));
                }
            };
            tx.prepare_cached(
                "UPDATE pools SET members = members + 1, closed = (members + 1 >= size_limit) WHERE id = ?1",
            )?
            .execute([&id])?;
            Some((id, barcode))
        }
        _ => None,
    };
    tx.prepare_cached(
        "INSERT INTO specimens (id, barcode, session_id, person_id, test_type, site_path, home_path, collected_at,
           pool_id, status, retest_of) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'collected', ?10)",
    )?
    .execute(params![
        new.id.to_string(),
        new.barcode.as_str(),
        session_id,
        person,
        session.test_type.as_str(),
        session.unit_path,
        home.0,
        micros(new.collected_at),
        pool.as_ref().map(|p| &p.0),
        retest_of
    ])
    .map_err(|e| barcode_taken(e, &new.barcode))?;
    let mut totals = HashMap::new();
    for path in rollup_paths(&home.0) {
        totals.insert(
            (path.to_owned(), local_date(new.collected_at), session.test_type),
            Totals { collected: 1, ..Totals::default() },
        );
    }
    apply_totals(tx, &totals, &HashMap::new())?;
    specimen_by_barcode(tx, new.barcode.as_str())?.ok_or(StoreError::NotFound("specimen"))?.decode()
}

fn insert_session(tx: &Connection, s: &SamplingSession) -> Result<()> {
    let path = unit_path(tx, &s.unit, "unit")?;
    tx.prepare_cached(&format!(
        "INSERT INTO sampling_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        s.id.to_string(),
        s.site,
        s.unit.as_str(),
        path,
        s.date.to_string(),
        s.team,
        s.test_type.as_str(),
        s.pool_size,
        s.created_by,
        micros(s.created_at),
        s.closed_at.map(micros)
    ])?;
    Ok(())
}

fn session_in(c: &Connection, id: SessionId) -> Result<Option<SamplingSession>> {
    c.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sampling_sessions WHERE id = ?1"))?
        .query_row([id.to_string()], session_row)
        .optional()?
        .transpose()
}

/// Counts a rejected tube's specimens in the totals.
fn count_rejected(tx: &Connection, specimens: &[SpecimenColumns]) -> Result<()> {
    let mut totals: HashMap<(String, Date, TestType), Totals> = HashMap::new();
    for s in specimens {
        let test_type = word(TestType::parse, &s.test_type)?;
        for path in rollup_paths(&s.home_path) {
            totals.entry((path.to_owned(), local_date(s.collected_at), test_type)).or_default().count(None, true, 1);
        }
    }
    apply_totals(tx, &totals, &HashMap::new())
}

#[async_trait]
impl TestingStore for SqliteStore {
    async fn insert_sampling_session(&self, session: &SamplingSession) -> Result<()> {
        let s = session.clone();
        self.write(move |tx| insert_session(tx, &s)).await
    }

    async fn sampling_session(&self, id: SessionId) -> Result<Option<SamplingSession>> {
        self.read(move |c| session_in(c, id)).await
    }

    async fn sampling_sessions(&self, scope: &[String], limit: u32) -> Result<Vec<SamplingSession>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sampling_sessions WHERE (");
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "unit_path", &scope);
            sql.push_str(&format!(") ORDER BY day DESC, created_at DESC LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            collect(stmt.query_map(params_from_iter(values), session_row)?)
        })
        .await
    }

    async fn close_sampling_session(&self, id: SessionId, at: OffsetDateTime) -> Result<()> {
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE sampling_sessions SET closed_at = COALESCE(closed_at, ?2) WHERE id = ?1",
                params![id.to_string(), micros(at)],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound("session"));
            }
            tx.execute("UPDATE pools SET closed = 1 WHERE session_id = ?1", [id.to_string()])?;
            Ok(())
        })
        .await
    }

    async fn take_specimens(&self, specimens: Vec<NewSpecimen>, audit: Vec<NewAuditEntry>) -> Result<Vec<Specimen>> {
        self.write(move |tx| {
            let mut sessions: HashMap<SessionId, SamplingSession> = HashMap::new();
            let mut taken = Vec::with_capacity(specimens.len());
            for new in &specimens {
                let session = match sessions.entry(new.session) {
                    Entry::Occupied(known) => known.into_mut(),
                    Entry::Vacant(slot) => {
                        slot.insert(session_in(tx, new.session)?.ok_or(StoreError::NotFound("session"))?)
                    }
                };
                if session.closed_at.is_some() {
                    return Err(StoreError::Refused {
                        field: "session",
                        code: "session_closed",
                        message: "this sampling session is closed: open a new one".into(),
                    });
                }
                taken.push(take_one(tx, new, session)?);
            }
            for entry in &audit {
                insert_audit(tx, entry)?;
            }
            Ok(taken)
        })
        .await
    }

    async fn close_pool(&self, id: PoolId) -> Result<()> {
        self.write(move |tx| {
            if tx.execute("UPDATE pools SET closed = 1 WHERE id = ?1", [id.to_string()])? == 0 {
                return Err(StoreError::NotFound("pool"));
            }
            Ok(())
        })
        .await
    }

    async fn tube(&self, barcode: &Barcode) -> Result<Option<Tube>> {
        let barcode = barcode.to_string();
        self.read(move |c| {
            if let Some(s) = specimen_by_barcode(c, &barcode)? {
                return Ok(Some(Tube::Specimen(s.decode()?)));
            }
            match pool_by_barcode(c, &barcode)? {
                Some(p) => Ok(Some(Tube::Pool(p.decode()?.0))),
                None => Ok(None),
            }
        })
        .await
    }

    async fn pool_members(&self, pool: PoolId) -> Result<Vec<Specimen>> {
        self.read(move |c| members_of(c, pool)?.into_iter().map(SpecimenColumns::decode).collect()).await
    }

    async fn session_specimens(&self, session: SessionId) -> Result<Vec<Specimen>> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("{SPECIMEN_SELECT} WHERE s.session_id = ?1 ORDER BY s.collected_at DESC"))?;
            collect(stmt.query_map([session.to_string()], specimen_row)?)
        })
        .await
    }

    async fn session_pools(&self, session: SessionId) -> Result<Vec<Pool>> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("{POOL_SELECT} WHERE p.session_id = ?1 ORDER BY p.created_at DESC"))?;
            let rows = collect(stmt.query_map([session.to_string()], pool_columns)?)?;
            rows.into_iter().map(|p| Ok(p.decode()?.0)).collect()
        })
        .await
    }

    async fn person_specimens(&self, person: PersonId) -> Result<Vec<Specimen>> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("{SPECIMEN_SELECT} WHERE s.person_id = ?1 ORDER BY s.collected_at DESC"))?;
            collect(stmt.query_map([person.0.to_string()], specimen_row)?)
        })
        .await
    }

    async fn open_specimens(&self, scope: &[String], limit: u32) -> Result<Vec<Specimen>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!("{SPECIMEN_SELECT} WHERE s.conclusion IS NULL AND s.status <> 'rejected' AND (");
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "s.site_path", &scope);
            sql.push_str(&format!(") ORDER BY s.collected_at LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            collect(stmt.query_map(params_from_iter(values), specimen_row)?)
        })
        .await
    }

    async fn move_tube(&self, barcode: &Barcode, step: TubeStep, at: OffsetDateTime) -> Result<()> {
        let barcode = barcode.clone();
        self.write(move |tx| {
            let (table, id, status, specimens) = if let Some(s) = specimen_by_barcode(tx, barcode.as_str())? {
                if let Some(pool) = &s.pool_barcode {
                    return Err(StoreError::Refused {
                        field: "barcode",
                        code: "pooled_specimen",
                        message: format!("{barcode} was swabbed into pool {pool}: handle the pool's tube"),
                    });
                }
                ("specimens", s.id, s.status.clone(), vec![s])
            } else if let Some(p) = pool_by_barcode(tx, barcode.as_str())? {
                let members = members_of(tx, PoolId(p.id))?;
                ("pools", p.id, p.status, members)
            } else {
                return Err(StoreError::NotFound("barcode"));
            };
            let next = next_status(&barcode, &status, &step)?;
            let reason = match &step {
                TubeStep::Reject { reason } => Some(reason.clone()),
                _ => None,
            };
            tx.execute(
                &format!(
                    "UPDATE {table} SET status = ?2, reject_reason = COALESCE(?3, reject_reason){} WHERE id = ?1",
                    if table == "pools" { ", closed = 1" } else { "" }
                ),
                params![id.to_string(), next.as_str(), reason],
            )?;
            // The swabs in a pool travel in its tube.
            let mut member = tx.prepare_cached(
                "UPDATE specimens SET status = ?2, reject_reason = COALESCE(?3, reject_reason) WHERE id = ?1",
            )?;
            for s in &specimens {
                member.execute(params![s.id.to_string(), next.as_str(), reason])?;
            }
            if next == SpecimenStatus::Rejected {
                count_rejected(tx, &specimens)?;
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
                insert_events(tx, &events)?;
            }
            Ok(())
        })
        .await
    }

    /// A chunk's work is loading its tubes and planning (about half) and writing the plan
    /// (the other half), and only the writing needs the writer: while the writer records
    /// one chunk, a reader loads and plans the next.
    ///
    /// A plan from an older snapshot (the planner keeps the one it started the upload
    /// with) is written only over rows that still hold what it found (see
    /// `apply_result_plan`). What it refuses without writing (a rejected tube, a
    /// result that is already there) stays true of the rows since, as if the chunk had come
    /// before the writes in between, except where a correction changed a result: results
    /// that carry corrections are planned by the writer.
    async fn record_results(
        &self,
        results: Vec<RecordResult>,
        scope: Vec<String>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<ResultOutcome>> {
        let on_snapshots = results.iter().all(|r| r.correction.is_none());
        let size = self.results_per_transaction;
        let mut chunks = Vec::with_capacity(results.len().div_ceil(size));
        let mut rest = results.into_iter();
        loop {
            let chunk: Vec<RecordResult> = rest.by_ref().take(size).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk);
        }
        let (sender, mut chunks_planned) = tokio::sync::mpsc::channel::<Result<Chunk>>(1);
        // Written chunks come back to the reader, which allocated their maps, to be freed:
        // mimalloc frees another thread's memory by a slower path, and freeing a chunk on
        // the writer took a tenth of its time.
        let (written_back, written) = std::sync::mpsc::channel::<Chunk>();
        // An upload of several transactions maps the database for its planner (see
        // `read_mapped`); a few results typed in on a page use a pooled reader rather than
        // open a connection.
        let mapped = chunks.len() > 1;
        let planner = {
            let scope = scope.clone();
            let plan = move |c: &Connection| {
                // One snapshot for the whole upload. A reader's page cache (or memory map)
                // is emptied whenever it starts a snapshot after someone else's commit, so
                // a snapshot per chunk read every page afresh after each chunk the writer
                // committed, and planning took about twice as long. The writer checks every
                // row a plan changes anyway. While the snapshot is held, the checkpointer
                // cannot copy the upload's pages back into the database file; it does once
                // the last chunk is planned, rather than beside the writer
                // (`docs/benchmarks.md`, issue 4).
                let snapshot = c.unchecked_transaction()?;
                for results in chunks {
                    written.try_iter().for_each(drop);
                    let started = std::time::Instant::now();
                    let chunk = if on_snapshots {
                        plan_chunk(&snapshot, &results, &scope).map(|planned| Chunk { results, planned: Some(planned) })
                    } else {
                        Ok(Chunk { results, planned: None })
                    };
                    ::tracing::debug!(ms = started.elapsed().as_millis() as u64, "planned a chunk of results");
                    let failed = chunk.is_err();
                    if sender.blocking_send(chunk).is_err() || failed {
                        break;
                    }
                }
                snapshot.finish()?;
                // The writer stops once the last chunk is sent; then it drops its end of
                // `written` when done.
                drop(sender);
                written.iter().for_each(drop);
                Ok(())
            };
            async move { if mapped { self.read_mapped(plan).await } else { self.read(plan).await } }
        };
        // Moved in, so that a failed write drops the receiver and the reader stops.
        let writer = async move {
            let mut outcomes = Vec::new();
            let mut audit = Some(audit);
            // Each chunk is committed without waiting for the disk; the answer waits once,
            // for the last (group commit flushes the ones before it with it).
            let mut last_commit = 0;
            while let Some(chunk) = chunks_planned.recv().await {
                let chunk = chunk?;
                let (size, started) = (chunk.results.len(), std::time::Instant::now());
                let (recorded, commit, chunk) =
                    self.commit_chunk(chunk, &scope, audit.take().unwrap_or_default()).await?;
                // Freed here if the reader has stopped.
                let _ = written_back.send(chunk);
                last_commit = commit;
                outcomes.extend(recorded);
                ::tracing::debug!(
                    results = size,
                    ms = started.elapsed().as_millis() as u64,
                    "recorded a chunk of results"
                );
            }
            self.inner.durability.on_disk(last_commit).await?;
            Ok::<_, StoreError>(outcomes)
        };
        let (planner, outcomes) = tokio::join!(planner, writer);
        let outcomes = outcomes?;
        planner?;
        Ok(outcomes)
    }

    async fn result_history(&self, barcode: &Barcode) -> Result<Vec<ResultEntry>> {
        let barcode = barcode.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT outcome, ct, resulted_at, recorded_at, recorded_by, correction FROM results
                 WHERE tube_id IN (SELECT id FROM specimens WHERE barcode = ?1 UNION ALL
                                   SELECT id FROM pools WHERE barcode = ?1)
                 ORDER BY id",
            )?;
            let rows = stmt.query_map([barcode], |r| {
                let outcome: String = r.get(0)?;
                Ok((outcome, r.get(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get(4)?, r.get(5)?))
            })?;
            rows.map(|row| {
                let (outcome, ct, resulted, recorded, recorded_by, correction) = row?;
                Ok(ResultEntry {
                    outcome: word(outbreak_domain::testing::Outcome::parse, &outcome)?,
                    ct,
                    resulted_at: from_micros(resulted),
                    recorded_at: from_micros(recorded),
                    recorded_by,
                    correction,
                })
            })
            .collect()
        })
        .await
    }

    async fn import_tests(&self, import: TestImport) -> Result<()> {
        self.write(move |tx| {
            for s in &import.sessions {
                insert_session(tx, s)?;
            }
            let mut pool = tx.prepare_cached(
                "INSERT INTO pools (id, barcode, session_id, size_limit, members, closed, status, outcome, ct,
                   resulted_at, reject_reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for p in &import.pools {
                pool.execute(params![
                    p.id.to_string(),
                    p.barcode.as_str(),
                    p.session.to_string(),
                    p.size_limit,
                    p.members,
                    p.closed,
                    p.status.as_str(),
                    p.outcome.map(|o| o.as_str()),
                    p.ct,
                    p.resulted_at.map(micros),
                    p.reject_reason,
                    micros(outbreak_domain::now())
                ])
                .map_err(|e| barcode_taken(e, &p.barcode))?;
            }
            let mut specimen = tx.prepare_cached(
                "INSERT INTO specimens (id, barcode, session_id, person_id, test_type, site_path, home_path,
                   collected_at, pool_id, status, conclusion, ct, resulted_at, reject_reason, retest_of)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?;
            for s in &import.specimens {
                specimen
                    .execute(params![
                        s.id.to_string(),
                        s.barcode.as_str(),
                        s.session.to_string(),
                        s.person.0.to_string(),
                        s.test_type.as_str(),
                        s.site_path,
                        s.home_path,
                        micros(s.collected_at),
                        s.pool.as_ref().map(|p| p.id.to_string()),
                        s.status.as_str(),
                        s.conclusion.map(Conclusion::as_str),
                        s.ct,
                        s.resulted_at.map(micros),
                        s.reject_reason,
                        s.retest_of.map(|r| r.to_string())
                    ])
                    .map_err(|e| barcode_taken(e, &s.barcode))?;
            }
            let (totals, turnaround) = import.totals();
            apply_totals(tx, &totals, &turnaround)
        })
        .await
    }

    async fn insert_case(&self, case: &Case) -> Result<()> {
        let case = case.clone();
        self.write(move |tx| {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM people WHERE id = ?1)")?
                .query_row([case.person.0.to_string()], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound("person"));
            }
            insert_case(tx, &case)?;
            insert_events(
                tx,
                &[NewEvent {
                    kind: "case.confirmed",
                    subject: case.id.to_string(),
                    unit_path: case.unit_path.clone(),
                    payload: payload(&serde_json::json!({ "person": case.person, "source": case.source })),
                    at: case.confirmed_at,
                }],
            )
        })
        .await
    }

    async fn case(&self, id: CaseId) -> Result<Option<CaseRow>> {
        self.read(move |c| {
            c.prepare_cached(&format!("{CASE_SELECT} WHERE c.id = ?1"))?
                .query_row([id.to_string()], case_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRow>> {
        let filter = filter.clone();
        self.read(move |c| {
            let mut sql = format!("{CASE_SELECT} WHERE (");
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "c.unit_path", &filter.scope);
            sql.push(')');
            if let Some(since) = filter.since {
                values.push(micros(since).to_string());
                sql.push_str(&format!(" AND c.confirmed_at >= CAST(?{} AS INTEGER)", values.len()));
            }
            if let Some(person) = filter.person {
                values.push(person.0.to_string());
                sql.push_str(&format!(" AND c.person_id = ?{}", values.len()));
            }
            sql.push_str(&format!(" ORDER BY c.confirmed_at DESC LIMIT {}", filter.limit));
            let mut stmt = c.prepare(&sql)?;
            collect(stmt.query_map(params_from_iter(values), case_row)?)
        })
        .await
    }

    async fn set_case_status(&self, id: CaseId, status: CaseStatus, note: &str, at: OffsetDateTime) -> Result<()> {
        let note = note.to_owned();
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE cases SET status = ?2, note = ?3, updated_at = ?4 WHERE id = ?1",
                params![id.to_string(), status.as_str(), note, micros(at)],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound("case"));
            }
            Ok(())
        })
        .await
    }

    async fn testing_totals(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<DailyTotals>> {
        let unit_path = unit_path.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT day, test_type, collected, positive, negative, invalid, retest, rejected FROM testing_totals
                 WHERE unit_path = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day, test_type",
            )?;
            let rows = stmt.query_map(params![unit_path, from.to_string(), to.to_string()], |r| {
                let (d, t): (String, String) = (r.get(0)?, r.get(1)?);
                let totals = Totals {
                    collected: r.get(2)?,
                    positive: r.get(3)?,
                    negative: r.get(4)?,
                    invalid: r.get(5)?,
                    retest: r.get(6)?,
                    rejected: r.get(7)?,
                };
                Ok((d, t, totals))
            })?;
            rows.map(|row| {
                let (d, t, totals) = row?;
                Ok(DailyTotals { day: day(&d)?, test_type: word(TestType::parse, &t)?, totals })
            })
            .collect()
        })
        .await
    }

    /// A dashboard asks for the units below one unit, all of one depth. Each day, their rows
    /// are read as one range of that day's rows at that depth, from the least path asked for
    /// to the greatest, skipping units not asked for; a list of several depths takes a
    /// range for each.
    async fn testing_totals_of(&self, unit_paths: &[String], from: Date, to: Date) -> Result<Vec<(String, Totals)>> {
        let unit_paths = unit_paths.to_vec();
        self.read(move |c| {
            let mut sums: HashMap<&str, Totals> = unit_paths.iter().map(|p| (p.as_str(), Totals::default())).collect();
            let mut by_depth: HashMap<i64, (&str, &str)> = HashMap::new();
            for path in &unit_paths {
                let range = by_depth.entry(depth(path)).or_insert((path, path));
                range.0 = range.0.min(path);
                range.1 = range.1.max(path);
            }
            let mut stmt = c.prepare_cached(
                "SELECT collected, positive, negative, invalid, retest, rejected, unit_path FROM testing_totals
                 WHERE day = ?1 AND depth = ?2 AND unit_path >= ?3 AND unit_path <= ?4",
            )?;
            let mut day = from;
            while day <= to {
                for (depth, (least, greatest)) in &by_depth {
                    let mut rows = stmt.query(params![day.to_string(), depth, least, greatest])?;
                    while let Some(r) = rows.next()? {
                        let path = r.get_ref(6)?.as_str().map_err(rusqlite::Error::from)?;
                        if let Some(sum) = sums.get_mut(path) {
                            sum.add(&totals_row(r)?);
                        }
                    }
                }
                let Some(next) = day.next_day() else { break };
                day = next;
            }
            Ok(unit_paths.iter().map(|p| (p.clone(), sums.get(p.as_str()).copied().unwrap_or_default())).collect())
        })
        .await
    }

    async fn testing_totals_all(&self, unit_path: &str) -> Result<Totals> {
        let unit_path = unit_path.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT COALESCE(SUM(collected), 0), COALESCE(SUM(positive), 0), COALESCE(SUM(negative), 0),
                   COALESCE(SUM(invalid), 0), COALESCE(SUM(retest), 0), COALESCE(SUM(rejected), 0)
                 FROM testing_totals WHERE unit_path = ?1",
            )?
            .query_row([unit_path], totals_row)?)
        })
        .await
    }

    async fn turnaround(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<(i64, i64)>> {
        let unit_path = unit_path.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT hours, SUM(specimens) FROM testing_turnaround
                 WHERE unit_path = ?1 AND day >= ?2 AND day <= ?3 GROUP BY hours ORDER BY hours",
            )?;
            let rows =
                stmt.query_map(params![unit_path, from.to_string(), to.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn events_after(&self, seq: i64, kinds: &[&str], limit: u32) -> Result<Vec<Event>> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        self.read(move |c| {
            let mut sql = "SELECT seq, kind, subject, unit_path, payload, at FROM events WHERE seq > ?1".to_owned();
            let mut values = vec![seq.to_string()];
            if !kinds.is_empty() {
                let marks: Vec<String> = (0..kinds.len()).map(|i| format!("?{}", i + 2)).collect();
                sql.push_str(&format!(" AND kind IN ({})", marks.join(", ")));
                values.extend(kinds);
            }
            sql.push_str(&format!(" ORDER BY seq LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), |r| {
                Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?, r.get::<_, i64>(5)?))
            })?;
            rows.map(|row| {
                let (seq, kind, subject, unit_path, payload, at) = row?;
                Ok(Event {
                    seq,
                    kind,
                    subject,
                    unit_path,
                    payload: serde_json::from_str(&payload).map_err(|e| StoreError::Backend(e.to_string()))?,
                    at: from_micros(at),
                })
            })
            .collect()
        })
        .await
    }

    async fn event_cursor(&self, consumer: &str) -> Result<i64> {
        let consumer = consumer.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached("SELECT seq FROM event_cursors WHERE consumer = ?1")?
                .query_row([consumer], |r| r.get(0))
                .optional()?
                .unwrap_or(0))
        })
        .await
    }

    async fn set_event_cursor(&self, consumer: &str, seq: i64) -> Result<()> {
        let consumer = consumer.to_owned();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO event_cursors (consumer, seq) VALUES (?1, ?2)
                 ON CONFLICT (consumer) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                params![consumer, seq],
            )?;
            Ok(())
        })
        .await
    }

    async fn lease_consumer(
        &self,
        consumer: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool> {
        let (consumer, holder) = (consumer.to_owned(), holder.to_owned());
        self.write(move |tx| {
            let taken = tx
                .prepare_cached(
                    "INSERT INTO consumer_leases (consumer, holder, expires_at) VALUES (?1, ?2, ?4)
                 ON CONFLICT (consumer) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE consumer_leases.holder = excluded.holder OR consumer_leases.expires_at <= ?3",
                )?
                .execute(params![consumer, holder, micros(now), micros(until)])?;
            Ok(taken > 0)
        })
        .await
    }
}

/// The status a step leads to from `status`, or why it cannot be taken.
fn next_status(barcode: &Barcode, status: &str, step: &TubeStep) -> Result<SpecimenStatus> {
    let status = word(SpecimenStatus::parse, status)?;
    crate::testing::next_status(barcode, status, step)
}
