//! Records the store keeps beside the domain types: accounts, sessions, keys, audit entries.

use outbreak_domain::venue::Visitor;
use outbreak_domain::{Grant, Person, PersonId, Phone, Role, UnitCode};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// A person with the path of their address unit, which jurisdiction checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub person: Person,
    pub address_path: String,
}

/// A search over people. Text is matched folded against names; identifiers exactly.
#[derive(Debug, Clone, Default)]
pub struct PersonQuery {
    /// Folded words that must all appear in the folded name, in order.
    pub name: Option<String>,
    pub cccd: Option<String>,
    pub phone: Option<String>,
    pub insurance_number: Option<String>,
    /// Address paths the results must lie under; empty finds nothing.
    pub scope: Vec<String>,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person who signs in with a password.
    User,
    /// A system that calls the API with tokens.
    System,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::User => "user",
            AccountKind::System => "system",
        }
    }

    pub fn parse(value: &str) -> AccountKind {
        if value == "system" { AccountKind::System } else { AccountKind::User }
    }
}

/// A staff or system account as created.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: Uuid,
    pub kind: AccountKind,
    pub username: String,
    pub display_name: String,
    /// Argon2 PHC string; none for systems.
    pub password_hash: Option<String>,
    pub grants: Vec<(Role, UnitCode)>,
    pub created_at: OffsetDateTime,
}

/// A staff or system account with its grants resolved to unit paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    pub kind: AccountKind,
    pub username: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub grants: Vec<Grant>,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
}

/// An API token; only its SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub hash: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOwner {
    Staff(Uuid),
    Citizen(Phone),
}

/// A signed-in browser; only the SHA-256 of its cookie is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub hash: Vec<u8>,
    pub owner: SessionOwner,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A one-time sign-in code waiting for its phone; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpChallenge {
    pub phone: Phone,
    pub code_hash: Vec<u8>,
    pub expires_at: OffsetDateTime,
    /// Attempts made so far, this one included when returned by `take_otp_attempt`.
    pub attempts: u32,
}

/// A secret key for signing tokens; `kid` travels in each token it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub purpose: String,
    pub secret: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

/// A personal-QR token: the random id a QR carries stands for a person until revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrToken {
    pub id: String,
    pub person: PersonId,
    pub kid: String,
    pub issued_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// One read or change of personal data, as it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub at: OffsetDateTime,
    /// Username or phone of who acted.
    pub actor: String,
    /// `staff`, `system` or `citizen`.
    pub actor_kind: String,
    /// What was done (`person.read`, `person.update`, `account.create`, …).
    pub action: String,
    /// The kind of record (`person`, `account`, `unit`, …) and its id.
    pub entity: String,
    pub entity_id: String,
    pub detail: String,
    pub client: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub detail: String,
    pub client: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Only entries older than this id, for paging.
    pub before_id: Option<i64>,
    pub limit: u32,
}

impl PersonRecord {
    pub fn id(&self) -> PersonId {
        self.person.id
    }
}

/// A venue as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venue {
    pub id: outbreak_domain::venue::VenueId,
    /// The short code on the poster and in its URL.
    pub code: String,
    pub name: String,
    pub kind: outbreak_domain::venue::VenueKind,
    pub plate: Option<String>,
    pub unit: UnitCode,
    pub unit_path: String,
    pub address: String,
    pub contact_phone: Phone,
    /// The citizen who registered it, when a venue owner did.
    pub owner_phone: Option<Phone>,
    pub active: bool,
    pub created_at: OffsetDateTime,
}

/// A check-in to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckin {
    pub venue: outbreak_domain::venue::VenueId,
    /// `Visitor::key()`: a person's id or `tel:+84…`. The person or the phone is read back
    /// from it (`Visitor::from_key`), so a check-in stores it once.
    pub visitor: String,
    /// The name given at the door, when the person is not known.
    pub name: String,
    pub at: OffsetDateTime,
    /// When the visit ends: the check-out, or `at` plus the venue kind's default stay.
    pub until: OffsetDateTime,
    /// `poster`, `staff` or `api`.
    pub source: String,
    /// A client's own id for the item (scoped to the client, and to the visitor), so
    /// retries store it once.
    pub client_key: Option<String>,
}

impl NewCheckin {
    /// The name a store keeps: a known person's comes from their record when read (their
    /// registered name, as tracing lists them), so only a visitor known by phone alone
    /// keeps the name given at the door.
    pub(crate) fn name_to_store(&self) -> &str {
        match Visitor::person_in_key(&self.visitor) {
            Some(_) => "",
            None => &self.name,
        }
    }
}

/// What became of one check-in of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "id", rename_all = "snake_case")]
pub enum CheckinOutcome {
    /// Stored as a new visit, with this id.
    Stored(i64),
    /// The same visit was already recorded (a repeat within the window, or a retried
    /// client id), with this id.
    Repeat(i64),
}

impl CheckinOutcome {
    pub fn id(self) -> i64 {
        match self {
            CheckinOutcome::Stored(id) | CheckinOutcome::Repeat(id) => id,
        }
    }
}

/// A stored check-in, with its venue's name and code for diaries and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkin {
    pub id: i64,
    pub venue: outbreak_domain::venue::VenueId,
    pub venue_code: String,
    pub venue_name: String,
    pub visitor: String,
    /// Read back from the visitor key, as is the phone.
    pub person: Option<PersonId>,
    pub phone: Option<Phone>,
    /// A known person's registered name, else the name given at the door.
    pub name: String,
    pub at: OffsetDateTime,
    pub until: OffsetDateTime,
    pub source: String,
}

/// A health declaration to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeclarationRecord {
    pub visitor: String,
    pub person: Option<PersonId>,
    pub phone: Option<Phone>,
    pub venue: Option<outbreak_domain::venue::VenueId>,
    pub at: OffsetDateTime,
    pub symptoms: Vec<String>,
    pub f0_contact: bool,
    pub places_visited: String,
    pub move_from: Option<UnitCode>,
    pub move_to: Option<UnitCode>,
    pub move_date: Option<time::Date>,
    pub vehicle: String,
    pub flagged: bool,
    /// The unit whose health station must see it: the venue's, else the person's address.
    pub unit_path: String,
}

/// A stored health declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub id: i64,
    pub record: NewDeclarationRecord,
    /// The venue's name, when made at a venue.
    pub venue_name: Option<String>,
}

/// Which declarations to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeclarationFilter {
    /// Only these visitors' (a citizen's own).
    pub visitors: Option<Vec<String>>,
    pub venue: Option<outbreak_domain::venue::VenueId>,
    pub flagged_only: bool,
    /// Only inside these unit paths; `None` for no limit.
    pub scope: Option<Vec<String>>,
    pub since: Option<OffsetDateTime>,
    pub limit: u32,
}
