//! The vaccination part of the contract: priority groups, organisations, registrations,
//! vaccine lots, sites, sessions, invitations, doses with their corrections, adverse events
//! and running coverage totals.
//!
//! The rules that need the stored state — a dose checked against the person's history and
//! a known lot, a slot never filled beyond its capacity, one open invitation per person, a
//! registration matched to a person already known rather than duplicated — run inside the
//! stores' transactions through the shared functions below, so both stores decide alike and
//! a crash never leaves half of a change behind. Coverage moves with every dose: each
//! person's counted state is kept (`vaccination_status`), so a change takes out exactly what
//! it had put in.

use std::collections::HashMap;

use async_trait::async_trait;
use outbreak_domain::person::BirthDate;
use outbreak_domain::vaccination::{
    AdverseEventId, AdverseStatus, AgeBand, DoseId, InvitationId, InvitationStatus, OrganisationId, OrganisationKind,
    OrganisationStatus, PriorDose, PriorityGroup, RegistrationId, Severity, SiteId, Slot, VaccinationSessionId,
    check_dose, primary_complete, product,
};
use outbreak_domain::{Person, PersonId, UnitCode};
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::testing::plan::{NewEvent, payload};
use crate::testing::rollup_paths;
use crate::{NewAuditEntry, Result, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Organisation {
    pub id: OrganisationId,
    pub name: String,
    pub kind: OrganisationKind,
    pub unit: UnitCode,
    pub unit_path: String,
    pub address: String,
    pub contact_phone: String,
    /// The staff account that manages the organisation's registrations once approved.
    pub manager: Option<uuid::Uuid>,
    pub status: OrganisationStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub applied_at: OffsetDateTime,
    pub decided_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<OffsetDateTime>,
    pub decision_note: String,
}

/// A registration to store: for `person`, either a person already known (by id) or a new
/// one, whom the store first tries to match to someone known by CCCD, or by phone, folded
/// name and date of birth together.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    pub id: RegistrationId,
    pub person: Person,
    pub organisation: Option<OrganisationId>,
    pub priority_group: String,
    /// Chronic conditions as written, empty when none.
    pub comorbidities: String,
    pub preferred_unit: UnitCode,
    pub registered_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Registration {
    pub id: RegistrationId,
    pub person: PersonId,
    pub organisation: Option<OrganisationId>,
    pub priority_group: String,
    pub comorbidities: String,
    pub preferred_unit: UnitCode,
    pub preferred_path: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub registered_at: OffsetDateTime,
}

/// What became of one registration.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RegistrationOutcome {
    /// Stored; `matched` when the person was already known (no new person was created).
    Registered { registration: RegistrationId, person: PersonId, matched: bool },
    /// The person (matched as above) was registered before: nothing changed.
    AlreadyRegistered { registration: RegistrationId, person: PersonId },
    /// Not stored, and why.
    Refused { field: String, code: String, message: String },
}

/// A vaccine lot received by a unit: doses may only be recorded from a known lot.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Lot {
    pub lot: String,
    pub product: String,
    #[schema(value_type = String)]
    pub expires_on: Date,
    pub unit: UnitCode,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    pub unit: UnitCode,
    pub unit_path: String,
    pub address: String,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VaccinationSession {
    pub id: VaccinationSessionId,
    pub site: SiteId,
    pub site_name: String,
    pub unit_path: String,
    #[schema(value_type = String)]
    pub date: Date,
    pub product: String,
    pub lot: String,
    pub slots: Vec<Slot>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl VaccinationSession {
    pub fn capacity(&self) -> i64 {
        self.slots.iter().map(|s| s.capacity).sum()
    }
}

/// A registered person waiting for an invitation, with what the allocator needs to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub registration: RegistrationId,
    pub person: PersonId,
    pub full_name: String,
    pub phone: Option<String>,
    pub date_of_birth: BirthDate,
    pub group_rank: i32,
    pub registered_at: OffsetDateTime,
    /// The person's valid doses, in order of giving.
    pub doses: Vec<Dose>,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub id: InvitationId,
    pub session: VaccinationSessionId,
    pub person: PersonId,
    /// Index into the session's slots.
    pub slot: usize,
    pub dose_number: u8,
    pub offered_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Invitation {
    pub id: InvitationId,
    pub session: VaccinationSessionId,
    pub person: PersonId,
    pub slot: usize,
    pub dose_number: u8,
    pub status: InvitationStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub offered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at: Option<OffsetDateTime>,
}

/// A dose to record.
#[derive(Debug, Clone)]
pub struct NewDose {
    pub id: DoseId,
    pub person: PersonId,
    pub product: String,
    pub lot: String,
    pub dose_number: u8,
    pub given_at: OffsetDateTime,
    pub site: SiteId,
    pub session: Option<VaccinationSessionId>,
    pub vaccinator: String,
    pub screening: Vec<(String, bool)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dose {
    pub id: DoseId,
    pub person: PersonId,
    pub product: String,
    pub lot: String,
    pub dose_number: u8,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub given_at: OffsetDateTime,
    pub site: SiteId,
    pub site_name: String,
    pub session: Option<VaccinationSessionId>,
    pub vaccinator: String,
    /// Where the person lives: coverage counts them there.
    pub home_path: String,
    /// Where the dose was given: who may correct it.
    pub site_path: String,
    /// A voided dose stays in the history but counts nowhere.
    pub voided: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
}

/// A correction of a dose; `None` keeps a field as it was.
#[derive(Debug, Clone)]
pub struct DoseCorrection {
    pub product: Option<String>,
    pub lot: Option<String>,
    pub given_at: Option<OffsetDateTime>,
    pub void: bool,
    pub reason: String,
    pub by: String,
    pub at: OffsetDateTime,
}

/// One entry of a dose's history: what it said before a correction, and why it changed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DoseRevision {
    pub product: String,
    pub lot: String,
    pub dose_number: u8,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub given_at: OffsetDateTime,
    pub voided: bool,
    pub reason: String,
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdverseEvent {
    pub id: AdverseEventId,
    pub dose: DoseId,
    pub person: PersonId,
    pub severity: Severity,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub onset_at: OffsetDateTime,
    pub status: AdverseStatus,
    pub note: String,
    pub reported_by: String,
    pub unit_path: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub reported_at: OffsetDateTime,
}

/// Coverage counters of one unit and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct Coverage {
    /// People with at least one valid dose.
    pub at_least_one: i64,
    /// People whose primary series is complete.
    pub full_series: i64,
}

/// One row of a unit's coverage: `dimension` is `all`, `age`, `group` or `comorbid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CoverageRow {
    pub dimension: String,
    pub bucket: String,
    #[serde(flatten)]
    pub coverage: Coverage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DailyDoses {
    #[schema(value_type = String)]
    pub day: Date,
    pub product: String,
    pub doses: i64,
}

#[async_trait]
pub trait VaccinationStore {
    /// Adds or replaces priority groups by code.
    async fn put_priority_groups(&self, groups: &[PriorityGroup]) -> Result<()>;
    /// The national list, by rank.
    async fn priority_groups(&self) -> Result<Vec<PriorityGroup>>;

    /// Adds an application; `NotFound("unit")`.
    async fn insert_organisation(&self, organisation: &Organisation) -> Result<()>;
    async fn organisation(&self, id: OrganisationId) -> Result<Option<Organisation>>;
    /// Organisations in `scope`, optionally in one status, oldest application first.
    async fn organisations(
        &self,
        scope: &[String],
        status: Option<OrganisationStatus>,
        limit: u32,
    ) -> Result<Vec<Organisation>>;
    /// Approves (naming the manager account) or rejects a pending application; `Refused`
    /// when it was decided already.
    async fn decide_organisation(
        &self,
        id: OrganisationId,
        status: OrganisationStatus,
        manager: Option<uuid::Uuid>,
        by: &str,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<Organisation>;
    /// The organisations an account manages.
    async fn managed_organisations(&self, account: uuid::Uuid) -> Result<Vec<Organisation>>;

    /// Registers people in one transaction, each on its own: matched to a person known by
    /// CCCD (or by phone, folded name and date of birth together) rather than duplicated,
    /// already registered people reported as such, and unknown groups or units refused.
    async fn register(
        &self,
        registrations: Vec<NewRegistration>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<RegistrationOutcome>>;
    async fn registration_of(&self, person: PersonId) -> Result<Option<Registration>>;
    async fn count_registrations(&self, organisation: Option<OrganisationId>) -> Result<u64>;

    /// Adds a lot; `Conflict("lot")` when its number is taken, `NotFound("unit")`.
    async fn insert_lot(&self, lot: &Lot) -> Result<()>;
    async fn lot(&self, lot: &str) -> Result<Option<Lot>>;
    /// Adds a site; `NotFound("unit")`.
    async fn insert_site(&self, site: &Site) -> Result<()>;
    async fn site(&self, id: SiteId) -> Result<Option<Site>>;
    async fn sites(&self, scope: &[String], limit: u32) -> Result<Vec<Site>>;
    /// Adds a session; `NotFound("site")`, `Refused` for an unknown lot or one of another
    /// product or expired by the session's date.
    async fn insert_vaccination_session(&self, session: &VaccinationSession) -> Result<()>;
    async fn vaccination_session(&self, id: VaccinationSessionId) -> Result<Option<VaccinationSession>>;
    /// Sessions whose site lies in `scope`, newest date first.
    async fn vaccination_sessions(&self, scope: &[String], limit: u32) -> Result<Vec<VaccinationSession>>;

    /// Registered people preferring a unit in `scope`, without an open invitation, never
    /// invited to `session` before (who declined it is not asked again) and without a
    /// complete primary series, in the allocator's order (priority group rank, then
    /// oldest, then earliest registered), skipping the first `offset`.
    async fn allocation_candidates(
        &self,
        session: VaccinationSessionId,
        scope: &[String],
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Candidate>>;
    /// Offers invitations in one transaction; one is skipped (not stored, not returned)
    /// when its slot is full or the person already has an open invitation. Each stored
    /// one writes an `invitation.sent` event.
    async fn invite(&self, invitations: Vec<NewInvitation>, audit: Vec<NewAuditEntry>) -> Result<Vec<Invitation>>;
    async fn invitation(&self, id: InvitationId) -> Result<Option<Invitation>>;
    /// Confirms or declines an offered invitation; `Refused` when it is no longer offered.
    async fn answer_invitation(
        &self,
        id: InvitationId,
        status: InvitationStatus,
        at: OffsetDateTime,
    ) -> Result<Invitation>;
    /// Marks offered invitations past their expiry as expired; returns the sessions whose
    /// slots were freed.
    async fn expire_invitations(&self, at: OffsetDateTime) -> Result<Vec<VaccinationSessionId>>;
    async fn session_invitations(&self, session: VaccinationSessionId) -> Result<Vec<Invitation>>;
    /// A person's invitations, newest first.
    async fn person_invitations(&self, person: PersonId) -> Result<Vec<Invitation>>;

    /// Records a dose: checked in the transaction against the person's history (next dose
    /// number, minimum interval) and a known, unexpired lot of the same product (`Refused`
    /// naming the field otherwise; `NotFound("person")`, `NotFound("site")`). Moves the
    /// coverage totals, marks the person's invitation to the session attended and writes a
    /// `dose.recorded` event.
    async fn record_dose(&self, dose: NewDose, audit: Vec<NewAuditEntry>) -> Result<Dose>;
    /// Corrects or voids a dose, keeping what it said before; the person's doses are
    /// renumbered in order of giving and the totals follow. `Refused` for an unknown lot.
    async fn correct_dose(&self, id: DoseId, correction: DoseCorrection, audit: Vec<NewAuditEntry>) -> Result<Dose>;
    async fn dose(&self, id: DoseId) -> Result<Option<Dose>>;
    /// A person's doses (voided ones included), in order of giving.
    async fn person_doses(&self, person: PersonId) -> Result<Vec<Dose>>;
    /// A dose's earlier versions, oldest first.
    async fn dose_history(&self, id: DoseId) -> Result<Vec<DoseRevision>>;

    async fn insert_adverse_event(&self, event: &AdverseEvent) -> Result<()>;
    /// Adverse events whose dose was given in `scope`, newest first.
    async fn adverse_events(&self, scope: &[String], limit: u32) -> Result<Vec<AdverseEvent>>;
    async fn update_adverse_event(&self, id: AdverseEventId, status: AdverseStatus, note: &str) -> Result<()>;

    /// Every coverage row of the unit at `unit_path` (country, province or commune).
    async fn coverage(&self, unit_path: &str) -> Result<Vec<CoverageRow>>;
    /// Overall coverage of each unit, in the order given, zeros where none.
    async fn coverage_of(&self, unit_paths: &[String]) -> Result<Vec<(String, Coverage)>>;
    /// Doses given to residents of the unit per day and product, days in `[from, to]`.
    async fn doses_per_day(&self, unit_path: &str, from: Date, to: Date) -> Result<Vec<DailyDoses>>;
}

/// How a person counts in coverage: the buckets they are in and what they have.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PersonStatus {
    pub home_path: String,
    pub age_band: String,
    pub priority_group: String,
    pub comorbid: bool,
    pub doses: i64,
    pub full: bool,
}

/// Changes to coverage by (unit path, dimension, bucket).
pub(crate) type CoverageDelta = HashMap<(String, &'static str, String), Coverage>;

impl PersonStatus {
    /// A person's status from their valid doses (in order of giving). The age band is the
    /// person's age at their first dose, so it does not drift as the counts are kept.
    pub fn of(doses: &[Dose], birth: BirthDate, group: Option<&str>, comorbid: bool, home_path: &str) -> PersonStatus {
        let prior = prior_doses(doses);
        let band =
            doses.first().map_or(AgeBand::From18, |d| AgeBand::of(birth, outbreak_domain::local_date(d.given_at)));
        PersonStatus {
            home_path: home_path.to_owned(),
            age_band: band.as_str().to_owned(),
            priority_group: group.unwrap_or("none").to_owned(),
            comorbid,
            doses: doses.len() as i64,
            full: primary_complete(&prior),
        }
    }

    /// Adds (`sign` 1) or takes out (`sign` -1) this status's counts.
    pub fn count(&self, delta: &mut CoverageDelta, sign: i64) {
        if self.doses == 0 {
            return;
        }
        let buckets = [
            ("all", "all".to_owned()),
            ("age", self.age_band.clone()),
            ("group", self.priority_group.clone()),
            ("comorbid", if self.comorbid { "yes" } else { "no" }.to_owned()),
        ];
        for path in rollup_paths(&self.home_path) {
            for (dimension, bucket) in &buckets {
                let c = delta.entry((path.to_owned(), *dimension, bucket.clone())).or_default();
                c.at_least_one += sign;
                c.full_series += if self.full { sign } else { 0 };
            }
        }
    }
}

/// The domain's view of stored doses. Every stored product is on the list (doses are
/// checked against it when recorded), so none is skipped in practice.
pub(crate) fn prior_doses(doses: &[Dose]) -> Vec<PriorDose> {
    doses
        .iter()
        .filter_map(|d| {
            Some(PriorDose {
                product: product("product", &d.product).ok()?,
                dose_number: d.dose_number,
                given_at: d.given_at,
            })
        })
        .collect()
}

fn refused(field: &'static str, code: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Refused { field, code, message: message.into() }
}

/// Checks a new dose against the person's valid doses and its lot, as both stores do
/// inside their transaction.
pub(crate) fn check_new_dose(history: &[Dose], dose: &NewDose, lot: Option<&Lot>) -> Result<()> {
    check_lot(&dose.product, &dose.lot, lot, dose.given_at)?;
    check_dose(&prior_doses(history), dose.dose_number, dose.given_at).map_err(|e| {
        let field = if e.field == "given_at" { "given_at" } else { "dose_number" };
        refused(field, e.code, e.message)
    })
}

/// A lot must be known, of the dose's product and not expired on the day.
pub(crate) fn check_lot(product_code: &str, number: &str, lot: Option<&Lot>, at: OffsetDateTime) -> Result<()> {
    let Some(lot) = lot else {
        return Err(refused(
            "lot",
            "unknown_lot",
            format!("lot {number} is not registered; check the vial or register the lot first"),
        ));
    };
    if lot.product != product_code {
        return Err(refused(
            "lot",
            "lot_product_mismatch",
            format!("lot {number} is {}, not {product_code}", lot.product),
        ));
    }
    if outbreak_domain::local_date(at) > lot.expires_on {
        return Err(refused("lot", "lot_expired", format!("lot {number} expired on {}", lot.expires_on)));
    }
    Ok(())
}

/// The person's doses after a correction, renumbered in order of giving; voided ones keep
/// their number and stay out of the count.
pub(crate) fn apply_correction(mut doses: Vec<Dose>, id: DoseId, c: &DoseCorrection) -> Result<(Vec<Dose>, Dose)> {
    let Some(target) = doses.iter_mut().find(|d| d.id == id) else { return Err(StoreError::NotFound("dose")) };
    if let Some(product) = &c.product {
        target.product = product.clone();
    }
    if let Some(lot) = &c.lot {
        target.lot = lot.clone();
    }
    if let Some(at) = c.given_at {
        target.given_at = at;
    }
    target.voided = target.voided || c.void;
    doses.sort_by_key(|d| (d.given_at, d.recorded_at));
    let mut n = 0u8;
    for d in doses.iter_mut().filter(|d| !d.voided) {
        n += 1;
        d.dose_number = n;
    }
    let corrected = doses.iter().find(|d| d.id == id).cloned().ok_or(StoreError::NotFound("dose"))?;
    Ok((doses, corrected))
}

pub(crate) fn dose_event(dose: &Dose, corrected: bool) -> NewEvent {
    NewEvent {
        kind: if corrected { "dose.corrected" } else { "dose.recorded" },
        subject: dose.person.to_string(),
        unit_path: dose.home_path.clone(),
        payload: payload(&serde_json::json!({
            "dose": dose.id, "person": dose.person, "product": dose.product, "lot": dose.lot,
            "dose_number": dose.dose_number, "given_at": dose.given_at.unix_timestamp(), "voided": dose.voided,
        })),
        at: dose.recorded_at,
    }
}

pub(crate) fn invitation_event(invitation: &Invitation, session: &VaccinationSession, home_path: &str) -> NewEvent {
    let slot = session.slots.get(invitation.slot);
    NewEvent {
        kind: "invitation.sent",
        subject: invitation.person.to_string(),
        unit_path: home_path.to_owned(),
        payload: payload(&serde_json::json!({
            "invitation": invitation.id, "person": invitation.person, "session": session.id,
            "site": session.site_name, "date": session.date.to_string(), "product": session.product,
            "slot": slot.map(|s| serde_json::to_value(s).unwrap_or_default()),
            "dose_number": invitation.dose_number,
        })),
        at: invitation.offered_at,
    }
}

/// The status of a stored registration as a person's priority bucket, for coverage.
pub(crate) fn group_of(registration: Option<&(String, String)>) -> (Option<&str>, bool) {
    match registration {
        Some((group, comorbidities)) => (Some(group.as_str()), !comorbidities.trim().is_empty()),
        None => (None, false),
    }
}

/// Whether a registration row matches a new person by phone, folded name and birth.
pub(crate) fn match_key(person: &Person) -> Option<(String, String, String)> {
    let phone = person.phone.as_ref()?.as_str().to_owned();
    Some((phone, person.folded_name(), person.date_of_birth.to_string()))
}

pub(crate) fn slots_json(slots: &[Slot]) -> Result<String> {
    serde_json::to_string(slots).map_err(|e| StoreError::Backend(format!("slots do not serialise: {e}")))
}

pub(crate) fn slots_of(text: &str) -> Result<Vec<Slot>> {
    serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("stored slots do not parse: {e}")))
}

pub(crate) fn screening_json(answers: &[(String, bool)]) -> String {
    serde_json::Value::Object(answers.iter().map(|(k, v)| (k.clone(), serde_json::Value::Bool(*v))).collect())
        .to_string()
}
