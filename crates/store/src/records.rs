//! Records the store keeps beside the domain types: accounts, sessions, keys, audit entries.

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
