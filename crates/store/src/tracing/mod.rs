//! The tracing part of the contract: who was where with whom (co-presence over check-ins),
//! who shares a household, and the contacts of each case with their follow-up.
//!
//! The co-presence look-up reads the sources' check-ins by the `(visitor_key, at)` index,
//! then the other stays at the same venues from the `(venue_key, at)` index alone (it
//! carries `until` and `visitor_key`), ranks them here — one rule for both stores — and
//! reads the rows of the listed check-ins only. Contacts are unique per case and visitor, so
//! tracing a case again adds only who is new, named in `contacts.identified` events.

use std::collections::HashMap;

use async_trait::async_trait;
use outbreak_domain::testing::CaseId;
use outbreak_domain::tracing::{
    ContactId, ContactKind, ContactStatus, Evidence, ExposureEvidence, ExposureId, Stay, copresence_margin,
};
use outbreak_domain::venue::{VenueId, VenueKind};
use outbreak_domain::{PersonId, Phone, UnitCode};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::testing::columns::{day, word};
use crate::testing::plan::{NewEvent, payload};
use crate::{NewAuditEntry, Result, StoreError};

/// Whose check-ins to look at, and when: a case in its infectious window, an F1 from their
/// exposure on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// A visitor key (`Visitor::key()`).
    pub visitor: String,
    pub from: OffsetDateTime,
    pub until: OffsetDateTime,
}

/// Another visitor's check-in whose stay met a source's stay at the same venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoPresence {
    /// The source visitor whose stay this one met.
    pub source: String,
    pub source_checkin: i64,
    /// The source's stay, cut to the source's window.
    pub source_stay: Stay,
    pub venue: VenueId,
    pub venue_code: String,
    pub venue_name: String,
    pub venue_kind: VenueKind,
    pub venue_path: String,
    pub checkin: i64,
    pub visitor: String,
    pub person: Option<PersonId>,
    /// The person's registered name when known, else the name given at the door.
    pub name: String,
    /// The person's registered phone when known, else the phone checked in with.
    pub phone: Option<Phone>,
    /// Where the person lives, when the visitor is a known person.
    pub home_path: Option<String>,
    pub stay: Stay,
    /// Other check-ins that met this source visit, listed or not (a hub has thousands).
    pub met: u64,
}

/// A member of the household of one of the people asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdMember {
    /// The person whose household this is.
    pub of: PersonId,
    pub household: UnitCode,
    pub person: PersonId,
    pub full_name: String,
    pub phone: Option<Phone>,
    pub address_path: String,
}

/// A contact to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub id: ContactId,
    pub case: CaseId,
    /// 1 for an F1, 2 for an F2.
    pub generation: u8,
    /// For an F2: the visitor key of the F1 through whom they were found; the store links
    /// the F1's contact, whichever run of tracing recorded it.
    pub via_visitor: Option<String>,
    pub person: Option<PersonId>,
    pub visitor: String,
    pub name: String,
    pub phone: Option<Phone>,
    pub evidence: Evidence,
    /// The last exposure found; the due dates follow from it.
    pub exposure_at: OffsetDateTime,
    /// Whose tracers follow the contact up: where they live, else where they met the case.
    pub unit_path: String,
    pub quarantine_until: OffsetDateTime,
    pub test_days: Vec<Date>,
    pub created_at: OffsetDateTime,
}

/// A contact of a case, with where its follow-up stands.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Contact {
    pub id: ContactId,
    pub case: CaseId,
    pub generation: u8,
    /// For an F2, the F1 contact through whom they were found.
    pub via: Option<ContactId>,
    pub person: Option<PersonId>,
    /// `Visitor::key()`: a person's id or `tel:+84…`.
    pub visitor: String,
    pub name: String,
    pub phone: Option<Phone>,
    pub kind: ContactKind,
    pub evidence: Evidence,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub exposure_at: OffsetDateTime,
    pub unit_path: String,
    pub status: ContactStatus,
    pub note: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub quarantine_until: OffsetDateTime,
    #[schema(value_type = Vec<String>)]
    pub test_days: Vec<Date>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// How many contacts of a case are of one generation and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContactCount {
    pub generation: u8,
    pub status: ContactStatus,
    pub contacts: u64,
}

/// A tracers' queue: contacts living (or met) in a scope, in these statuses, the longest
/// waiting first.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Unit paths the contacts' `unit_path` must lie under; empty finds nothing.
    pub scope: Vec<String>,
    /// Statuses to list; empty finds nothing.
    pub statuses: Vec<ContactStatus>,
    /// Only this person's contacts (a citizen's own page), when set.
    pub person: Option<PersonId>,
    pub limit: u32,
}

/// A venue declared exposed for a time window, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExposure {
    pub id: ExposureId,
    pub venue: VenueId,
    /// The venue's unit path: whose staff see the exposure.
    pub unit_path: String,
    pub window_from: OffsetDateTime,
    pub window_until: OffsetDateTime,
    pub reason: String,
    pub declared_by: String,
    pub created_at: OffsetDateTime,
}

/// A venue declared exposed for a time window, with how many contacts it lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Exposure {
    pub id: ExposureId,
    pub venue: VenueId,
    pub venue_code: String,
    pub venue_name: String,
    pub unit_path: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub window_from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub window_until: OffsetDateTime,
    pub reason: String,
    pub declared_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Contacts this declaration listed (people listed by an overlapping earlier one are
    /// not listed again).
    pub contacts: u64,
}

/// A contact of an exposure to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExposureContact {
    pub id: ContactId,
    pub person: Option<PersonId>,
    pub visitor: String,
    pub name: String,
    pub phone: Option<Phone>,
    pub evidence: ExposureEvidence,
    pub exposure_at: OffsetDateTime,
    pub unit_path: String,
    pub quarantine_until: OffsetDateTime,
    pub test_days: Vec<Date>,
    pub created_at: OffsetDateTime,
}

/// A contact of an exposure: someone checked in at the venue while it was exposed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ExposureContact {
    pub id: ContactId,
    pub exposure: ExposureId,
    pub person: Option<PersonId>,
    pub visitor: String,
    pub name: String,
    pub phone: Option<Phone>,
    pub kind: ContactKind,
    pub evidence: ExposureEvidence,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub exposure_at: OffsetDateTime,
    pub unit_path: String,
    pub status: ContactStatus,
    pub note: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub quarantine_until: OffsetDateTime,
    #[schema(value_type = Vec<String>)]
    pub test_days: Vec<Date>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

#[async_trait]
pub trait TracingStore {
    /// For each source, its check-ins whose stay overlaps `[from, until)` (cut to it), and
    /// the check-ins of other visitors at the same venue (one venue to an index key) whose
    /// stay meets that stay within the venue kind's margin. At most `cap` are listed per
    /// source visit, the longest overlaps first, each carrying how many there were. Stays
    /// longer than [`outbreak_domain::tracing::LONGEST_STAY`] are seen from their first hours only.
    async fn copresence(&self, sources: &[Presence], cap: u32) -> Result<Vec<CoPresence>>;
    /// The other members of each person's household.
    async fn household_members(&self, people: &[PersonId]) -> Result<Vec<HouseholdMember>>;
    /// Records contacts in one transaction, F1s before F2s, with `contacts.identified`
    /// events naming the new ones and the audit entries. A visitor already a contact of
    /// the case is left as it is; returns the contacts that were new. `NotFound("case")`
    /// for an unknown case, and then nothing is stored.
    async fn insert_contacts(&self, contacts: Vec<NewContact>, audit: Vec<NewAuditEntry>) -> Result<Vec<Contact>>;
    async fn contact(&self, id: ContactId) -> Result<Option<Contact>>;
    /// A case's contacts, F1s first, then by kind and latest exposure, at most `limit`.
    async fn case_contacts(&self, case: CaseId, limit: u32) -> Result<Vec<Contact>>;
    async fn count_case_contacts(&self, case: CaseId) -> Result<Vec<ContactCount>>;
    /// Contacts matching the filter, the earliest quarantine end first.
    async fn contact_queue(&self, filter: &ContactFilter) -> Result<Vec<Contact>>;
    /// Moves a contact to `status` with `note`; `NotFound("contact")`, or `Refused` naming
    /// `status` when the move does not follow from where the contact stands.
    async fn update_contact(
        &self,
        id: ContactId,
        status: ContactStatus,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<Contact>;
    /// Records an exposure and its contacts in one transaction, with `contacts.identified`
    /// events naming the new ones and the audit entries. A visitor already listed by this
    /// exposure, or by another of the same venue whose window overlaps this one, is not
    /// listed again; returns the contacts that were new.
    async fn insert_exposure(
        &self,
        exposure: NewExposure,
        contacts: Vec<NewExposureContact>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<ExposureContact>>;
    async fn exposure(&self, id: ExposureId) -> Result<Option<Exposure>>;
    /// Exposures of venues inside `scope`, the newest declaration first.
    async fn exposures(&self, scope: &[String], limit: u32) -> Result<Vec<Exposure>>;
    /// An exposure's contacts, the latest exposure first.
    async fn exposure_contacts(&self, id: ExposureId, limit: u32) -> Result<Vec<ExposureContact>>;
    async fn exposure_contact(&self, id: ContactId) -> Result<Option<ExposureContact>>;
    /// The contacts of a visitor who checked in by phone alone (`tel:+84…`, no person),
    /// the latest exposure first: what their own page tells them once they sign in.
    async fn phone_contacts(&self, visitor: &str, limit: u32) -> Result<Vec<Contact>>;
    /// The exposures a visitor (`Visitor::key()`) was listed by, the latest exposure first:
    /// what their own page tells them.
    async fn visitor_exposure_contacts(&self, visitor: &str, limit: u32) -> Result<Vec<ExposureContact>>;
    /// Moves an exposure's contact to `status` with `note`, by the same rules as a case's
    /// contact: `NotFound("contact")`, or `Refused` naming `status`.
    async fn update_exposure_contact(
        &self,
        id: ContactId,
        status: ContactStatus,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<ExposureContact>;
}

/// The columns of a `contacts` row, in the order both stores select them.
pub(crate) const CONTACT_COLUMNS: &str = "id, case_id, generation, via, person_id, visitor, name, phone, kind, \
     evidence, exposure_at, unit_path, status, note, quarantine_until, test_days, created_at, updated_at";

pub(crate) struct ContactColumns {
    pub id: Uuid,
    pub case: Uuid,
    pub generation: i64,
    pub via: Option<Uuid>,
    pub person: Option<Uuid>,
    pub visitor: String,
    pub name: String,
    pub phone: Option<String>,
    pub kind: String,
    pub evidence: serde_json::Value,
    pub exposure_at: OffsetDateTime,
    pub unit_path: String,
    pub status: String,
    pub note: String,
    pub quarantine_until: OffsetDateTime,
    pub test_days: Vec<Date>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl ContactColumns {
    pub fn decode(self) -> Result<Contact> {
        let corrupt = |what: &str| StoreError::Backend(format!("stored contact {}: {what} does not parse", self.id));
        Ok(Contact {
            id: ContactId(self.id),
            case: CaseId(self.case),
            generation: u8::try_from(self.generation).map_err(|_| corrupt("generation"))?,
            via: self.via.map(ContactId),
            person: self.person.map(PersonId),
            visitor: self.visitor.clone(),
            name: self.name.clone(),
            phone: self.phone.as_deref().map(|p| Phone::parse("phone", p).map_err(|_| corrupt("phone"))).transpose()?,
            kind: word(ContactKind::parse, &self.kind)?,
            evidence: serde_json::from_value(self.evidence.clone()).map_err(|_| corrupt("evidence"))?,
            exposure_at: self.exposure_at,
            unit_path: self.unit_path,
            status: word(ContactStatus::parse, &self.status)?,
            note: self.note,
            quarantine_until: self.quarantine_until,
            test_days: self.test_days,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The columns of an `exposure_contacts` row, in the order both stores select them.
pub(crate) const EXPOSURE_CONTACT_COLUMNS: &str = "id, exposure_id, person_id, visitor, name, phone, kind, \
     evidence, exposure_at, unit_path, status, note, quarantine_until, test_days, created_at, updated_at";

/// The columns of an exposure as both stores select them (`e` exposures, `v` venues).
pub(crate) const EXPOSURE_COLUMNS: &str = "e.id, e.venue_id, v.code, v.name, e.unit_path, e.window_from, \
     e.window_until, e.reason, e.declared_by, e.created_at, \
     (SELECT count(*) FROM exposure_contacts x WHERE x.exposure_id = e.id)";

pub(crate) struct ExposureContactColumns {
    pub id: Uuid,
    pub exposure: Uuid,
    pub person: Option<Uuid>,
    pub visitor: String,
    pub name: String,
    pub phone: Option<String>,
    pub kind: String,
    pub evidence: serde_json::Value,
    pub exposure_at: OffsetDateTime,
    pub unit_path: String,
    pub status: String,
    pub note: String,
    pub quarantine_until: OffsetDateTime,
    pub test_days: Vec<Date>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl ExposureContactColumns {
    pub fn decode(self) -> Result<ExposureContact> {
        let corrupt =
            |what: &str| StoreError::Backend(format!("stored exposure contact {}: {what} does not parse", self.id));
        Ok(ExposureContact {
            id: ContactId(self.id),
            exposure: ExposureId(self.exposure),
            person: self.person.map(PersonId),
            visitor: self.visitor.clone(),
            name: self.name.clone(),
            phone: self.phone.as_deref().map(|p| Phone::parse("phone", p).map_err(|_| corrupt("phone"))).transpose()?,
            kind: word(ContactKind::parse, &self.kind)?,
            evidence: serde_json::from_value(self.evidence.clone()).map_err(|_| corrupt("evidence"))?,
            exposure_at: self.exposure_at,
            unit_path: self.unit_path,
            status: word(ContactStatus::parse, &self.status)?,
            note: self.note,
            quarantine_until: self.quarantine_until,
            test_days: self.test_days,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The kind of the outbox event that names new contacts: those of one case (or exposure),
/// generation and unit, up to [`CONTACTS_PER_EVENT`] of them. A trace records thousands
/// of contacts in a few dozen units, and an event for each contact was a fifth of the
/// time it took to record them (`docs/benchmarks.md`, issue 6).
pub const CONTACTS_IDENTIFIED: &str = "contacts.identified";

/// The most contacts one event names. The notifier moves its place in the outbox event by
/// event, so a crash in the middle of one sends at most this many messages twice.
pub const CONTACTS_PER_EVENT: usize = 100;

/// What a [`CONTACTS_IDENTIFIED`] event says. Its subject is the case or the exposure, its
/// unit the contacts' unit; the rest of each contact is in its record, which a consumer
/// reads (the notifier does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifiedContacts {
    /// The case whose contacts they are, or the exposure that made them contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<ExposureId>,
    pub generation: u8,
    pub contacts: Vec<ContactId>,
}

impl IdentifiedContacts {
    /// What `event` says, when it is a [`CONTACTS_IDENTIFIED`] event.
    pub fn of(event: &crate::Event) -> Option<IdentifiedContacts> {
        (event.kind == CONTACTS_IDENTIFIED).then(|| serde_json::from_value(event.payload.clone()).ok()).flatten()
    }
}

/// The outbox events for a case's new contacts: the notifier tells them by SMS.
pub(crate) fn identified_events(contacts: &[Contact]) -> Vec<NewEvent> {
    identified_groups(contacts.iter().map(|c| {
        let whose =
            IdentifiedContacts { case: Some(c.case), exposure: None, generation: c.generation, contacts: vec![] };
        (whose, c.unit_path.as_str(), c.id, c.created_at)
    }))
}

/// The outbox events for an exposure's new contacts.
pub(crate) fn exposure_identified_events(contacts: &[ExposureContact]) -> Vec<NewEvent> {
    identified_groups(contacts.iter().map(|c| {
        let whose = IdentifiedContacts { case: None, exposure: Some(c.exposure), generation: 1, contacts: vec![] };
        (whose, c.unit_path.as_str(), c.id, c.created_at)
    }))
}

/// What one event's contacts share: the case or exposure, the generation and the unit.
type Shared<'a> = (Option<CaseId>, Option<ExposureId>, u8, &'a str);

/// One event for each case or exposure, generation and unit, and each
/// [`CONTACTS_PER_EVENT`] contacts of those, in the order the contacts come.
fn identified_groups<'a>(
    contacts: impl Iterator<Item = (IdentifiedContacts, &'a str, ContactId, OffsetDateTime)>,
) -> Vec<NewEvent> {
    let mut filling: HashMap<Shared, usize> = HashMap::new();
    let mut groups: Vec<(IdentifiedContacts, &str, OffsetDateTime)> = Vec::new();
    for (whose, unit_path, id, at) in contacts {
        let key = (whose.case, whose.exposure, whose.generation, unit_path);
        let group = match filling.get(&key) {
            Some(&group) if groups[group].0.contacts.len() < CONTACTS_PER_EVENT => group,
            _ => {
                groups.push((whose, unit_path, at));
                filling.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[group].0.contacts.push(id);
    }
    groups
        .into_iter()
        .map(|(whose, unit_path, at)| NewEvent {
            kind: CONTACTS_IDENTIFIED,
            subject: whose
                .case
                .map(|c| c.to_string())
                .or_else(|| whose.exposure.map(|e| e.to_string()))
                .unwrap_or_default(),
            unit_path: unit_path.to_owned(),
            payload: payload(&whose),
            at,
        })
        .collect()
}

/// Test days as stored in SQLite and passed to PostgreSQL: `2026-05-12,2026-05-18`.
pub(crate) fn days_text(days: &[Date]) -> String {
    days.iter().map(Date::to_string).collect::<Vec<_>>().join(",")
}

pub(crate) fn days_of(text: &str) -> Result<Vec<Date>> {
    text.split(',').filter(|d| !d.is_empty()).map(day).collect()
}

/// A source's check-in as the co-presence search reads it by the visitor index, its stay cut
/// to the source's window.
#[derive(Debug, Clone)]
pub(crate) struct SourceVisit {
    pub checkin: i64,
    pub venue_key: i64,
    pub visitor_key: i64,
    pub visitor: String,
    pub venue: VenueId,
    pub code: String,
    pub name: String,
    pub kind: VenueKind,
    pub venue_path: String,
    pub stay: Stay,
}

impl SourceVisit {
    pub(crate) fn margin(&self) -> Duration {
        copresence_margin(self.kind)
    }
}

/// Another visitor's check-in at a source visit's venue whose stay meets it, as read from the
/// venue index alone (by venue and arrival, carrying the stay's end and the visitor key;
/// SQLite's also files stays by length and says which were made by phone): the stays are
/// ranked before any check-in row is read, so a hub's thousands of visitors cost index
/// entries, and only the listed ones cost rows. `visit` is the position of the source visit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meeting {
    pub visit: usize,
    pub checkin: i64,
    pub visitor_key: i64,
    pub at: OffsetDateTime,
    pub until: OffsetDateTime,
}

/// What the co-presence search reads of a listed check-in's row.
#[derive(Debug, Clone)]
pub(crate) struct MetVisitor {
    pub visitor: String,
    pub person: Option<PersonId>,
    /// The person's registered name and phone when known, else those given at the door.
    pub name: String,
    pub phone: Option<Phone>,
    pub home_path: Option<String>,
}

/// Per source visit, the `cap` meetings that lasted longest (then the earliest arrival, then
/// the lowest id), each with how many met that visit in all: one ranking for both stores.
/// A hub visit meets thousands and the F2 search reads hundreds of thousands of meetings:
/// each visit's best are selected, and only they are sorted.
pub(crate) fn rank_meetings(visits: usize, meetings: &[Meeting], stays: &[Stay], cap: u32) -> Vec<(Meeting, u64)> {
    type Rank = (std::cmp::Reverse<Duration>, OffsetDateTime, i64);
    let mut by_visit: Vec<Vec<(Rank, Meeting)>> = vec![Vec::new(); visits];
    for m in meetings {
        let s = &stays[m.visit];
        let together = s.until.min(m.until) - s.at.max(m.at);
        by_visit[m.visit].push(((std::cmp::Reverse(together), m.at, m.checkin), *m));
    }
    let mut listed = Vec::new();
    for group in &mut by_visit {
        let all = group.len() as u64;
        let keep = (cap as usize).min(group.len());
        if keep < group.len() {
            group.select_nth_unstable_by_key(keep, |(rank, _)| *rank);
            group.truncate(keep);
        }
        group.sort_unstable_by_key(|(rank, _)| *rank);
        listed.extend(group.iter().map(|(_, m)| (*m, all)));
    }
    listed
}

/// The co-presence rows from the ranked meetings and the rows read for them, in the order
/// of [`TracingStore::copresence`]: by source, the source's stay, then rank. A meeting is
/// at its source's venue: no two venues share an index key (`venues_key` on both stores).
pub(crate) fn copresence_rows(
    visits: &[SourceVisit],
    ranked: Vec<(Meeting, u64)>,
    rows: &std::collections::HashMap<i64, MetVisitor>,
) -> Vec<CoPresence> {
    let mut out: Vec<(usize, CoPresence)> = Vec::with_capacity(ranked.len());
    for (rank, (m, met)) in ranked.into_iter().enumerate() {
        let s = &visits[m.visit];
        let Some(row) = rows.get(&m.checkin) else { continue };
        out.push((
            rank,
            CoPresence {
                source: s.visitor.clone(),
                source_checkin: s.checkin,
                source_stay: s.stay,
                venue: s.venue,
                venue_code: s.code.clone(),
                venue_name: s.name.clone(),
                venue_kind: s.kind,
                venue_path: s.venue_path.clone(),
                checkin: m.checkin,
                visitor: row.visitor.clone(),
                person: row.person,
                name: row.name.clone(),
                phone: row.phone.clone(),
                home_path: row.home_path.clone(),
                stay: Stay { at: m.at, until: m.until },
                met,
            },
        ));
    }
    // Ranked rows come grouped by visit, best first; the visits go by source and stay.
    out.sort_by(|(ra, a), (rb, b)| {
        (&a.source, a.source_stay.at, a.source_checkin, ra).cmp(&(&b.source, b.source_stay.at, b.source_checkin, rb))
    });
    out.into_iter().map(|(_, row)| row).collect()
}

/// A contact as it was just recorded, built from what was written rather than read back:
/// times at the stores' microsecond precision, its F1 link as the store found it.
pub(crate) fn recorded(c: &NewContact, via: Option<ContactId>) -> Contact {
    let stored = |t: OffsetDateTime| t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t);
    Contact {
        id: c.id,
        case: c.case,
        generation: c.generation,
        via,
        person: c.person,
        visitor: c.visitor.clone(),
        name: c.name.clone(),
        phone: c.phone.clone(),
        kind: c.evidence.kind(),
        evidence: c.evidence.clone(),
        exposure_at: stored(c.exposure_at),
        unit_path: c.unit_path.clone(),
        status: ContactStatus::Identified,
        note: String::new(),
        quarantine_until: stored(c.quarantine_until),
        test_days: c.test_days.clone(),
        created_at: stored(c.created_at),
        updated_at: stored(c.created_at),
    }
}

/// Contacts in the order they must be written: F1s before the F2s that link to them.
pub(crate) fn by_generation(mut contacts: Vec<NewContact>) -> Vec<NewContact> {
    contacts.sort_by_key(|c| c.generation);
    contacts
}

/// Checks a move of a stored contact, as a store's `Refused`.
pub(crate) fn check_move(from: &str, to: ContactStatus) -> Result<()> {
    let from = word(ContactStatus::parse, from)?;
    from.check_move("status", to).map_err(|invalid| StoreError::Refused {
        field: "status",
        code: invalid.code,
        message: invalid.message,
    })
}
