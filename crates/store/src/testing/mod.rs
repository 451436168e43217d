//! The testing part of the contract: sessions, specimens, pools, results, cases, running
//! totals and the outbox of events, with the records they read and write.
//!
//! Workflow rules that need the stored state (a tube resulted once, a pool's members
//! following its result, one case per episode, totals moving with every change) live in
//! the stores' transactions, so that concurrent writers and a crash never leave half of
//! them behind. Both stores implement them alike; the conformance suite holds them to it.

use std::collections::HashMap;

use async_trait::async_trait;
use outbreak_domain::testing::{
    Barcode, CaseId, CaseStatus, Conclusion, Outcome, PoolId, SessionId, SpecimenId, SpecimenStatus, TestType,
    ValidResult,
};
use outbreak_domain::{PersonId, UnitCode};
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::{NewAuditEntry, Result};

pub(crate) mod columns;
pub(crate) mod plan;

/// A sampling session: one team at one site on one day.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SamplingSession {
    pub id: SessionId,
    pub site: String,
    pub unit: UnitCode,
    pub unit_path: String,
    #[schema(value_type = String)]
    pub date: Date,
    pub team: String,
    pub test_type: TestType,
    /// Swabs per pooled tube; none when every specimen has its own tube.
    pub pool_size: Option<i64>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<OffsetDateTime>,
}

/// A specimen to take. `new_pool` is the pool to open when the session pools and no open
/// pool has room (the caller makes the label; the store decides whether it is needed).
#[derive(Debug, Clone)]
pub struct NewSpecimen {
    pub id: SpecimenId,
    pub barcode: Barcode,
    pub session: SessionId,
    pub person: PersonId,
    pub collected_at: OffsetDateTime,
    pub new_pool: Option<(PoolId, Barcode)>,
}

/// The pool a specimen was swabbed into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PoolRef {
    pub id: PoolId,
    pub barcode: Barcode,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Specimen {
    pub id: SpecimenId,
    pub barcode: Barcode,
    pub session: SessionId,
    pub person: PersonId,
    pub test_type: TestType,
    pub site_path: String,
    pub home_path: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub collected_at: OffsetDateTime,
    pub pool: Option<PoolRef>,
    pub status: SpecimenStatus,
    /// What the specimen ended as for the person; none while pending.
    pub conclusion: Option<Conclusion>,
    pub ct: Option<f64>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resulted_at: Option<OffsetDateTime>,
    pub reject_reason: Option<String>,
    /// The pooled specimen this one retests.
    pub retest_of: Option<SpecimenId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Pool {
    pub id: PoolId,
    pub barcode: Barcode,
    pub session: SessionId,
    pub size_limit: i64,
    pub members: i64,
    /// A closed pool takes no more swabs.
    pub closed: bool,
    pub status: SpecimenStatus,
    pub outcome: Option<Outcome>,
    pub ct: Option<f64>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resulted_at: Option<OffsetDateTime>,
    pub reject_reason: Option<String>,
    pub site_path: String,
}

/// A tube found by its label: a person's specimen or a pool.
#[derive(Debug, Clone, PartialEq)]
pub enum Tube {
    Specimen(Specimen),
    Pool(Pool),
}

impl Tube {
    /// Where the tube was taken, which decides who may handle it.
    pub fn site_path(&self) -> &str {
        match self {
            Tube::Specimen(s) => &s.site_path,
            Tube::Pool(p) => &p.site_path,
        }
    }
}

/// A result to record, or a correction of one.
#[derive(Debug, Clone)]
pub struct RecordResult {
    pub result: ValidResult,
    pub recorded_by: String,
    pub recorded_at: OffsetDateTime,
    /// The reason, when this corrects a result already recorded.
    pub correction: Option<String>,
}

/// What became of one result.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ResultOutcome {
    /// Stored; the people it concludes for, and the cases it confirmed.
    Recorded { people: Vec<PersonId>, cases: Vec<CaseId> },
    /// The same result was recorded before (a file uploaded twice): nothing changed.
    Unchanged,
    /// Not stored, and why.
    Refused { code: String, message: String },
}

impl ResultOutcome {
    pub fn refused(code: &str, message: impl Into<String>) -> ResultOutcome {
        ResultOutcome::Refused { code: code.into(), message: message.into() }
    }
}

/// The one entry of a result's history.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResultEntry {
    pub outcome: Outcome,
    pub ct: Option<f64>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub resulted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
    pub recorded_by: String,
    pub correction: Option<String>,
}

/// A lab's step with a tube before its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TubeStep {
    Ship,
    Receive,
    Reject { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Case {
    pub id: CaseId,
    pub person: PersonId,
    pub unit: UnitCode,
    pub unit_path: String,
    /// `test` (a positive result) or `staff` (entered with its source in the note).
    pub source: String,
    pub specimen: Option<SpecimenId>,
    #[schema(value_type = Option<String>)]
    pub sample_date: Option<Date>,
    #[schema(value_type = Option<String>)]
    pub onset_date: Option<Date>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub confirmed_at: OffsetDateTime,
    pub status: CaseStatus,
    pub note: String,
}

/// A case with the person's name and phone, for lists.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CaseRow {
    #[serde(flatten)]
    pub case: Case,
    pub full_name: String,
    pub phone: Option<String>,
}

/// The running totals of one unit, day of collection and test type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct Totals {
    pub collected: i64,
    pub positive: i64,
    pub negative: i64,
    pub invalid: i64,
    /// Pooled specimens sent back for an individual retest.
    pub retest: i64,
    pub rejected: i64,
}

impl Totals {
    /// Specimens with no conclusion yet.
    pub fn pending(&self) -> i64 {
        self.collected - self.positive - self.negative - self.invalid - self.retest - self.rejected
    }

    pub fn add(&mut self, other: &Totals) {
        self.collected += other.collected;
        self.positive += other.positive;
        self.negative += other.negative;
        self.invalid += other.invalid;
        self.retest += other.retest;
        self.rejected += other.rejected;
    }

    /// Counts one conclusion in or out (`sign` ±1).
    pub fn count(&mut self, conclusion: Option<Conclusion>, rejected: bool, sign: i64) {
        match (rejected, conclusion) {
            (true, _) => self.rejected += sign,
            (false, Some(Conclusion::Positive)) => self.positive += sign,
            (false, Some(Conclusion::Negative)) => self.negative += sign,
            (false, Some(Conclusion::Invalid)) => self.invalid += sign,
            (false, Some(Conclusion::RetestIndividually)) => self.retest += sign,
            (false, None) => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct DailyTotals {
    #[schema(value_type = String)]
    pub day: Date,
    pub test_type: TestType,
    #[serde(flatten)]
    pub totals: Totals,
}

/// An event in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Event {
    pub seq: i64,
    /// `result.recorded`, `result.corrected`, `case.confirmed`, …
    pub kind: String,
    pub subject: String,
    pub unit_path: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// Changes to running totals by (unit path, day of collection, test type).
pub(crate) type TotalsDelta = HashMap<(String, Date, TestType), Totals>;
/// Changes to the turnaround histogram by (unit path, day of result, hours).
pub(crate) type TurnaroundDelta = HashMap<(String, Date, i64), i64>;

/// Tests brought in as they are, with their conclusions: from another system's records,
/// or generated for demos and benchmarks. The rows must agree with each other (specimens
/// name their sessions, pools and people); no events are raised for them.
#[derive(Debug, Clone, Default)]
pub struct TestImport {
    pub sessions: Vec<SamplingSession>,
    pub pools: Vec<Pool>,
    pub specimens: Vec<Specimen>,
}

impl TestImport {
    /// What the imported specimens add to the running totals and the turnaround histogram.
    pub(crate) fn totals(&self) -> (TotalsDelta, TurnaroundDelta) {
        let (mut totals, mut turnaround) = (HashMap::new(), HashMap::new());
        for s in &self.specimens {
            let day = outbreak_domain::local_date(s.collected_at);
            for path in rollup_paths(&s.home_path) {
                let t: &mut Totals = totals.entry((path.to_owned(), day, s.test_type)).or_default();
                t.collected += 1;
                t.count(s.conclusion, s.status == SpecimenStatus::Rejected, 1);
                if let (Some(_), Some(at)) = (s.conclusion, s.resulted_at) {
                    let hours = outbreak_domain::testing::turnaround_bucket(s.collected_at, at);
                    *turnaround.entry((path.to_owned(), outbreak_domain::local_date(at), hours)).or_default() += 1;
                }
            }
        }
        (totals, turnaround)
    }
}

/// Filters the case list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Unit paths the cases must lie under; empty finds nothing.
    pub scope: Vec<String>,
    pub since: Option<OffsetDateTime>,
    pub person: Option<PersonId>,
    pub limit: u32,
}

#[async_trait]
pub trait TestingStore {
    /// Adds a session; `NotFound("unit")` for an unknown unit.
    async fn insert_sampling_session(&self, session: &SamplingSession) -> Result<()>;
    async fn sampling_session(&self, id: SessionId) -> Result<Option<SamplingSession>>;
    /// Sessions whose unit lies in `scope`, newest first.
    async fn sampling_sessions(&self, scope: &[String], limit: u32) -> Result<Vec<SamplingSession>>;
    async fn close_sampling_session(&self, id: SessionId, at: OffsetDateTime) -> Result<()>;

    /// Takes specimens in one transaction, in order: each joins the open pool of its session
    /// with room (opening `new_pool` when there is none), becomes the retest of the
    /// person's pooled specimen awaiting one, and counts in the totals. `NotFound("session")`
    /// or `NotFound("person")`, `Refused` for a closed session or a person already sampled
    /// in it, `Conflict("barcode")` for a label taken; then nothing is stored.
    async fn take_specimens(&self, specimens: Vec<NewSpecimen>, audit: Vec<NewAuditEntry>) -> Result<Vec<Specimen>>;
    /// Closes a pool to further swabs.
    async fn close_pool(&self, id: PoolId) -> Result<()>;
    async fn tube(&self, barcode: &Barcode) -> Result<Option<Tube>>;
    async fn pool_members(&self, pool: PoolId) -> Result<Vec<Specimen>>;
    async fn session_specimens(&self, session: SessionId) -> Result<Vec<Specimen>>;
    async fn session_pools(&self, session: SessionId) -> Result<Vec<Pool>>;
    /// A person's specimens, newest first.
    async fn person_specimens(&self, person: PersonId) -> Result<Vec<Specimen>>;
    /// Specimens taken in `scope` with no conclusion yet, oldest first.
    async fn open_specimens(&self, scope: &[String], limit: u32) -> Result<Vec<Specimen>>;
    /// Moves a tube on its way to the lab; `Refused` when the step does not follow its
    /// status (a resulted tube is not received again). A rejected pool's swabs are rejected
    /// with it, and each person is told to come again.
    async fn move_tube(&self, barcode: &Barcode, step: TubeStep, at: OffsetDateTime) -> Result<()>;

    /// Records results in order, in transactions of the size this store records best (a
    /// file of a million rows commits in several); each result is refused on its own
    /// (unknown label, a tube taken outside `scope` (unit paths), a tube already resulted
    /// otherwise, a swab inside a pool, …) without stopping the others, and `audit` is
    /// written with the first transaction.
    /// A pool's result concludes for its members; an individual positive confirms a case
    /// once per person per episode; events for notifications and tracing go to the outbox.
    async fn record_results(
        &self,
        results: Vec<RecordResult>,
        scope: Vec<String>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<ResultOutcome>>;
    /// A tube's results and corrections, oldest first.
    async fn result_history(&self, barcode: &Barcode) -> Result<Vec<ResultEntry>>;

    /// Writes imported tests and their totals in one transaction.
    async fn import_tests(&self, import: TestImport) -> Result<()>;

    async fn insert_case(&self, case: &Case) -> Result<()>;
    async fn case(&self, id: CaseId) -> Result<Option<CaseRow>>;
    /// Cases matching the filter, newest first.
    async fn cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRow>>;
    async fn set_case_status(&self, id: CaseId, status: CaseStatus, note: &str, at: OffsetDateTime) -> Result<()>;

    /// Totals of the unit at `unit_path` (a country, province or commune path) per day of
    /// collection and test type, for days in `[from, to]`, by day.
    async fn testing_totals(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<DailyTotals>>;
    /// Totals over days in `[from, to]` of each unit in `unit_paths` (a drill-down table),
    /// in the order given; units with no tests are listed with zeros.
    async fn testing_totals_of(&self, unit_paths: &[String], from: Date, to: Date) -> Result<Vec<(String, Totals)>>;
    /// All-time totals of the unit, for pending counts.
    async fn testing_totals_all(&self, unit_path: &str) -> Result<Totals>;
    /// Turnaround histogram (hours, specimens) of results read on days in `[from, to]`.
    async fn turnaround(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<(i64, i64)>>;

    /// Events after `seq`, oldest first.
    async fn events_after(&self, seq: i64, kinds: &[&str], limit: u32) -> Result<Vec<Event>>;
    async fn event_cursor(&self, consumer: &str) -> Result<i64>;
    async fn set_event_cursor(&self, consumer: &str, seq: i64) -> Result<()>;
    /// Takes or renews the lease on running `consumer` for `holder` until `until`; false
    /// while another holder's lease has not lapsed at `now`. A server runs a consumer only
    /// while it holds the lease, so two servers never handle the same events.
    async fn lease_consumer(
        &self,
        consumer: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool>;
}

/// The status a lab's step leads a tube to from `status`, or why it cannot be taken.
pub(crate) fn next_status(barcode: &Barcode, status: SpecimenStatus, step: &TubeStep) -> Result<SpecimenStatus> {
    use SpecimenStatus::*;
    let refuse =
        |code: &'static str, message: String| Err(crate::StoreError::Refused { field: "barcode", code, message });
    match (step, status) {
        (_, Resulted) => refuse("already_resulted", format!("{barcode} already has a result")),
        (_, Rejected) => refuse("rejected", format!("{barcode} was already rejected")),
        (TubeStep::Ship, Collected) => Ok(InTransit),
        (TubeStep::Ship, _) => refuse("already_shipped", format!("{barcode} is already on its way or in the lab")),
        (TubeStep::Receive, Collected | InTransit) => Ok(Received),
        (TubeStep::Receive, _) => refuse("already_received", format!("{barcode} was already received")),
        (TubeStep::Reject { .. }, _) => Ok(Rejected),
    }
}

/// The units whose totals a specimen of a person living at `home_path` counts in: the
/// country, the province and the commune (units below a commune roll up into it).
pub fn rollup_paths(home_path: &str) -> Vec<&str> {
    home_path.match_indices('/').skip(1).take(3).map(|(i, _)| &home_path[..=i]).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn totals_roll_up_to_commune() {
        assert_eq!(super::rollup_paths("/VN/01/00070/h1/"), ["/VN/", "/VN/01/", "/VN/01/00070/"]);
        assert_eq!(super::rollup_paths("/VN/01/"), ["/VN/", "/VN/01/"]);
    }
}
