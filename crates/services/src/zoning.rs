//! Narrow zoning: staff declare a venue exposed for a time window, and everyone whose stay
//! there overlaps the window becomes a contact of the exposure, told by SMS like a case's
//! contacts and followed up through the same statuses. An exposure is a record of its own
//! (contacts of cases belong to a case); a second declaration whose window overlaps an
//! earlier one at the same venue lists only people not listed yet.
//!
//! Staff also put a unit (a neighbourhood, a commune) under restriction for a window; the
//! residents and venues it affects come with it, read when asked.

use std::collections::BTreeMap;

use outbreak_domain::tracing::{
    ContactId, ContactStatus, ExposureEvidence, ExposureId, LONGEST_STAY, RestrictionId, Stay, check_exposure_window,
    check_restriction_window,
};
use outbreak_domain::venue::VenueId;
use outbreak_domain::{Invalid, Permission, PersonId, UnitCode, now};
use outbreak_store::{
    Checkin, Exposure, ExposureContact, NewExposure, NewExposureContact, NewRestriction, PersonQuery, Restriction,
    Venue,
};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Caller, Result, ServiceError, Services, audit_entry};

/// Check-ins of the venue read for one declaration, at most.
const MAX_CHECKINS: u32 = 200_000;
const LIST_LIMIT: u32 = 1_000;
const CONTACT_LIMIT: u32 = 100_000;
/// Residents and venues listed with a restriction, at most; a larger unit is followed up
/// by its smaller units' restrictions, or through exports.
const AFFECTED_LIMIT: u32 = 5_000;

/// The venue an exposure was declared for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExposedVenue {
    pub id: VenueId,
    pub code: String,
    pub name: String,
    pub unit_path: String,
}

/// What a declaration found and listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExposureReport {
    pub exposure: Exposure,
    pub venue: ExposedVenue,
    /// People whose stay at the venue overlapped the window.
    pub contacts: u64,
    /// Those this declaration listed; the others were listed by an overlapping earlier one.
    pub new_contacts: Vec<ExposureContact>,
    /// How many were listed already.
    pub already_listed: u64,
}

/// A resident of a restricted unit, as the restriction lists them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Resident {
    pub person: PersonId,
    pub full_name: String,
    pub phone: Option<String>,
    pub unit_path: String,
    pub street: String,
}

/// A venue inside a restricted unit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RestrictedVenue {
    pub id: VenueId,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub active: bool,
}

/// A restriction with whom and what it affects.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RestrictionReport {
    pub restriction: Restriction,
    /// Whether it is in force now.
    pub in_force: bool,
    pub residents: Vec<Resident>,
    pub venues: Vec<RestrictedVenue>,
    /// Whether there are more residents or venues than listed.
    pub truncated: bool,
}

impl Services {
    /// Declares a venue (by its code) exposed from `from` until `until` (audited): everyone
    /// checked in then becomes a contact and is told by SMS.
    pub async fn declare_exposure(
        &self,
        caller: &Caller,
        venue_code: &str,
        from: OffsetDateTime,
        until: OffsetDateTime,
        reason: &str,
    ) -> Result<ExposureReport> {
        self.authorize(caller, Permission::ManageCases)?;
        let at = now();
        check_exposure_window(from, until, at)?;
        let reason = outbreak_domain::error::text_field("reason", reason, 1000, true)?;
        let code = venue_code.trim();
        if code.is_empty() {
            return Err(Invalid::new("venue", "required", "venue is required: the code on the venue's poster").into());
        }
        let venue = match self.store.venue_by_code(code).await? {
            Some(venue) => venue,
            None => match code.parse::<Uuid>() {
                Ok(id) => self.store.venue(VenueId(id)).await?,
                Err(_) => None,
            }
            .ok_or_else(|| ServiceError::NotFound(format!("venue {code}")))?,
        };
        self.authorize_unit(caller, Permission::ManageCases, &venue.unit_path)?;

        let window = Stay { at: from, until };
        let checkins: Vec<Checkin> = self
            .store
            .venue_checkins(venue.id, from - LONGEST_STAY, until, MAX_CHECKINS)
            .await?
            .into_iter()
            .filter(|c| c.at < until && c.until > from)
            .collect();
        // One contact per visitor: the longest stay in the window is the evidence; the last
        // moment there in the window is the exposure.
        let mut found: BTreeMap<String, (Checkin, OffsetDateTime)> = BTreeMap::new();
        for c in checkins {
            let last = c.until.min(until);
            match found.get_mut(&c.visitor) {
                Some((kept, kept_last)) => {
                    *kept_last = (*kept_last).max(last);
                    let stay = |c: &Checkin| Stay { at: c.at, until: c.until };
                    if window.overlap(&stay(&c)) > window.overlap(&stay(kept)) {
                        *kept = c;
                    }
                }
                None => {
                    found.insert(c.visitor.clone(), (c, last));
                }
            }
        }
        let rules = self.config.tracing;
        let mut contacts = Vec::with_capacity(found.len());
        for (visitor, (c, last)) in found {
            let (mut name, mut phone, mut unit_path) = (c.name.clone(), c.phone.clone(), venue.unit_path.clone());
            if let Some(record) = self.person_of(c.person).await? {
                name = record.person.full_name.clone();
                phone = record.person.phone.clone().or(phone);
                unit_path = record.address_path;
            }
            contacts.push(NewExposureContact {
                id: ContactId(Uuid::now_v7()),
                person: c.person,
                visitor,
                name,
                phone,
                evidence: ExposureEvidence::Exposure {
                    venue: venue.id,
                    code: venue.code.clone(),
                    name: venue.name.clone(),
                    window_from: from,
                    window_until: until,
                    stay: Stay { at: c.at, until: c.until },
                },
                exposure_at: last,
                unit_path,
                quarantine_until: rules.quarantine_until(last),
                test_days: rules.test_days(last),
                created_at: at,
            });
        }
        let id = ExposureId(Uuid::now_v7());
        let exposure = NewExposure {
            id,
            venue: venue.id,
            unit_path: venue.unit_path.clone(),
            window_from: from,
            window_until: until,
            reason,
            declared_by: caller.principal.actor(),
            created_at: at,
        };
        let found = contacts.len() as u64;
        let detail = format!("venue {}: {found} people checked in during the window", venue.code);
        let audit = audit_entry(caller, "exposure.declare", "exposure", &id.to_string(), &detail);
        let added = self.store.insert_exposure(exposure, contacts, vec![audit]).await?;
        if !added.is_empty() {
            self.wake_notifier();
        }
        let exposure = self.store.exposure(id).await?.ok_or_else(|| ServiceError::NotFound("exposure".into()))?;
        Ok(ExposureReport {
            exposure,
            venue: ExposedVenue { id: venue.id, code: venue.code, name: venue.name, unit_path: venue.unit_path },
            contacts: found,
            already_listed: found - added.len() as u64,
            new_contacts: added,
        })
    }

    async fn person_of(&self, person: Option<PersonId>) -> Result<Option<outbreak_store::PersonRecord>> {
        match person {
            Some(person) => Ok(self.store.person(person).await?),
            None => Ok(None),
        }
    }

    /// Exposures of venues in the caller's jurisdiction, the newest first (audited).
    pub async fn exposures(&self, caller: &Caller) -> Result<Vec<Exposure>> {
        let scope = self.authorize(caller, Permission::ManageCases)?;
        let list = self.store.exposures(&scope.paths, LIST_LIMIT).await?;
        self.audit(caller, "exposure.list", "exposure", "", &format!("{} exposures", list.len())).await?;
        Ok(list)
    }

    /// One exposure of a venue in the caller's jurisdiction.
    pub async fn exposure(&self, caller: &Caller, id: ExposureId) -> Result<Exposure> {
        let exposure = self.store.exposure(id).await?.ok_or_else(|| ServiceError::NotFound("exposure".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &exposure.unit_path)?;
        Ok(exposure)
    }

    /// An exposure's contacts (audited).
    pub async fn exposure_contacts(&self, caller: &Caller, id: ExposureId) -> Result<Vec<ExposureContact>> {
        let exposure = self.store.exposure(id).await?.ok_or_else(|| ServiceError::NotFound("exposure".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &exposure.unit_path)?;
        let contacts = self.store.exposure_contacts(id, CONTACT_LIMIT).await?;
        self.audit(caller, "exposure.contacts", "exposure", &id.to_string(), &format!("{} contacts", contacts.len()))
            .await?;
        Ok(contacts)
    }

    /// Tells a new contact of an exposure by SMS what to do (the notifier calls this for each
    /// contact a `contacts.identified` event of an exposure names).
    pub(crate) async fn notify_exposure_contact(&self, id: ContactId) -> Result<()> {
        let Some(contact) = self.store.exposure_contact(id).await? else { return Ok(()) };
        let Some(phone) = &contact.phone else { return Ok(()) };
        if !contact.status.is_open() {
            return Ok(());
        }
        let ExposureEvidence::Exposure { name, .. } = &contact.evidence;
        let place = outbreak_domain::text::fold(name);
        let day = |at: OffsetDateTime| {
            let d = outbreak_domain::local_date(at);
            format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year())
        };
        let (exposed, until) = (day(contact.exposure_at), day(contact.quarantine_until));
        let link = format!("{}/me", self.config.public_url.trim_end_matches('/'));
        let text = format!(
            "Outbreak: ban da den {place} ngay {exposed}, noi co nguy co lay nhiem; hay tu cach ly tai nha den het {until}, theo doi suc khoe va lien he tram y te xa/phuong. / You were at {place} on {exposed} while it was exposed: please self-isolate at home until {until}, watch your health and call your health station. {link}"
        );
        self.sms.send(phone, &text).await
    }

    /// Moves an exposure's contact through its statuses, like a case's contact (audited).
    pub async fn update_exposure_contact(
        &self,
        caller: &Caller,
        id: ContactId,
        status: &str,
        note: &str,
    ) -> Result<ExposureContact> {
        let status = ContactStatus::parse("status", status)?;
        let note = outbreak_domain::error::text_field("note", note, 1000, false)?;
        let contact = self.store.exposure_contact(id).await?.ok_or_else(|| ServiceError::NotFound("contact".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &contact.unit_path)?;
        let updated = self.store.update_exposure_contact(id, status, &note, now()).await?;
        self.audit(caller, "exposure_contact.status", "contact", &id.to_string(), status.as_str()).await?;
        Ok(updated)
    }

    /// Puts a unit under restriction from `from` until `until` (audited). A unit inside or
    /// around one already restricted for an overlapping window is refused with 409 naming
    /// that restriction.
    pub async fn declare_restriction(
        &self,
        caller: &Caller,
        unit: &str,
        from: OffsetDateTime,
        until: OffsetDateTime,
        reason: &str,
    ) -> Result<RestrictionReport> {
        self.authorize(caller, Permission::ManageCases)?;
        let at = now();
        let unit = UnitCode::parse("unit", unit)?;
        check_restriction_window(from, until, at)?;
        let reason = outbreak_domain::error::text_field("reason", reason, 1000, true)?;
        let record = self.store.unit(&unit).await?.ok_or_else(|| ServiceError::NotFound(format!("unit {unit}")))?;
        self.authorize_unit(caller, Permission::ManageCases, &record.path)?;
        let id = RestrictionId(Uuid::now_v7());
        let detail = format!("{} {} until {until}", record.code, record.name);
        let audit = audit_entry(caller, "restriction.declare", "restriction", &id.to_string(), &detail);
        let new = NewRestriction {
            id,
            unit,
            window_from: from,
            window_until: until,
            reason,
            declared_by: caller.principal.actor(),
            created_at: at,
        };
        let restriction = match self.store.insert_restriction(new, vec![audit]).await {
            Ok(restriction) => restriction,
            Err(outbreak_store::StoreError::Conflict { existing, .. }) => {
                return Err(ServiceError::Conflict {
                    field: "unit".into(),
                    message: "this unit, or a unit around or inside it, is already under a restriction whose window overlaps this one: lift or wait for that one".into(),
                    existing,
                });
            }
            Err(other) => return Err(other.into()),
        };
        self.affected(restriction, at).await
    }

    /// Restrictions of units in the caller's jurisdiction, the newest first.
    pub async fn restrictions(&self, caller: &Caller) -> Result<Vec<Restriction>> {
        let scope = self.authorize(caller, Permission::ManageCases)?;
        Ok(self.store.restrictions(&scope.paths, LIST_LIMIT).await?)
    }

    /// A restriction with the residents and venues it affects (audited: it lists people).
    pub async fn restriction(&self, caller: &Caller, id: RestrictionId) -> Result<RestrictionReport> {
        let restriction =
            self.store.restriction(id).await?.ok_or_else(|| ServiceError::NotFound("restriction".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &restriction.unit_path)?;
        let report = self.affected(restriction, now()).await?;
        let detail = format!("{} residents, {} venues", report.residents.len(), report.venues.len());
        self.audit(caller, "restriction.read", "restriction", &id.to_string(), &detail).await?;
        Ok(report)
    }

    /// Ends a restriction now (audited).
    pub async fn lift_restriction(&self, caller: &Caller, id: RestrictionId) -> Result<Restriction> {
        let restriction =
            self.store.restriction(id).await?.ok_or_else(|| ServiceError::NotFound("restriction".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &restriction.unit_path)?;
        let audit = audit_entry(caller, "restriction.lift", "restriction", &id.to_string(), &restriction.unit_path);
        Ok(self.store.lift_restriction(id, now(), vec![audit]).await?)
    }

    async fn affected(&self, restriction: Restriction, at: OffsetDateTime) -> Result<RestrictionReport> {
        let scope = vec![restriction.unit_path.clone()];
        let query = PersonQuery { scope: scope.clone(), limit: AFFECTED_LIMIT + 1, ..PersonQuery::default() };
        let mut people = self.store.search_people(&query).await?;
        let mut venues = self.store.venues(&scope, AFFECTED_LIMIT + 1).await?;
        let truncated = people.len() > AFFECTED_LIMIT as usize || venues.len() > AFFECTED_LIMIT as usize;
        people.truncate(AFFECTED_LIMIT as usize);
        venues.truncate(AFFECTED_LIMIT as usize);
        Ok(RestrictionReport {
            in_force: restriction.window_from <= at && at < restriction.window_until,
            restriction,
            residents: people
                .into_iter()
                .map(|r| Resident {
                    person: r.person.id,
                    full_name: r.person.full_name,
                    phone: r.person.phone.map(|p| p.as_str().to_owned()),
                    unit_path: r.address_path,
                    street: r.person.street,
                })
                .collect(),
            venues: venues
                .into_iter()
                .map(|v: Venue| RestrictedVenue {
                    id: v.id,
                    code: v.code,
                    name: v.name,
                    kind: v.kind.as_str().to_owned(),
                    active: v.active,
                })
                .collect(),
            truncated,
        })
    }
}
