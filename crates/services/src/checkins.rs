//! Venues, check-ins and health declarations (platform 1).
//!
//! Check-ins arrive from posters (a citizen's phone), from venue staff (a scanned personal
//! QR or a typed identifier) and in batches from gate systems. All of them go through one
//! group-commit writer: concurrent requests are gathered into one store transaction, so a
//! busy server commits thousands of check-ins per disk sync instead of one.

use outbreak_domain::venue::{
    NewDeclaration, NewVenue, REPEAT_WINDOW, VENUE_CODE_ALPHABET, VenueId, Visitor, check_time, is_venue_code,
};
use outbreak_domain::{Cccd, InsuranceNumber, Invalid, Permission, PersonId, Phone, Principal, UnitLevel, now, text};
use outbreak_store::{
    Checkin, CheckinOutcome, Declaration, DeclarationFilter, NewAuditEntry, NewCheckin, NewDeclarationRecord,
    PersonQuery, Venue,
};
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Caller, Result, ServiceError, Services, audit_entry};

/// Items in one batch request, at most.
pub const MAX_BATCH: usize = 10_000;
/// Check-ins gathered into one store transaction, at most. Visitors' index keys are
/// scattered, so a transaction dirties index pages all over, and a commit writes each page it
/// dirtied once however many rows it took: larger groups write fewer pages a check-in. A group
/// of 50,000 holds the writer for up to about 0.4 s on this machine; groups of 20,000 ingested
/// 4–13% fewer batched check-ins a second (`docs/benchmarks.md`).
const MAX_COMMIT: usize = 50_000;

/// Who checked in, as a client identifies them; exactly one field is set.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct VisitorId {
    /// A scanned personal QR: the token or the whole URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cccd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<Uuid>,
    /// A phone number, for visitors the client knows only by phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The name given with a phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl VisitorId {
    /// What staff typed or a hand scanner typed into one box: a scanned personal QR (its
    /// URL or token), a CCCD (12 digits), or else a health-insurance number.
    pub fn from_typed(typed: &str) -> VisitorId {
        let compact: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains("/q/") || compact.matches('.').count() == 2 {
            VisitorId { qr: Some(compact), ..VisitorId::default() }
        } else if compact.len() == 12 && compact.bytes().all(|b| b.is_ascii_digit()) {
            VisitorId { cccd: Some(compact), ..VisitorId::default() }
        } else {
            VisitorId { insurance_number: Some(compact), ..VisitorId::default() }
        }
    }
}

/// One check-in sent by a client.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CheckinItem {
    /// The client's own id for the item; a retried item with the same id is stored once.
    pub client_id: Option<String>,
    /// The venue's code.
    pub venue: String,
    pub visitor: VisitorId,
    /// When the visitor arrived; now when absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<OffsetDateTime>,
    /// When the visitor left, when known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub left_at: Option<OffsetDateTime>,
}

/// What became of one item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `stored`, `repeat` (the same visit was already recorded) or `refused`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkin_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A recorded check-in, as the visitor or the venue sees it: no identity.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Receipt {
    pub checkin_id: i64,
    /// False when this was a repeat of a visit already recorded.
    pub new_visit: bool,
    pub venue_name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// Today at a venue, for its owner: how many, and who was flagged — without names.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VenueToday {
    pub checkins_today: u64,
    pub flagged_arrivals: Vec<FlaggedArrival>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlaggedArrival {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    pub symptoms: Vec<String>,
    pub f0_contact: bool,
}

/// A batch on its way to the store and the channel its outcomes come back on.
struct Job {
    checkins: Vec<NewCheckin>,
    /// The audit entry for the batch, committed in the same transaction.
    audit: Option<NewAuditEntry>,
    reply: oneshot::Sender<Result<Vec<CheckinOutcome>>>,
}

/// The group-commit writer: one task gathers the waiting batches into one transaction, with
/// up to `GROUPS_IN_FLIGHT` transactions between it and the disk.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// Groups committed at once: while one waits for the disk, the next is already written.
const GROUPS_IN_FLIGHT: usize = 3;

impl Writer {
    fn start(store: std::sync::Arc<dyn outbreak_store::Store>) -> Writer {
        let (jobs, mut waiting) = mpsc::channel::<Job>(4096);
        let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(GROUPS_IN_FLIGHT));
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                // Gathering waits for a free slot, so that a group grows while the store is busy.
                let Ok(slot) = in_flight.clone().acquire_owned().await else { return };
                let mut gathered = vec![first];
                let mut count = gathered[0].checkins.len();
                while count < MAX_COMMIT {
                    match waiting.try_recv() {
                        Ok(job) => {
                            count += job.checkins.len();
                            gathered.push(job);
                        }
                        Err(_) => break,
                    }
                }
                let store = store.clone();
                tokio::spawn(async move {
                    commit(&*store, gathered).await;
                    drop(slot);
                });
            }
        });
        Writer { jobs }
    }
}

/// Commits gathered jobs in one transaction. A failure there is the store's (a full disk, a
/// lost connection), not one batch's — every item was checked before it was queued — so
/// every job of the group gets the error.
async fn commit(store: &dyn outbreak_store::Store, jobs: Vec<Job>) {
    let mut checkins = Vec::with_capacity(jobs.iter().map(|j| j.checkins.len()).sum());
    let mut audit = Vec::new();
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        replies.push((job.checkins.len(), job.reply));
        checkins.extend(job.checkins);
        audit.extend(job.audit);
    }
    let audit = merge_batch_entries(audit);
    match store.record_checkins(checkins, REPEAT_WINDOW, audit).await {
        Ok(outcomes) => {
            let mut rest = outcomes.into_iter();
            for (count, reply) in replies {
                let _ = reply.send(Ok(rest.by_ref().take(count).collect()));
            }
        }
        Err(error) => {
            let message = error.to_string();
            tracing::error!(error = %message, "committing check-ins failed");
            for (_, reply) in replies {
                let _ = reply.send(Err(ServiceError::Internal(message.clone())));
            }
        }
    }
}

/// A check-in at `venue` by `visitor`; the visit ends at `left_at` (at most
/// `LONGEST_STAY` later: the tracing queries look back no further), or after the venue
/// kind's usual stay.
fn checkin(
    venue: &Venue,
    visitor: &Visitor,
    name: String,
    at: OffsetDateTime,
    left_at: Option<OffsetDateTime>,
    source: &str,
    client_key: Option<String>,
) -> NewCheckin {
    let planned_end = at + venue.kind.default_stay();
    NewCheckin {
        venue: venue.id,
        visitor: visitor.key(),
        name,
        at,
        until: left_at
            .filter(|left| *left >= at)
            .unwrap_or(planned_end)
            .min(at + outbreak_domain::tracing::LONGEST_STAY),
        source: source.to_owned(),
        client_key,
    }
}

/// One audit entry per client and transaction for batch recording: a gate posting a
/// visitor at a time would otherwise write as many audit rows as check-ins.
fn merge_batch_entries(entries: Vec<NewAuditEntry>) -> Vec<NewAuditEntry> {
    let mut merged: Vec<(NewAuditEntry, usize)> = Vec::new();
    for entry in entries {
        let count = entry.detail.split(' ').next().and_then(|n| n.parse::<usize>().ok());
        let same = merged.iter_mut().find(|(m, _)| {
            entry.action == BATCH_ACTION
                && m.action == BATCH_ACTION
                && m.actor == entry.actor
                && m.client == entry.client
        });
        match (same, count) {
            (Some((_, total)), Some(count)) => *total += count,
            _ => merged.push((entry, count.unwrap_or(0))),
        }
    }
    merged
        .into_iter()
        .map(|(entry, total)| {
            if entry.action == BATCH_ACTION {
                NewAuditEntry { detail: format!("{total} check-ins"), ..entry }
            } else {
                entry
            }
        })
        .collect()
}

const BATCH_ACTION: &str = "checkin.batch";

fn new_venue_code() -> String {
    let mut rng = rand::thread_rng();
    (0..8).map(|_| VENUE_CODE_ALPHABET[rng.gen_range(0..VENUE_CODE_ALPHABET.len())] as char).collect()
}

fn refused(index: usize, client_id: Option<String>, error: ServiceError) -> ItemResult {
    let (code, message, field) = match error {
        ServiceError::Invalid(i) => (i.code.to_owned(), i.message, Some(i.field)),
        ServiceError::NotFound(what) => ("not_found".to_owned(), format!("{what} not found"), None),
        ServiceError::Forbidden(message) => ("forbidden".to_owned(), message, None),
        ServiceError::Conflict { message, field, .. } => ("conflict".to_owned(), message, Some(field)),
        other => ("refused".to_owned(), other.to_string(), None),
    };
    ItemResult {
        index,
        client_id,
        status: "refused",
        checkin_id: None,
        error: Some(ItemError { code, message, field }),
    }
}

impl Services {
    /// Sends check-ins (and the audit entry for them) through the group-commit writer and
    /// waits until they are durable.
    async fn commit_checkins(
        &self,
        checkins: Vec<NewCheckin>,
        audit: Option<NewAuditEntry>,
    ) -> Result<Vec<CheckinOutcome>> {
        if checkins.is_empty() {
            return Ok(Vec::new());
        }
        let writer = self.checkin_writer.get_or_init(|| Writer::start(self.store.clone()));
        let (reply, outcome) = oneshot::channel();
        writer
            .jobs
            .send(Job { checkins, audit, reply })
            .await
            .map_err(|_| ServiceError::Internal("the check-in writer has stopped".into()))?;
        outcome.await.map_err(|_| ServiceError::Internal("the check-in writer dropped a batch".into()))?
    }

    /// A venue by the code on its poster.
    pub async fn venue_by_code(&self, code: &str) -> Result<Venue> {
        Ok(Venue::clone(&*self.cached_venue(code).await?))
    }

    /// A venue by code, from a cache that keeps it a few seconds: every check-in needs it.
    async fn cached_venue(&self, code: &str) -> Result<Arc<Venue>> {
        let code = code.trim().to_uppercase();
        if let Some(venue) = self.venues.get(&code) {
            return Ok(venue);
        }
        let not_found = || ServiceError::NotFound(format!("venue {code}"));
        if !is_venue_code(&code) {
            return Err(not_found());
        }
        let venue = Arc::new(self.store.venue_by_code(&code).await?.ok_or_else(not_found)?);
        self.venues.put(code, venue.clone());
        Ok(venue)
    }

    fn can_manage_venue(&self, caller: &Caller, venue: &Venue) -> bool {
        match &caller.principal {
            Principal::Citizen { phone } => venue.owner_phone.as_ref() == Some(phone),
            Principal::Staff { .. } => caller.principal.may(Permission::ManageVenues, &venue.unit_path),
        }
    }

    /// Registers a venue: a citizen becomes its owner; staff register venues in their units.
    pub async fn register_venue(&self, caller: &Caller, input: &NewVenue) -> Result<Venue> {
        let valid = input.validate()?;
        let unit = self
            .store
            .unit(&valid.unit)
            .await?
            .ok_or_else(|| Invalid::new("unit", "unknown_unit", "unit is not a known unit code"))?;
        if unit.level < UnitLevel::Commune {
            return Err(Invalid::new("unit", "too_broad", "a venue must be in a commune or a unit below it").into());
        }
        let owner_phone = match &caller.principal {
            Principal::Citizen { phone } => Some(phone.clone()),
            Principal::Staff { .. } => {
                self.authorize_unit(caller, Permission::ManageVenues, &unit.path)?;
                None
            }
        };
        for _ in 0..5 {
            let venue = Venue {
                id: VenueId(Uuid::now_v7()),
                code: new_venue_code(),
                name: valid.name.clone(),
                kind: valid.kind,
                plate: valid.plate.clone(),
                unit: unit.code.clone(),
                unit_path: unit.path.clone(),
                address: valid.address.clone(),
                contact_phone: valid.contact_phone.clone(),
                owner_phone: owner_phone.clone(),
                active: true,
                created_at: now(),
            };
            match self.store.insert_venue(&venue).await {
                Ok(()) => {
                    self.audit(caller, "venue.create", "venue", &venue.id.to_string(), &venue.code).await?;
                    return Ok(venue);
                }
                // A code already taken: draw another.
                Err(outbreak_store::StoreError::Conflict { field: "code", .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Internal("no free venue code after five draws".into()))
    }

    /// The venues a caller manages: a citizen's own, or those in a staff member's units.
    /// Staff see the venues they manage, or else (tracers) those whose visitors they may read.
    pub async fn my_venues(&self, caller: &Caller) -> Result<Vec<Venue>> {
        match &caller.principal {
            Principal::Citizen { phone } => Ok(self.store.venues_owned_by(phone).await?),
            Principal::Staff { .. } => {
                let managed = caller.principal.jurisdiction(Permission::ManageVenues);
                let scope =
                    if managed.is_empty() { caller.principal.jurisdiction(Permission::ReadCheckins) } else { managed };
                Ok(self.store.venues(&scope.paths, 500).await?)
            }
        }
    }

    /// A venue its owner or staff may manage; `Forbidden` otherwise.
    pub async fn managed_venue(&self, caller: &Caller, code: &str) -> Result<Venue> {
        let venue = self.venue_by_code(code).await?;
        if self.can_manage_venue(caller, &venue) {
            Ok(venue)
        } else {
            Err(ServiceError::Forbidden("only the venue's owner or its commune's staff manage it".into()))
        }
    }

    /// Deactivates or reactivates a venue; a deactivated venue refuses check-ins.
    pub async fn set_venue_active(&self, caller: &Caller, code: &str, active: bool) -> Result<Venue> {
        let venue = self.managed_venue(caller, code).await?;
        self.store.set_venue_active(venue.id, active).await?;
        self.venues.forget(&venue.code);
        let action = if active { "venue.activate" } else { "venue.deactivate" };
        self.audit(caller, action, "venue", &venue.id.to_string(), &venue.code).await?;
        Ok(Venue { active, ..venue })
    }

    /// The venue for a check-in: known and active.
    async fn open_venue(&self, code: &str) -> Result<Arc<Venue>> {
        let venue = self.cached_venue(code).await?;
        if !venue.active {
            return Err(ServiceError::Invalid(Invalid::new(
                "venue",
                "venue_inactive",
                format!("{} no longer takes check-ins", venue.name),
            )));
        }
        Ok(venue)
    }

    async fn receipt(&self, venue: &Venue, checkin: NewCheckin, audit: Option<NewAuditEntry>) -> Result<Receipt> {
        let at = checkin.at;
        let outcome = self.commit_checkins(vec![checkin], audit).await?;
        let outcome = outcome.first().copied().ok_or_else(|| ServiceError::Internal("no outcome".into()))?;
        Ok(Receipt {
            checkin_id: outcome.id(),
            new_visit: matches!(outcome, CheckinOutcome::Stored(_)),
            venue_name: venue.name.clone(),
            at,
        })
    }

    /// A signed-in citizen checks in with one tap, for themselves or a person on their phone.
    pub async fn check_in_self(&self, caller: &Caller, code: &str, person: Option<PersonId>) -> Result<Receipt> {
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("staff check people in by scanning their QR".into()));
        };
        let venue = self.open_venue(code).await?;
        let (visitor, name) = match person {
            Some(id) => {
                let record = self.person(caller, id).await?;
                (Visitor::Person(id), record.person.full_name)
            }
            None => match self.store.people_by_phone(phone).await?.as_slice() {
                [only] => (Visitor::Person(only.id()), only.person.full_name.clone()),
                _ => (Visitor::Phone(phone.clone()), String::new()),
            },
        };
        self.receipt(&venue, checkin(&venue, &visitor, name, now(), None, "poster", None), None).await
    }

    /// A visitor who is not signed in checks in with their phone and name; they see the
    /// visit once they sign in with that phone.
    pub async fn check_in_with_phone(&self, code: &str, phone: &str, name: &str) -> Result<Receipt> {
        let venue = self.open_venue(code).await?;
        let phone = Phone::parse("phone", phone)?;
        let name = outbreak_domain::error::text_field("name", name, 100, true)?;
        let folded = text::fold(&name);
        let known = self.store.people_by_phone(&phone).await?;
        let visitor = match known.iter().find(|p| p.person.folded_name() == folded) {
            Some(record) => Visitor::Person(record.id()),
            None => Visitor::Phone(phone),
        };
        self.receipt(&venue, checkin(&venue, &visitor, name, now(), None, "poster", None), None).await
    }

    /// The person an identifier names, without telling the caller who it is.
    pub(crate) async fn identify(&self, id: &VisitorId) -> Result<(Visitor, String)> {
        let by = |query: PersonQuery| async move {
            let query = PersonQuery { scope: vec!["/".into()], limit: 1, ..query };
            self.store.search_people(&query).await
        };
        let not_known = |field: &str| {
            ServiceError::Invalid(Invalid::new(
                field,
                "unknown_person",
                format!("no person is registered with this {field}"),
            ))
        };
        let given = [
            id.qr.is_some(),
            id.cccd.is_some(),
            id.insurance_number.is_some(),
            id.person_id.is_some(),
            id.phone.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(Invalid::new(
                "visitor",
                "one_of",
                "give exactly one of qr, cccd, insurance_number, person_id, phone",
            )
            .into());
        }
        if let Some(token) = &id.qr {
            let person = self.verify_personal_qr(token).await.map_err(|_| {
                ServiceError::Invalid(Invalid::new(
                    "visitor.qr",
                    "invalid_qr",
                    "this personal QR is not valid or was revoked",
                ))
            })?;
            return Ok((Visitor::Person(person), String::new()));
        }
        if let Some(cccd) = &id.cccd {
            let cccd = Cccd::parse("visitor.cccd", cccd)?;
            let found = by(PersonQuery { cccd: Some(cccd.as_str().into()), ..PersonQuery::default() }).await?;
            return found
                .first()
                .map(|r| (Visitor::Person(r.id()), r.person.full_name.clone()))
                .ok_or_else(|| not_known("cccd"));
        }
        if let Some(number) = &id.insurance_number {
            let number = InsuranceNumber::parse("visitor.insurance_number", number)?;
            let found =
                by(PersonQuery { insurance_number: Some(number.as_str().into()), ..PersonQuery::default() }).await?;
            return found
                .first()
                .map(|r| (Visitor::Person(r.id()), r.person.full_name.clone()))
                .ok_or_else(|| not_known("insurance number"));
        }
        if let Some(person) = id.person_id {
            let record = self.store.person(PersonId(person)).await?.ok_or_else(|| not_known("person_id"))?;
            return Ok((Visitor::Person(record.id()), record.person.full_name));
        }
        let phone = Phone::parse("visitor.phone", id.phone.as_deref().unwrap_or_default())?;
        let name =
            outbreak_domain::error::text_field("visitor.name", id.name.as_deref().unwrap_or_default(), 100, false)?;
        Ok((Visitor::Phone(phone), name))
    }

    /// May this caller record check-ins of others at this venue?
    fn may_record_at(&self, caller: &Caller, venue: &Venue) -> Result<()> {
        let allowed = match &caller.principal {
            Principal::Citizen { phone } => venue.owner_phone.as_ref() == Some(phone),
            Principal::Staff { .. } => caller.principal.may(Permission::RecordCheckins, &venue.unit_path),
        };
        if allowed {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!("you cannot record check-ins at {}", venue.name)))
        }
    }

    /// Venue staff check a visitor in by their personal QR, CCCD or insurance number.
    pub async fn check_in_by_staff(&self, caller: &Caller, code: &str, visitor: &VisitorId) -> Result<Receipt> {
        let venue = self.open_venue(code).await?;
        self.may_record_at(caller, &venue)?;
        let (visitor, name) = self.identify(visitor).await?;
        // Staff identified a person: that is a use of personal data, audited with the visit.
        let audit = match (&caller.principal, &visitor) {
            (Principal::Staff { .. }, Visitor::Person(person)) => {
                Some(audit_entry(caller, "checkin.staff", "person", &person.to_string(), &venue.code))
            }
            _ => None,
        };
        self.receipt(&venue, checkin(&venue, &visitor, name, now(), None, "staff", None), audit).await
    }

    /// Records a batch from a gate system. Every item is answered: stored, a repeat of a
    /// visit already recorded, or refused with the reason; good items are stored even when
    /// others are refused.
    pub async fn check_in_batch(&self, caller: &Caller, items: &[CheckinItem]) -> Result<Vec<ItemResult>> {
        if items.len() > MAX_BATCH {
            return Err(
                Invalid::new("items", "too_many", format!("send at most {MAX_BATCH} check-ins per request")).into()
            );
        }
        let account = match &caller.principal {
            Principal::Staff { account_id, .. } => account_id.to_string(),
            Principal::Citizen { phone } => phone.as_str().to_owned(),
        };
        let at_now = now();
        let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
        let mut accepted = Vec::with_capacity(items.len());
        let mut positions = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match self.prepare_item(caller, &account, item, at_now).await {
                Ok(checkin) => {
                    accepted.push(checkin);
                    positions.push(index);
                }
                Err(error) => results[index] = Some(refused(index, item.client_id.clone(), error)),
            }
        }
        // One entry per request: a gate's stream of visitors is one act of recording.
        let audit = (!accepted.is_empty())
            .then(|| audit_entry(caller, BATCH_ACTION, "venue", "", &format!("{} check-ins", accepted.len())));
        let outcomes = self.commit_checkins(accepted, audit).await?;
        for (index, outcome) in positions.into_iter().zip(outcomes) {
            results[index] = Some(ItemResult {
                index,
                client_id: items[index].client_id.clone(),
                status: if matches!(outcome, CheckinOutcome::Stored(_)) { "stored" } else { "repeat" },
                checkin_id: Some(outcome.id()),
                error: None,
            });
        }
        Ok(results.into_iter().flatten().collect())
    }

    async fn prepare_item(
        &self,
        caller: &Caller,
        account: &str,
        item: &CheckinItem,
        at_now: OffsetDateTime,
    ) -> Result<NewCheckin> {
        let client_key = match item.client_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) if id.len() > 100 => {
                return Err(Invalid::new("client_id", "too_long", "client_id must be at most 100 characters").into());
            }
            Some(id) => Some(format!("{account}:{id}")),
        };
        let venue = self.open_venue(&item.venue).await?;
        self.may_record_at(caller, &venue)?;
        let at = item.at.unwrap_or(at_now);
        check_time("at", at, at_now, self.config.retention)?;
        if let Some(left) = item.left_at
            && left < at
        {
            return Err(Invalid::new("left_at", "before_arrival", "left_at is before at").into());
        }
        let (visitor, name) = self.identify(&item.visitor).await?;
        Ok(checkin(&venue, &visitor, name, at, item.left_at, "api", client_key))
    }

    /// The visitors a citizen's phone stands for: the phone itself and its people.
    async fn visitors_of(&self, phone: &Phone) -> Result<Vec<String>> {
        let mut visitors = vec![Visitor::Phone(phone.clone()).key()];
        visitors.extend(self.store.people_by_phone(phone).await?.iter().map(|r| Visitor::Person(r.id()).key()));
        Ok(visitors)
    }

    /// Ends a visit now.
    pub async fn check_out(&self, caller: &Caller, checkin_id: i64) -> Result<()> {
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("visitors check themselves out".into()));
        };
        for visitor in self.visitors_of(phone).await? {
            if self.store.check_out(checkin_id, &visitor, now()).await.is_ok() {
                return Ok(());
            }
        }
        Err(ServiceError::NotFound("check-in".into()))
    }

    /// A citizen's check-ins and declarations of the last 21 days.
    pub async fn diary(&self, caller: &Caller) -> Result<(Vec<Checkin>, Vec<Declaration>)> {
        let Principal::Citizen { phone } = &caller.principal else {
            return Err(ServiceError::Forbidden("this is a citizen's own diary".into()));
        };
        let visitors = self.visitors_of(phone).await?;
        let since = now() - Duration::days(21);
        let checkins = self.store.checkins_of(&visitors, since).await?;
        let filter = DeclarationFilter {
            visitors: Some(visitors),
            since: Some(since),
            limit: 500,
            ..DeclarationFilter::default()
        };
        Ok((checkins, self.store.declarations(&filter).await?))
    }

    /// Records a health declaration, at a venue or on its own. Without a sign-in the phone
    /// is required. Returns whether it was flagged (symptoms or contact with an F0).
    pub async fn declare(
        &self,
        caller: Option<&Caller>,
        venue_code: Option<&str>,
        phone: Option<&str>,
        input: &NewDeclaration,
    ) -> Result<bool> {
        let valid = input.validate(now().date())?;
        let venue = match venue_code.map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => Some(self.open_venue(code).await?),
            None => None,
        };
        let phone = match caller.map(|c| &c.principal) {
            Some(Principal::Citizen { phone }) => phone.clone(),
            _ => Phone::parse("phone", phone.unwrap_or_default())?,
        };
        let people = self.store.people_by_phone(&phone).await?;
        let person = match people.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        let mut units = Vec::new();
        if let Some(movement) = &valid.movement {
            for code in [&movement.from_unit, &movement.to_unit] {
                let unit = self.store.unit(code).await?.ok_or_else(|| {
                    Invalid::new("movement", "unknown_unit", format!("{code} is not a known unit code"))
                })?;
                units.push(unit);
            }
        }
        // The health station that must see it: the venue's, else the person's, else the
        // place the traveller is going to.
        let unit_path = venue
            .as_ref()
            .map(|v| v.unit_path.clone())
            .or_else(|| person.as_ref().map(|p| p.address_path.clone()))
            .or_else(|| units.get(1).map(|u| u.path.clone()))
            .ok_or_else(|| {
                Invalid::new("venue", "required", "declare at a venue, sign in, or give the journey's destination")
            })?;
        let flagged = valid.flagged();
        let record = NewDeclarationRecord {
            visitor: match &person {
                Some(p) => Visitor::Person(p.id()).key(),
                None => Visitor::Phone(phone.clone()).key(),
            },
            person: person.as_ref().map(|p| p.id()),
            phone: Some(phone),
            venue: venue.as_ref().map(|v| v.id),
            at: now(),
            symptoms: valid.symptoms.iter().map(|s| s.as_str().to_owned()).collect(),
            f0_contact: valid.f0_contact,
            places_visited: valid.places_visited,
            move_from: valid.movement.as_ref().map(|m| m.from_unit.clone()),
            move_to: valid.movement.as_ref().map(|m| m.to_unit.clone()),
            move_date: valid.movement.as_ref().map(|m| m.date),
            vehicle: valid.movement.map(|m| m.vehicle).unwrap_or_default(),
            flagged,
            unit_path,
        };
        self.store.insert_declaration(&record).await?;
        Ok(flagged)
    }

    /// Today at a venue, for its owner or staff: the count and the flagged arrivals.
    pub async fn venue_today(&self, caller: &Caller, code: &str) -> Result<VenueToday> {
        let venue = self.managed_venue(caller, code).await?;
        let midnight = local_midnight(now());
        let checkins_today = self.store.count_venue_checkins(venue.id, midnight).await?;
        let filter = DeclarationFilter {
            venue: Some(venue.id),
            flagged_only: true,
            since: Some(midnight),
            limit: 200,
            ..DeclarationFilter::default()
        };
        let flagged_arrivals = self
            .store
            .declarations(&filter)
            .await?
            .into_iter()
            .map(|d| FlaggedArrival { at: d.record.at, symptoms: d.record.symptoms, f0_contact: d.record.f0_contact })
            .collect();
        Ok(VenueToday { checkins_today, flagged_arrivals })
    }

    /// Who was at a venue on a day: commune staff only, and audited.
    pub async fn visitor_log(
        &self,
        caller: &Caller,
        code: &str,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<Checkin>> {
        let venue = self.venue_by_code(code).await?;
        self.authorize_unit(caller, Permission::ReadCheckins, &venue.unit_path)?;
        let log = self.store.venue_checkins(venue.id, since, until, 5_000).await?;
        self.audit(caller, "venue.visitors", "venue", &venue.id.to_string(), &format!("{} visits", log.len())).await?;
        Ok(log)
    }

    /// Flagged declarations in the caller's units, for the commune health station (audited).
    pub async fn flagged_declarations(&self, caller: &Caller, since: OffsetDateTime) -> Result<Vec<Declaration>> {
        let scope = self.authorize(caller, Permission::ReadCheckins)?;
        let filter = DeclarationFilter {
            flagged_only: true,
            scope: Some(scope.paths),
            since: Some(since),
            limit: 500,
            ..DeclarationFilter::default()
        };
        let found = self.store.declarations(&filter).await?;
        self.audit(caller, "declaration.list", "declaration", "", &format!("{} flagged", found.len())).await?;
        Ok(found)
    }

    /// Deletes check-ins and declarations older than the retention period.
    pub async fn purge_expired(&self) -> Result<(u64, u64)> {
        Ok(self.store.purge_before(now() - self.config.retention).await?)
    }

    /// Runs the retention job every `interval` until the process ends.
    pub async fn run_retention(self, interval: std::time::Duration) {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            match self.purge_expired().await {
                Ok((checkins, declarations)) => {
                    if checkins + declarations > 0 {
                        tracing::info!(checkins, declarations, "retention: deleted expired records");
                    }
                }
                Err(e) => tracing::error!(error = %e, "retention job failed"),
            }
        }
    }
}

/// The start of today in Vietnam (UTC+7), as an instant.
pub fn local_midnight(at: OffsetDateTime) -> OffsetDateTime {
    let local = at.to_offset(time::macros::offset!(+7));
    local.replace_time(time::Time::MIDNIGHT).to_offset(time::UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_ids_are_told_apart() {
        assert_eq!(VisitorId::from_typed("0010 8701 2345").cccd.as_deref(), Some("001087012345"));
        assert_eq!(VisitorId::from_typed("DN4010123456789").insurance_number.as_deref(), Some("DN4010123456789"));
        assert_eq!(VisitorId::from_typed("0123456789").insurance_number.as_deref(), Some("0123456789"));
        let scanned = VisitorId::from_typed("https://outbreak.example.vn/q/k1.abc.def");
        assert_eq!(scanned.qr.as_deref(), Some("https://outbreak.example.vn/q/k1.abc.def"));
    }
}
