//! The rules of recording results, once for both stores.
//!
//! A store loads the state of the tubes a batch names ([`ResultState`]), [`plan_results`]
//! decides what every result does to it — refusals, conclusions, pool members, cases,
//! events, totals — and the store writes the [`ResultPlan`] back in the same transaction.
//! Results later in a batch see what earlier ones did, so a file naming a tube twice is
//! handled as two uploads would be.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxBuildHasher;

use outbreak_domain::testing::{
    CaseId, CaseStatus, Conclusion, EPISODE, Outcome, PoolId, SpecimenId, SpecimenStatus, TestType, turnaround_bucket,
};
use outbreak_domain::{PersonId, UnitCode, local_date};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use time::{Date, OffsetDateTime};

use super::{Case, RecordResult, ResultOutcome, Totals, rollup_paths};

/// A map touched once or more per specimen while planning. Fx rather than the standard
/// SipHash, which was a tenth of planning a chunk: Fx is not keyed, but every key here is
/// the store's own (ids, the labels of tubes it holds, unit paths), so no one can fill a
/// map with colliding keys by writing a file.
pub(crate) type PlanMap<K, V> = HashMap<K, V, FxBuildHasher>;
pub(crate) type PlanSet<K> = HashSet<K, FxBuildHasher>;

#[derive(Debug, Clone)]
pub(crate) struct SpecimenState {
    pub id: SpecimenId,
    pub barcode: String,
    pub person: PersonId,
    /// Where the person lived when sampled: their case, if any, belongs there.
    pub home_path: String,
    /// Where the swab was taken, which decides who may record its result.
    pub site_path: String,
    pub test_type: TestType,
    pub collected_at: OffsetDateTime,
    /// The pool's id and label, when the swab went into one.
    pub pool: Option<(PoolId, String)>,
    pub status: SpecimenStatus,
    pub conclusion: Option<Conclusion>,
    pub ct: Option<f64>,
    pub resulted_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub(crate) struct PoolState {
    pub id: PoolId,
    pub barcode: String,
    pub site_path: String,
    pub test_type: TestType,
    pub status: SpecimenStatus,
    pub outcome: Option<Outcome>,
    pub ct: Option<f64>,
    pub resulted_at: Option<OffsetDateTime>,
    pub members: Vec<SpecimenId>,
    /// How many swabs the pool's row counts: a swab added after the pool was loaded
    /// changes it.
    pub swabs: i64,
}

/// A case that a new positive of the same person would belong to.
#[derive(Debug, Clone)]
pub(crate) struct OpenCase {
    pub id: CaseId,
    pub specimen: Option<SpecimenId>,
    pub confirmed_at: OffsetDateTime,
}

/// What a store loads before planning: the tubes a batch names (pools with their
/// members) and the open cases of the people concerned.
#[derive(Debug, Default)]
pub(crate) struct ResultState {
    pub specimens: PlanMap<SpecimenId, SpecimenState>,
    pub pools: PlanMap<PoolId, PoolState>,
    pub specimen_barcodes: PlanMap<String, SpecimenId>,
    pub pool_barcodes: PlanMap<String, PoolId>,
    pub open_cases: PlanMap<PersonId, Vec<OpenCase>>,
}

impl ResultState {
    pub fn add_specimen(&mut self, specimen: SpecimenState) {
        self.specimen_barcodes.insert(specimen.barcode.clone(), specimen.id);
        self.specimens.insert(specimen.id, specimen);
    }

    pub fn add_pool(&mut self, pool: PoolState) {
        self.pool_barcodes.insert(pool.barcode.clone(), pool.id);
        self.pools.insert(pool.id, pool);
    }

    /// The people whose open cases the plan needs: those of individual tubes that a result
    /// makes positive, or that are positive now (a correction may discard their case).
    /// Other results never touch a case, so the store need not look.
    pub fn case_people(&self, results: &[RecordResult]) -> Vec<PersonId> {
        let mut people: Vec<PersonId> = results
            .iter()
            .filter_map(|r| {
                let specimen = self.specimens.get(self.specimen_barcodes.get(r.result.barcode.as_str())?)?;
                let at_stake =
                    r.result.outcome == Outcome::Positive || specimen.conclusion == Some(Conclusion::Positive);
                (specimen.pool.is_none() && at_stake).then_some(specimen.person)
            })
            .collect();
        people.sort_unstable();
        people.dedup();
        people
    }
}

/// One entry of a tube's result history.
#[derive(Debug, Clone)]
pub(crate) struct HistoryRow {
    /// The specimen's or pool's id: ids grow with time, so a lab's batch appends to the
    /// history's index where labels would scatter over it.
    pub tube: uuid::Uuid,
    pub barcode: String,
    pub outcome: Outcome,
    pub ct: Option<f64>,
    pub resulted_at: OffsetDateTime,
    pub recorded_at: OffsetDateTime,
    pub recorded_by: String,
    pub correction: Option<String>,
}

/// An event for the outbox. Its payload is JSON text written straight from typed values,
/// not a `serde_json::Value` tree: a trace or an upload writes thousands of events at once.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub kind: &'static str,
    pub subject: String,
    pub unit_path: String,
    pub payload: Box<RawValue>,
    pub at: OffsetDateTime,
}

/// An event's payload as JSON text. Plain fields always serialise; were one ever to fail,
/// the event would say `null` rather than undo the change it reports.
pub(crate) fn payload(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// The columns of a tube's row that a result changes, as the plan found them.
///
/// SQLite plans a batch on a reader while its writer commits the batch before, so the
/// snapshot a plan starts from may be older than the rows it writes: the writer changes a
/// row only where it still holds these, and plans the batch again otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Before {
    pub status: SpecimenStatus,
    /// The specimen's conclusion or the pool's outcome.
    pub result: Option<&'static str>,
    pub ct: Option<f64>,
    pub resulted_at: Option<OffsetDateTime>,
}

impl Before {
    fn specimen(s: &SpecimenState) -> Before {
        Before { status: s.status, result: s.conclusion.map(Conclusion::as_str), ct: s.ct, resulted_at: s.resulted_at }
    }

    fn pool(p: &PoolState) -> Before {
        Before { status: p.status, result: p.outcome.map(Outcome::as_str), ct: p.ct, resulted_at: p.resulted_at }
    }
}

/// Everything a batch of results changes.
#[derive(Debug, Default)]
pub(crate) struct ResultPlan {
    pub outcomes: Vec<ResultOutcome>,
    /// Specimens and pools whose rows change, with what their rows held before; their new
    /// state is in the `ResultState`.
    pub specimens: Vec<(SpecimenId, Before)>,
    pub pools: Vec<(PoolId, Before)>,
    pub history: Vec<HistoryRow>,
    pub new_cases: Vec<Case>,
    pub discarded_cases: Vec<CaseId>,
    pub events: Vec<NewEvent>,
    /// Changes to running totals by (unit path, day of collection, test type).
    pub totals: HashMap<(String, Date, TestType), Totals>,
    /// Changes to the turnaround histogram by (unit path, day of result, hours).
    pub turnaround: HashMap<(String, Date, i64), i64>,
    /// What `specimens` and `pools` hold, to add each once without scanning them: a batch
    /// of ten thousand results would otherwise cost fifty million comparisons.
    touched_specimens: PlanSet<SpecimenId>,
    touched_pools: PlanSet<PoolId>,
    /// Totals and turnaround gathered by home path while planning (a batch has far fewer
    /// homes than results), rolled up to `totals` and `turnaround` at the end.
    by_home: PlanMap<String, PlanMap<(Date, TestType), Totals>>,
    times_by_home: PlanMap<String, PlanMap<(Date, i64), i64>>,
}

impl ResultPlan {
    fn count(&mut self, specimen: &SpecimenState, conclusion: Option<Conclusion>, sign: i64) {
        if conclusion.is_none() {
            return;
        }
        let key = (local_date(specimen.collected_at), specimen.test_type);
        let home = match self.by_home.get_mut(&specimen.home_path) {
            Some(home) => home,
            None => self.by_home.entry(specimen.home_path.clone()).or_default(),
        };
        home.entry(key).or_default().count(conclusion, false, sign);
    }

    fn time(&mut self, specimen: &SpecimenState, resulted_at: OffsetDateTime) {
        let key = (local_date(resulted_at), turnaround_bucket(specimen.collected_at, resulted_at));
        let home = match self.times_by_home.get_mut(&specimen.home_path) {
            Some(home) => home,
            None => self.times_by_home.entry(specimen.home_path.clone()).or_default(),
        };
        *home.entry(key).or_default() += 1;
    }

    /// Rolls what was gathered per home up to the country, province and commune.
    fn roll_up(&mut self) {
        for (home, days) in std::mem::take(&mut self.by_home) {
            for path in rollup_paths(&home) {
                for ((day, test_type), delta) in &days {
                    self.totals.entry((path.to_owned(), *day, *test_type)).or_default().add(delta);
                }
            }
        }
        for (home, days) in std::mem::take(&mut self.times_by_home) {
            for path in rollup_paths(&home) {
                for (&(day, hours), n) in &days {
                    *self.turnaround.entry((path.to_owned(), day, hours)).or_default() += n;
                }
            }
        }
    }

    /// Notes that `specimen`, as it stands before this change, is written back.
    fn touch_specimen(&mut self, specimen: &SpecimenState) {
        if self.touched_specimens.insert(specimen.id) {
            self.specimens.push((specimen.id, Before::specimen(specimen)));
        }
    }
}

/// The unit a path ends with (`/VN/01/00070/` → `00070`).
fn home_unit(path: &str) -> UnitCode {
    let code = path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    UnitCode::parse("home_path", code).unwrap_or_else(|_| UnitCode::country())
}

/// Decides what each result does for a caller who may handle tubes taken under `scope`.
/// `new_case_id` names the cases it confirms.
pub(crate) fn plan_results(
    state: &mut ResultState,
    results: &[RecordResult],
    scope: &[String],
    mut new_case_id: impl FnMut() -> CaseId,
) -> ResultPlan {
    let mut plan = ResultPlan::default();
    // Room for every tube loaded, so that the plan's lists and sets never grow by rehashing.
    plan.outcomes.reserve(results.len());
    plan.history.reserve(results.len());
    plan.specimens.reserve(state.specimens.len());
    plan.touched_specimens.reserve(state.specimens.len());
    plan.events.reserve(state.specimens.len());
    let in_scope = |path: &str| scope.iter().any(|prefix| path.starts_with(prefix.as_str()));
    for input in results {
        let barcode = input.result.barcode.as_str();
        let site = match (state.specimen_barcodes.get(barcode), state.pool_barcodes.get(barcode)) {
            (Some(id), _) => state.specimens.get(id).map(|s| s.site_path.as_str()),
            (None, Some(id)) => state.pools.get(id).map(|p| p.site_path.as_str()),
            (None, None) => None,
        };
        if site.is_some_and(|site| !in_scope(site)) {
            plan.outcomes.push(ResultOutcome::refused(
                "outside_jurisdiction",
                format!("{barcode} was taken outside your jurisdiction"),
            ));
            continue;
        }
        let outcome = match (state.specimen_barcodes.get(barcode).copied(), state.pool_barcodes.get(barcode).copied()) {
            (Some(id), _) => specimen_result(state, &mut plan, id, input, &mut new_case_id),
            (None, Some(id)) => pool_result(state, &mut plan, id, input),
            (None, None) => ResultOutcome::refused(
                "unknown_barcode",
                format!("no tube is labelled {}: check the label", input.result.barcode),
            ),
        };
        plan.outcomes.push(outcome);
    }
    plan.roll_up();
    plan
}

/// Refusals common to specimens and pools, from the tube's current result.
fn refusal(
    label: &str,
    test_type: TestType,
    status: SpecimenStatus,
    current: Option<(Outcome, Option<f64>, Option<OffsetDateTime>)>,
    input: &RecordResult,
) -> Option<ResultOutcome> {
    let r = &input.result;
    if status == SpecimenStatus::Rejected {
        return Some(ResultOutcome::refused("rejected", format!("{label} was rejected by the lab and has no result")));
    }
    if r.ct.is_some() && test_type == TestType::RapidAntigen {
        return Some(ResultOutcome::refused("ct_not_applicable", "a rapid antigen test has no Ct value"));
    }
    match (current, &input.correction) {
        (Some((outcome, ct, at)), None) => {
            Some(if outcome == r.outcome && ct == r.ct && (!r.time_given || at == Some(r.resulted_at)) {
                ResultOutcome::Unchanged
            } else {
                ResultOutcome::refused(
                    "already_resulted",
                    format!(
                        "{label} already has a result ({}): to change it, correct it with a reason",
                        outcome.as_str()
                    ),
                )
            })
        }
        (None, Some(_)) => {
            Some(ResultOutcome::refused("nothing_to_correct", format!("{label} has no result to correct yet")))
        }
        _ => None,
    }
}

fn history(tube: uuid::Uuid, input: &RecordResult) -> HistoryRow {
    HistoryRow {
        tube,
        barcode: input.result.barcode.to_string(),
        outcome: input.result.outcome,
        ct: input.result.ct,
        resulted_at: input.result.resulted_at,
        recorded_at: input.recorded_at,
        recorded_by: input.recorded_by.clone(),
        correction: input.correction.clone(),
    }
}

/// What `result.recorded` and `result.corrected` say: an upload writes one a tube.
#[derive(Serialize)]
struct ResultPayload<'a> {
    person: PersonId,
    barcode: &'a str,
    test_type: TestType,
    conclusion: Option<Conclusion>,
    pooled: bool,
}

fn result_event(specimen: &SpecimenState, corrected: bool, at: OffsetDateTime) -> NewEvent {
    NewEvent {
        kind: if corrected { "result.corrected" } else { "result.recorded" },
        subject: specimen.id.to_string(),
        unit_path: specimen.home_path.clone(),
        payload: payload(&ResultPayload {
            person: specimen.person,
            barcode: &specimen.barcode,
            test_type: specimen.test_type,
            conclusion: specimen.conclusion,
            pooled: specimen.pool.is_some(),
        }),
        at,
    }
}

fn specimen_result(
    state: &mut ResultState,
    plan: &mut ResultPlan,
    id: SpecimenId,
    input: &RecordResult,
    new_case_id: &mut impl FnMut() -> CaseId,
) -> ResultOutcome {
    // The specimen is changed in place; the open cases are another part of the state.
    let ResultState { specimens, open_cases, .. } = state;
    let Some(specimen) = specimens.get_mut(&id) else {
        return ResultOutcome::refused("unknown_barcode", "the tube vanished while recording");
    };
    let r = &input.result;
    if let Some((_, pool)) = &specimen.pool {
        return ResultOutcome::refused(
            "pooled_specimen",
            format!("{} was swabbed into pool {pool}: record the pool's result", specimen.barcode),
        );
    }
    let current = specimen.conclusion.and_then(|c| {
        let outcome = match c {
            Conclusion::Positive => Outcome::Positive,
            Conclusion::Negative => Outcome::Negative,
            Conclusion::Invalid => Outcome::Invalid,
            Conclusion::RetestIndividually => return None,
        };
        Some((outcome, specimen.ct, specimen.resulted_at))
    });
    if let Some(refused) = refusal(&specimen.barcode, specimen.test_type, specimen.status, current, input) {
        return refused;
    }
    if r.resulted_at < specimen.collected_at {
        return ResultOutcome::refused("before_collection", "a result cannot be read before the swab was taken");
    }
    let corrected = current.is_some();
    plan.touch_specimen(specimen);
    plan.count(specimen, specimen.conclusion, -1);
    let conclusion = r.outcome.conclusion();
    specimen.status = SpecimenStatus::Resulted;
    specimen.conclusion = Some(conclusion);
    specimen.ct = r.ct;
    specimen.resulted_at = Some(r.resulted_at);
    let updated = &*specimen;
    plan.count(updated, updated.conclusion, 1);
    if !corrected {
        plan.time(updated, r.resulted_at);
    }
    plan.history.push(history(id.0, input));
    plan.events.push(result_event(updated, corrected, input.recorded_at));

    let mut cases = Vec::new();
    let open = open_cases.entry(updated.person).or_default();
    if conclusion == Conclusion::Positive {
        let in_episode = open.iter().any(|c| input.recorded_at - c.confirmed_at < EPISODE);
        if !in_episode {
            let case = Case {
                id: new_case_id(),
                person: updated.person,
                unit: home_unit(&updated.home_path),
                unit_path: updated.home_path.clone(),
                source: "test".into(),
                specimen: Some(id),
                sample_date: Some(local_date(updated.collected_at)),
                onset_date: None,
                confirmed_at: input.recorded_at,
                status: CaseStatus::Confirmed,
                note: String::new(),
            };
            open.push(OpenCase { id: case.id, specimen: Some(id), confirmed_at: case.confirmed_at });
            plan.events.push(NewEvent {
                kind: "case.confirmed",
                subject: case.id.to_string(),
                unit_path: case.unit_path.clone(),
                payload: payload(&json!({ "person": case.person, "specimen": id, "source": "test" })),
                at: input.recorded_at,
            });
            cases.push(case.id);
            plan.new_cases.push(case);
        }
    } else if corrected {
        // A positive corrected away discards the case it confirmed.
        let (discarded, kept): (Vec<OpenCase>, Vec<OpenCase>) =
            std::mem::take(open).into_iter().partition(|c| c.specimen == Some(id));
        *open = kept;
        for case in discarded {
            plan.discarded_cases.push(case.id);
            plan.events.push(NewEvent {
                kind: "case.discarded",
                subject: case.id.to_string(),
                unit_path: updated.home_path.clone(),
                payload: payload(&json!({ "person": updated.person, "specimen": id, "reason": input.correction })),
                at: input.recorded_at,
            });
        }
    }
    ResultOutcome::Recorded { people: vec![updated.person], cases }
}

fn pool_result(state: &mut ResultState, plan: &mut ResultPlan, id: PoolId, input: &RecordResult) -> ResultOutcome {
    // The pool and its members are changed in place.
    let ResultState { specimens, pools, .. } = state;
    let Some(pool) = pools.get_mut(&id) else {
        return ResultOutcome::refused("unknown_barcode", "the tube vanished while recording");
    };
    let r = &input.result;
    let current = pool.outcome.map(|o| (o, pool.ct, pool.resulted_at));
    if let Some(refused) = refusal(&pool.barcode, pool.test_type, pool.status, current, input) {
        return refused;
    }
    if pool.members.iter().filter_map(|m| specimens.get(m)).any(|m| r.resulted_at < m.collected_at) {
        return ResultOutcome::refused("before_collection", "a result cannot be read before the swabs were taken");
    }
    let corrected = current.is_some();
    // Members still following the pool: all of them at first; after a correction, those
    // whose conclusion is still the one the old result gave them.
    let following = pool.outcome.map(Outcome::for_pool_members);
    let new_conclusion = r.outcome.for_pool_members();
    let mut people = Vec::new();
    for member_id in &pool.members {
        let Some(member) = specimens.get_mut(member_id) else { continue };
        if member.status == SpecimenStatus::Rejected || member.conclusion != following {
            continue;
        }
        people.push(member.person);
        if member.conclusion == Some(new_conclusion) {
            continue;
        }
        plan.touch_specimen(member);
        plan.count(member, member.conclusion, -1);
        member.status = SpecimenStatus::Resulted;
        member.conclusion = Some(new_conclusion);
        member.resulted_at = Some(r.resulted_at);
        plan.count(member, member.conclusion, 1);
        if !corrected {
            plan.time(member, r.resulted_at);
        }
        plan.events.push(result_event(member, corrected, input.recorded_at));
    }
    if plan.touched_pools.insert(id) {
        plan.pools.push((id, Before::pool(pool)));
    }
    pool.status = SpecimenStatus::Resulted;
    pool.outcome = Some(r.outcome);
    pool.ct = r.ct;
    pool.resulted_at = Some(r.resulted_at);
    plan.history.push(history(id.0, input));
    ResultOutcome::Recorded { people, cases: Vec::new() }
}
