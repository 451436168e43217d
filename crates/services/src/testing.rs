//! Testing (platform 2): sampling sessions, specimens and pools, lab results one by one or
//! from a file, results for citizens, cases from positives, and dashboards that update live.
//!
//! Samplers act on sessions in their units; labs on tubes taken in theirs. Every result
//! goes through one store transaction that also moves the running totals, confirms cases
//! and writes the outbox; the notifier reads the outbox and sends the SMS, and dashboards
//! hear about every change on a broadcast channel.

use std::collections::BTreeSet;
use std::sync::Arc;

use outbreak_domain::testing::{
    Barcode, BarcodeKind, CaseId, CaseStatus, Conclusion, NewResult, NewSession, PoolId, SessionId, SpecimenId,
    ValidResult, histogram_quantile, reason,
};
use outbreak_domain::{Invalid, Permission, PersonId, Principal, UnitLevel, local_date, now};
use outbreak_formats::cells::{parse_datetime, parse_decimal};
use outbreak_formats::sheet::{Column, SheetLimits, match_columns, read_sheet};
use outbreak_store::{
    Case, CaseFilter, CaseRow, DailyTotals, NewSpecimen, PersonRecord, Pool, RecordResult, ResultEntry, ResultOutcome,
    SamplingSession, Specimen, StoreError, Totals, Tube, TubeStep, rollup_paths,
};
use rand::Rng;
use serde::Serialize;
use time::{Date, Duration};
use tokio::sync::broadcast;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::checkins::VisitorId;
use crate::{Caller, Result, ServiceError, Services, audit_entry};

/// Results in one API request, at most; larger sets go as a file.
pub const MAX_RESULTS_PER_REQUEST: usize = 10_000;
/// The largest results file accepted.
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;
/// Days a dashboard covers unless asked otherwise.
pub const DASHBOARD_DAYS: i64 = 30;
/// Tries at a fresh random label before giving up (a clash is one in ten billion).
const LABEL_TRIES: usize = 5;

/// A sampling session with what was taken in it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub session: SamplingSession,
    pub specimens: Vec<Specimen>,
    pub pools: Vec<Pool>,
}

/// A tube with what a lab needs to know: its members when it is a pool, and its history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TubeView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specimen: Option<Specimen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    pub members: Vec<Specimen>,
    pub history: Vec<ResultEntry>,
}

/// What became of one result sent by a lab.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultItem {
    /// The item's place in the request (0-based) or the row in the uploaded file (1-based,
    /// as the spreadsheet numbers it).
    pub index: usize,
    pub barcode: String,
    /// `recorded`, `unchanged` or `refused`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Cases this result confirmed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<CaseId>,
}

/// The per-row report of an uploaded results file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UploadReport {
    pub rows: usize,
    pub recorded: usize,
    pub unchanged: usize,
    pub refused: usize,
    /// Every row that was not recorded, with why; recorded rows are counted only.
    pub problems: Vec<ResultItem>,
}

/// A person's results as they see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonResults {
    pub person: PersonId,
    pub full_name: String,
    pub specimens: Vec<Specimen>,
}

/// Median and 90th percentile of hours from swab to result.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Turnaround {
    pub results: i64,
    pub median_hours: Option<i64>,
    pub p90_hours: Option<i64>,
}

/// One row of a dashboard's drill-down table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnitTotals {
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub totals: Totals,
    pub positivity: Option<f64>,
}

/// A unit's testing totals over a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dashboard {
    pub unit: String,
    pub unit_name: String,
    pub unit_path: String,
    #[schema(value_type = String)]
    pub from: Date,
    #[schema(value_type = String)]
    pub to: Date,
    pub days: Vec<DailyTotals>,
    pub totals: Totals,
    /// Positive share of conclusive results (positive or negative) in the period.
    pub positivity: Option<f64>,
    /// Specimens taken (at any time) still waiting for a conclusion.
    pub pending: i64,
    pub turnaround: Turnaround,
    /// The units directly below, down to communes.
    pub children: Vec<UnitTotals>,
}

/// Units whose testing totals changed, sent to live dashboards; empty when too many
/// changed to list, which means every unit.
pub type TestingChange = Arc<Vec<String>>;

fn positivity(t: &Totals) -> Option<f64> {
    let conclusive = t.positive + t.negative;
    (conclusive > 0).then(|| t.positive as f64 / conclusive as f64)
}

fn new_label(kind: BarcodeKind) -> Barcode {
    Barcode::new(kind, rand::thread_rng().gen_range(0..10_000_000_000))
}

fn item(index: usize, barcode: &str, outcome: ResultOutcome) -> ResultItem {
    let (status, code, message, cases) = match outcome {
        ResultOutcome::Recorded { cases, .. } => ("recorded", None, None, cases),
        ResultOutcome::Unchanged => ("unchanged", None, None, Vec::new()),
        ResultOutcome::Refused { code, message } => ("refused", Some(code), Some(message), Vec::new()),
    };
    ResultItem { index, barcode: barcode.to_owned(), status, code, message, cases }
}

fn refused_item(index: usize, barcode: &str, invalid: &Invalid) -> ResultItem {
    ResultItem {
        index,
        barcode: barcode.to_owned(),
        status: "refused",
        code: Some(invalid.code.to_owned()),
        message: Some(format!("{}: {}", invalid.field, invalid.message)),
        cases: Vec::new(),
    }
}

/// Result words as labs write them, in Vietnamese (with or without diacritics) or English.
fn result_word(text: &str) -> Option<&'static str> {
    let folded = outbreak_domain::text::fold(text);
    match folded.trim() {
        "positive" | "pos" | "+" | "duong tinh" | "duong" | "dt" => Some("positive"),
        "negative" | "neg" | "-" | "am tinh" | "am" | "at" => Some("negative"),
        "invalid" | "khong xac dinh" | "kxd" | "inconclusive" => Some("invalid"),
        _ => None,
    }
}

const RESULT_COLUMNS: &[Column] = &[
    Column {
        key: "barcode",
        names: &["barcode", "mã ống", "mã mẫu", "mã vạch", "mã bệnh phẩm", "specimen", "tube", "label"],
        required: true,
    },
    Column { key: "result", names: &["result", "kết quả", "kq", "outcome"], required: true },
    Column { key: "ct", names: &["ct", "ct value", "giá trị ct", "chỉ số ct"], required: false },
    Column {
        key: "resulted_at",
        names: &[
            "resulted_at",
            "result time",
            "thời gian",
            "thời gian trả kết quả",
            "ngày trả kết quả",
            "ngày xét nghiệm",
        ],
        required: false,
    },
];

impl Services {
    /// Subscribes to changes of testing totals (for live dashboards).
    pub fn testing_changes(&self) -> broadcast::Receiver<TestingChange> {
        self.testing_changes.subscribe()
    }

    fn announce(&self, home_paths: impl IntoIterator<Item = String>) {
        let mut units = BTreeSet::new();
        for path in home_paths {
            units.extend(rollup_paths(&path).into_iter().map(str::to_owned));
        }
        if !units.is_empty() {
            // Nobody listening is fine: dashboards subscribe when opened.
            let _ = self.testing_changes.send(Arc::new(units.into_iter().collect()));
        }
        self.wake_notifier();
    }

    /// Opens a sampling session in a unit of the caller's jurisdiction.
    pub async fn open_session(&self, caller: &Caller, input: &NewSession) -> Result<SamplingSession> {
        let valid = input.validate(local_date(now()))?;
        let unit = self.store.unit(&valid.unit).await?.ok_or_else(|| {
            ServiceError::Invalid(Invalid::new("unit", "unknown_unit", "unit is not a known unit code"))
        })?;
        self.authorize_unit(caller, Permission::CollectSamples, &unit.path)?;
        let session = SamplingSession {
            id: SessionId(Uuid::now_v7()),
            site: valid.site,
            unit: valid.unit,
            unit_path: unit.path,
            date: valid.date,
            team: valid.team,
            test_type: valid.test_type,
            pool_size: valid.pool_size,
            created_by: caller.principal.actor(),
            created_at: now(),
            closed_at: None,
        };
        self.store.insert_sampling_session(&session).await?;
        self.audit(caller, "sampling.open", "session", &session.id.to_string(), &session.site).await?;
        Ok(session)
    }

    async fn session_for(&self, caller: &Caller, id: SessionId, permission: Permission) -> Result<SamplingSession> {
        let session = self.store.sampling_session(id).await?.ok_or_else(|| ServiceError::NotFound("session".into()))?;
        self.authorize_unit(caller, permission, &session.unit_path)?;
        Ok(session)
    }

    /// A session with its specimens and pools (people's names are not in it).
    pub async fn sampling_session(&self, caller: &Caller, id: SessionId) -> Result<SessionView> {
        let session = self.session_for(caller, id, Permission::ReadTesting).await?;
        let specimens = self.store.session_specimens(id).await?;
        let pools = self.store.session_pools(id).await?;
        Ok(SessionView { session, specimens, pools })
    }

    /// Recent sessions in the caller's jurisdiction.
    pub async fn sampling_sessions(&self, caller: &Caller) -> Result<Vec<SamplingSession>> {
        let scope = self.authorize(caller, Permission::ReadTesting)?;
        Ok(self.store.sampling_sessions(&scope.paths, 100).await?)
    }

    pub async fn close_session(&self, caller: &Caller, id: SessionId) -> Result<()> {
        self.session_for(caller, id, Permission::CollectSamples).await?;
        self.store.close_sampling_session(id, now()).await?;
        self.audit(caller, "sampling.close", "session", &id.to_string(), "").await
    }

    /// The person a scanned QR or typed identifier names; a sampler registers walk-ins first.
    pub async fn identify_person(&self, id: &VisitorId) -> Result<PersonId> {
        if id.phone.is_some() {
            return Err(Invalid::new(
                "person.phone",
                "not_allowed",
                "a phone number does not identify a person for testing: scan their QR, type their CCCD or insurance number, or register them",
            )
            .into());
        }
        match self.identify(id).await? {
            (outbreak_domain::venue::Visitor::Person(person), _) => Ok(person),
            (outbreak_domain::venue::Visitor::Phone(_), _) => {
                Err(Invalid::new("person", "unknown_person", "no person matches").into())
            }
        }
    }

    /// Takes one person's specimen in a session: a fresh tube label, the session's open pool
    /// when it pools, and the link to a pooled specimen awaiting its individual retest.
    pub async fn take_specimen(&self, caller: &Caller, session: SessionId, person: &VisitorId) -> Result<Specimen> {
        let open = self.session_for(caller, session, Permission::CollectSamples).await?;
        let person = self.identify_person(person).await?;
        let mut tries = 0;
        loop {
            tries += 1;
            let new = NewSpecimen {
                id: SpecimenId(Uuid::now_v7()),
                barcode: new_label(BarcodeKind::Specimen),
                session,
                person,
                collected_at: now(),
                new_pool: open.pool_size.map(|_| (PoolId(Uuid::now_v7()), new_label(BarcodeKind::Pool))),
            };
            let audit = audit_entry(caller, "specimen.take", "person", &person.to_string(), new.barcode.as_str());
            match self.store.take_specimens(vec![new], vec![audit]).await {
                Ok(mut taken) => {
                    let specimen = taken.pop().ok_or_else(|| ServiceError::Internal("no specimen came back".into()))?;
                    self.announce([specimen.home_path.clone()]);
                    return Ok(specimen);
                }
                Err(StoreError::Conflict { field: "barcode", .. }) if tries < LABEL_TRIES => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Closes a session's pool to more swabs, so its tube can go to the lab.
    pub async fn close_pool(&self, caller: &Caller, barcode: &str) -> Result<()> {
        let tube = self.tube_for(caller, barcode, Permission::CollectSamples).await?;
        let Tube::Pool(pool) = tube else {
            return Err(Invalid::new("barcode", "not_a_pool", "this label is a specimen, not a pool").into());
        };
        self.store.close_pool(pool.id).await?;
        Ok(())
    }

    async fn tube_for(&self, caller: &Caller, barcode: &str, permission: Permission) -> Result<Tube> {
        let barcode = Barcode::parse("barcode", barcode)?;
        let tube = self.store.tube(&barcode).await?.ok_or_else(|| {
            ServiceError::Invalid(Invalid::new(
                "barcode",
                "unknown_barcode",
                format!("no tube is labelled {barcode}: check the label"),
            ))
        })?;
        self.authorize_unit(caller, permission, tube.site_path())?;
        Ok(tube)
    }

    /// A tube as a lab sees it: the specimen or the pool with its members, and its history.
    pub async fn tube(&self, caller: &Caller, barcode: &str) -> Result<TubeView> {
        let tube = self.tube_for(caller, barcode, Permission::ReadTesting).await?;
        let (specimen, pool, members, label) = match tube {
            Tube::Specimen(s) => {
                let label = s.barcode.clone();
                (Some(s), None, Vec::new(), label)
            }
            Tube::Pool(p) => {
                let members = self.store.pool_members(p.id).await?;
                let label = p.barcode.clone();
                (None, Some(p), members, label)
            }
        };
        let history = self.store.result_history(&label).await?;
        Ok(TubeView { specimen, pool, members, history })
    }

    /// Ships, receives or rejects a tube. Samplers ship; labs receive and reject.
    pub async fn move_tube(&self, caller: &Caller, barcode: &str, step: TubeStep) -> Result<()> {
        let permission = match step {
            TubeStep::Ship => Permission::CollectSamples,
            TubeStep::Receive | TubeStep::Reject { .. } => Permission::RecordResults,
        };
        let step = match step {
            TubeStep::Reject { reason: text } => TubeStep::Reject { reason: reason("reason", &text)? },
            other => other,
        };
        let tube = self.tube_for(caller, barcode, permission).await?;
        let label = Barcode::parse("barcode", barcode)?;
        let action = match &step {
            TubeStep::Ship => "tube.ship",
            TubeStep::Receive => "tube.receive",
            TubeStep::Reject { .. } => "tube.reject",
        };
        self.store.move_tube(&label, step, now()).await?;
        self.audit(caller, action, "tube", label.as_str(), "").await?;
        let homes = match tube {
            Tube::Specimen(s) => vec![s.home_path],
            Tube::Pool(p) => self.store.pool_members(p.id).await?.into_iter().map(|s| s.home_path).collect(),
        };
        self.announce(homes);
        Ok(())
    }

    /// Records results sent by a lab: each is answered on its own, and good ones are stored
    /// even when others are refused.
    pub async fn record_results(&self, caller: &Caller, inputs: &[NewResult]) -> Result<Vec<ResultItem>> {
        let at = now();
        let valid: Vec<(usize, String, Result<ValidResult, Invalid>)> =
            inputs.iter().enumerate().map(|(i, r)| (i, r.barcode.clone(), r.validate(at))).collect();
        self.record_valid(caller, valid, None).await
    }

    /// Records results, some of which failed validation already.
    async fn record_valid(
        &self,
        caller: &Caller,
        rows: Vec<(usize, String, Result<ValidResult, Invalid>)>,
        correction: Option<String>,
    ) -> Result<Vec<ResultItem>> {
        let scope = self.authorize(caller, Permission::RecordResults)?;
        let recorded_by = caller.principal.actor();
        let mut items = Vec::with_capacity(rows.len());
        let mut pending: Vec<(usize, String)> = Vec::new();
        let mut valid: Vec<RecordResult> = Vec::new();
        for (index, barcode, checked) in rows {
            match checked {
                Ok(result) => {
                    valid.push(RecordResult {
                        result,
                        recorded_by: recorded_by.clone(),
                        recorded_at: now(),
                        correction: correction.clone(),
                    });
                    pending.push((index, barcode));
                }
                Err(invalid) => items.push(refused_item(index, &barcode, &invalid)),
            }
        }
        if !valid.is_empty() {
            let audit = audit_entry(caller, "result.record", "tube", "", &format!("{} results", valid.len()));
            let outcomes = self.store.record_results(valid, scope.paths, vec![audit]).await?;
            let mut recorded = Vec::new();
            for ((index, barcode), outcome) in pending.into_iter().zip(outcomes) {
                if let ResultOutcome::Recorded { .. } = &outcome {
                    recorded.push(barcode.clone());
                }
                items.push(item(index, &barcode, outcome));
            }
            if !recorded.is_empty() {
                self.announce_tubes(&recorded).await;
            }
        }
        items.sort_by_key(|i| i.index);
        Ok(items)
    }

    /// Tells dashboards about recorded tubes. Big uploads change most units anyway, so
    /// past a few tubes the whole country is announced rather than looked up tube by tube.
    async fn announce_tubes(&self, barcodes: &[String]) {
        if barcodes.len() > 20 {
            // An empty change means every unit.
            let _ = self.testing_changes.send(Arc::new(Vec::new()));
            self.wake_notifier();
            return;
        }
        let mut homes = Vec::new();
        for text in barcodes {
            let Ok(barcode) = Barcode::parse("barcode", text) else { continue };
            match self.store.tube(&barcode).await {
                Ok(Some(Tube::Specimen(s))) => homes.push(s.home_path),
                Ok(Some(Tube::Pool(p))) => {
                    if let Ok(members) = self.store.pool_members(p.id).await {
                        homes.extend(members.into_iter().map(|m| m.home_path));
                    }
                }
                _ => {}
            }
        }
        self.announce(homes);
    }

    /// Corrects a tube's result with a reason; the earlier result stays in its history.
    pub async fn correct_result(&self, caller: &Caller, input: &NewResult, why: &str) -> Result<ResultItem> {
        let why = reason("reason", why)?;
        let valid = input.validate(now())?;
        let mut items = self.record_valid(caller, vec![(0, input.barcode.clone(), Ok(valid))], Some(why)).await?;
        items.pop().ok_or_else(|| ServiceError::Internal("no outcome for the correction".into()))
    }

    /// Records the results in an uploaded CSV or XLSX file and reports on every row that
    /// was not recorded. Uploading the same file again changes nothing.
    pub async fn upload_results(&self, caller: &Caller, bytes: &[u8], file_name: Option<&str>) -> Result<UploadReport> {
        self.authorize(caller, Permission::RecordResults)?;
        let limits = SheetLimits { max_bytes: MAX_UPLOAD_BYTES, ..SheetLimits::default() };
        let started = std::time::Instant::now();
        let sheet = read_sheet(bytes, file_name, &limits)
            .map_err(|e| ServiceError::Invalid(Invalid::new("file", e.code(), e.to_string())))?;
        tracing::debug!(rows = sheet.rows.len(), ms = started.elapsed().as_millis() as u64, "read a results file");
        let columns = match_columns(&sheet.headers, RESULT_COLUMNS)
            .map_err(|e| ServiceError::Invalid(Invalid::new("file", e.code(), e.to_string())))?;
        let cell = |row: &outbreak_formats::sheet::SheetRow, key: usize| -> String {
            columns[key].and_then(|i| row.cells.get(i)).cloned().unwrap_or_default()
        };
        let at = now();
        let rows: Vec<(usize, String, Result<ValidResult, Invalid>)> = sheet
            .rows
            .iter()
            .map(|row| {
                let barcode = cell(row, 0);
                let parsed = (|| {
                    let result = cell(row, 1);
                    let word = result_word(&result).ok_or_else(|| {
                        Invalid::new(
                            "result",
                            "invalid_value",
                            format!("{result:?} is not a result: write dương tính, âm tính or không xác định"),
                        )
                    })?;
                    let ct = match cell(row, 2) {
                        text if text.is_empty() => None,
                        text => Some(parse_decimal(&text).map_err(|e| Invalid::new("ct", e.code(), e.to_string()))?),
                    };
                    let resulted_at = match cell(row, 3) {
                        text if text.is_empty() => None,
                        text => Some(
                            parse_datetime(&text, outbreak_domain::VIETNAM)
                                .map_err(|e| Invalid::new("resulted_at", e.code(), e.to_string()))?,
                        ),
                    };
                    NewResult { barcode: barcode.clone(), result: word.into(), ct, resulted_at }.validate(at)
                })();
                (row.line, barcode, parsed)
            })
            .collect();
        let count = rows.len();
        let items = self.record_valid(caller, rows, None).await?;
        let recorded = items.iter().filter(|i| i.status == "recorded").count();
        let unchanged = items.iter().filter(|i| i.status == "unchanged").count();
        let problems: Vec<ResultItem> = items.into_iter().filter(|i| i.status == "refused").collect();
        Ok(UploadReport { rows: count, recorded, unchanged, refused: problems.len(), problems })
    }

    /// Specimens waiting for a result, taken in the caller's jurisdiction, oldest first.
    pub async fn open_specimens(&self, caller: &Caller) -> Result<Vec<Specimen>> {
        let scope = self.authorize(caller, Permission::ReadTesting)?;
        Ok(self.store.open_specimens(&scope.paths, 500).await?)
    }

    /// The results of the people registered with the citizen's phone.
    pub async fn my_results(&self, caller: &Caller) -> Result<Vec<PersonResults>> {
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("results on this page are for citizens".into()));
        };
        let mut all = Vec::new();
        for record in self.store.people_by_phone(phone).await? {
            all.push(self.results_of(&record).await?);
        }
        Ok(all)
    }

    pub(crate) async fn results_of(&self, record: &PersonRecord) -> Result<PersonResults> {
        Ok(PersonResults {
            person: record.id(),
            full_name: record.person.full_name.clone(),
            specimens: self.store.person_specimens(record.id()).await?,
        })
    }

    /// Cases in the caller's jurisdiction confirmed since `since`, newest first.
    pub async fn cases(&self, caller: &Caller, since: Option<time::OffsetDateTime>) -> Result<Vec<CaseRow>> {
        let scope = self.authorize(caller, Permission::ManageCases)?;
        let filter = CaseFilter { scope: scope.paths, since, person: None, limit: 500 };
        let cases = self.store.cases(&filter).await?;
        self.audit(caller, "case.list", "case", "", &format!("{} cases", cases.len())).await?;
        Ok(cases)
    }

    pub async fn case(&self, caller: &Caller, id: CaseId) -> Result<CaseRow> {
        let case = self.store.case(id).await?.ok_or_else(|| ServiceError::NotFound("case".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &case.case.unit_path)?;
        self.audit(caller, "case.read", "case", &id.to_string(), "").await?;
        Ok(case)
    }

    pub async fn set_case_status(&self, caller: &Caller, id: CaseId, status: &str, note: &str) -> Result<Case> {
        let status = CaseStatus::parse("status", status)?;
        let note = outbreak_domain::error::text_field("note", note, 1000, false)?;
        let row = self.case(caller, id).await?;
        self.store.set_case_status(id, status, &note, now()).await?;
        self.audit(caller, "case.status", "case", &id.to_string(), status.as_str()).await?;
        Ok(Case { status, note, ..row.case })
    }

    /// The testing dashboard of a unit: days, totals, positivity, turnaround, pending, and
    /// the units below. Units below a commune show their commune's figures.
    pub async fn testing_dashboard(&self, caller: &Caller, unit: Option<&str>, days: Option<i64>) -> Result<Dashboard> {
        let jurisdiction = self.authorize(caller, Permission::ReadTesting)?;
        let code = match unit {
            Some(code) => outbreak_domain::UnitCode::parse("unit", code)?,
            None => match jurisdiction.paths.first().and_then(|p| p.trim_end_matches('/').rsplit('/').next()) {
                Some(code) => outbreak_domain::UnitCode::parse("unit", code)?,
                None => outbreak_domain::UnitCode::country(),
            },
        };
        let mut unit = self.store.unit(&code).await?.ok_or_else(|| {
            ServiceError::Invalid(Invalid::new("unit", "unknown_unit", "unit is not a known unit code"))
        })?;
        self.authorize_unit(caller, Permission::ReadTesting, &unit.path)?;
        while !matches!(unit.level, UnitLevel::Country | UnitLevel::Province | UnitLevel::Commune) {
            let Some(parent) = unit.parent.clone() else { break };
            match self.store.unit(&parent).await? {
                Some(up) => unit = up,
                None => break,
            }
        }
        let days = days.unwrap_or(DASHBOARD_DAYS).clamp(1, 366);
        let to = local_date(now());
        let from = to - Duration::days(days - 1);
        let daily = self.store.testing_totals(&unit.path, from, to).await?;
        let mut totals = Totals::default();
        for d in &daily {
            totals.add(&d.totals);
        }
        let pending = self.store.testing_totals_all(&unit.path).await?.pending();
        let histogram = self.store.turnaround(&unit.path, from, to).await?;
        let turnaround = Turnaround {
            results: histogram.iter().map(|(_, n)| n).sum(),
            median_hours: histogram_quantile(&histogram, 0.5),
            p90_hours: histogram_quantile(&histogram, 0.9),
        };
        let children = if unit.level == UnitLevel::Commune {
            Vec::new()
        } else {
            let below = self.store.child_units(&unit.code).await?;
            let paths: Vec<String> = below.iter().map(|u| u.path.clone()).collect();
            let figures = self.store.testing_totals_of(&paths, from, to).await?;
            below
                .into_iter()
                .zip(figures)
                .map(|(u, (_, t))| UnitTotals {
                    code: u.code.to_string(),
                    name: u.name,
                    positivity: positivity(&t),
                    totals: t,
                })
                .collect()
        };
        Ok(Dashboard {
            unit: unit.code.to_string(),
            unit_name: unit.name,
            unit_path: unit.path,
            from,
            to,
            days: daily,
            positivity: positivity(&totals),
            totals,
            pending,
            turnaround,
            children,
        })
    }
}

/// What a conclusion means for the person, in Vietnamese and English, for SMS and pages.
pub fn conclusion_words(conclusion: Option<Conclusion>) -> (&'static str, &'static str) {
    match conclusion {
        Some(Conclusion::Positive) => ("DUONG TINH", "POSITIVE"),
        Some(Conclusion::Negative) => ("AM TINH", "NEGATIVE"),
        Some(Conclusion::Invalid) => ("KHONG XAC DINH, can lay mau lai", "INVALID, please test again"),
        Some(Conclusion::RetestIndividually) => {
            ("can xet nghiem lai rieng (mau gop)", "an individual retest is needed (pooled sample)")
        }
        None => ("dang cho ket qua", "pending"),
    }
}
