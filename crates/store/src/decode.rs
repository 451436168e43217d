//! Turning stored columns back into domain values, the same way for both stores. Stored
//! values were validated on the way in; one that no longer parses is reported as a corrupt
//! row rather than trusted.

use outbreak_domain::{
    BirthDate, Cccd, Grant, InsuranceNumber, Person, PersonId, Phone, Role, Sex, Unit, UnitCode, UnitLevel,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::records::*;
use crate::{Result, StoreError};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {value:?} does not parse"))
}

pub(crate) fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt("id", text))
}

fn code(text: &str) -> Result<UnitCode> {
    UnitCode::parse("unit", text).map_err(|_| corrupt("unit code", text))
}

fn phone(text: &str) -> Result<Phone> {
    Phone::parse("phone", text).map_err(|_| corrupt("phone", text))
}

/// The columns of a `people` row, in the order both stores select them.
pub(crate) struct PersonColumns {
    pub id: Uuid,
    pub full_name: String,
    pub date_of_birth: String,
    pub sex: String,
    pub phone: Option<String>,
    pub cccd: Option<String>,
    pub insurance_number: Option<String>,
    pub address_unit: String,
    pub street: String,
    pub household: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub address_path: String,
}

impl PersonColumns {
    pub fn decode(self) -> Result<PersonRecord> {
        let person = Person {
            id: PersonId(self.id),
            date_of_birth: BirthDate::parse("date_of_birth", &self.date_of_birth, Date::MAX)
                .map_err(|_| corrupt("date of birth", &self.date_of_birth))?,
            sex: Sex::parse("sex", &self.sex).map_err(|_| corrupt("sex", &self.sex))?,
            phone: self.phone.as_deref().map(phone).transpose()?,
            cccd: self.cccd.as_deref().map(|c| Cccd::parse("cccd", c).map_err(|_| corrupt("cccd", c))).transpose()?,
            insurance_number: self
                .insurance_number
                .as_deref()
                .map(|n| InsuranceNumber::parse("insurance_number", n).map_err(|_| corrupt("insurance number", n)))
                .transpose()?,
            address_unit: code(&self.address_unit)?,
            household: self.household.as_deref().map(code).transpose()?,
            full_name: self.full_name,
            street: self.street,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Ok(PersonRecord { person, address_path: self.address_path })
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn unit(
    code_text: String,
    parent: Option<String>,
    level: String,
    name: String,
    division_type: String,
    path: String,
    population: Option<i64>,
) -> Result<Unit> {
    Ok(Unit {
        code: code(&code_text)?,
        parent: parent.as_deref().map(code).transpose()?,
        level: UnitLevel::parse("level", &level).map_err(|_| corrupt("unit level", &level))?,
        name,
        division_type,
        path,
        population,
    })
}

pub(crate) fn grant(role: String, unit: String, unit_path: String) -> Result<Grant> {
    Ok(Grant { role: Role::parse("role", &role).map_err(|_| corrupt("role", &role))?, unit: code(&unit)?, unit_path })
}

pub(crate) fn session(
    hash: Vec<u8>,
    staff: Option<Uuid>,
    citizen: Option<String>,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<Session> {
    let owner = match (staff, citizen) {
        (Some(id), _) => SessionOwner::Staff(id),
        (None, Some(p)) => SessionOwner::Citizen(phone(&p)?),
        (None, None) => return Err(corrupt("session owner", "none")),
    };
    Ok(Session { hash, owner, created_at, expires_at })
}

/// The session columns that name its owner: a staff account or a citizen's phone.
pub(crate) fn owner_columns(owner: &SessionOwner) -> (Option<Uuid>, Option<&str>) {
    match owner {
        SessionOwner::Staff(id) => (Some(*id), None),
        SessionOwner::Citizen(phone) => (None, Some(phone.as_str())),
    }
}

pub(crate) fn otp(
    phone_text: String,
    code_hash: Vec<u8>,
    expires_at: OffsetDateTime,
    attempts: i64,
) -> Result<OtpChallenge> {
    Ok(OtpChallenge {
        phone: phone(&phone_text)?,
        code_hash,
        expires_at,
        attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn venue(
    id: Uuid,
    code_text: String,
    name: String,
    kind: String,
    plate: Option<String>,
    unit_code: String,
    unit_path: String,
    address: String,
    contact_phone: String,
    owner_phone: Option<String>,
    active: bool,
    created_at: OffsetDateTime,
) -> Result<Venue> {
    Ok(Venue {
        id: outbreak_domain::venue::VenueId(id),
        code: code_text,
        name,
        kind: outbreak_domain::venue::VenueKind::parse("kind", &kind).map_err(|_| corrupt("venue kind", &kind))?,
        plate,
        unit: code(&unit_code)?,
        unit_path,
        address,
        contact_phone: phone(&contact_phone)?,
        owner_phone: owner_phone.as_deref().map(phone).transpose()?,
        active,
        created_at,
    })
}

/// The columns of a check-in row joined with its venue, in the order both stores select.
pub(crate) struct CheckinColumns {
    pub id: i64,
    pub venue: Uuid,
    pub venue_code: String,
    pub venue_name: String,
    pub visitor: String,
    pub person: Option<Uuid>,
    pub phone: Option<String>,
    pub name: String,
    pub at: OffsetDateTime,
    pub until: OffsetDateTime,
    pub source: String,
}

impl CheckinColumns {
    pub fn decode(self) -> Result<Checkin> {
        Ok(Checkin {
            id: self.id,
            venue: outbreak_domain::venue::VenueId(self.venue),
            venue_code: self.venue_code,
            venue_name: self.venue_name,
            visitor: self.visitor,
            person: self.person.map(PersonId),
            phone: self.phone.as_deref().map(phone).transpose()?,
            name: self.name,
            at: self.at,
            until: self.until,
            source: self.source,
        })
    }
}

/// The columns of a declaration row with its venue's name.
pub(crate) struct DeclarationColumns {
    pub id: i64,
    pub visitor: String,
    pub person: Option<Uuid>,
    pub phone: Option<String>,
    pub venue: Option<Uuid>,
    pub at: OffsetDateTime,
    pub symptoms: String,
    pub f0_contact: bool,
    pub places_visited: String,
    pub move_from: Option<String>,
    pub move_to: Option<String>,
    pub move_date: Option<time::Date>,
    pub vehicle: String,
    pub flagged: bool,
    pub unit_path: String,
    pub venue_name: Option<String>,
}

impl DeclarationColumns {
    pub fn decode(self) -> Result<Declaration> {
        Ok(Declaration {
            id: self.id,
            record: NewDeclarationRecord {
                visitor: self.visitor,
                person: self.person.map(PersonId),
                phone: self.phone.as_deref().map(phone).transpose()?,
                venue: self.venue.map(outbreak_domain::venue::VenueId),
                at: self.at,
                symptoms: self.symptoms.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                f0_contact: self.f0_contact,
                places_visited: self.places_visited,
                move_from: self.move_from.as_deref().map(code).transpose()?,
                move_to: self.move_to.as_deref().map(code).transpose()?,
                move_date: self.move_date,
                vehicle: self.vehicle,
                flagged: self.flagged,
                unit_path: self.unit_path,
            },
            venue_name: self.venue_name,
        })
    }
}
