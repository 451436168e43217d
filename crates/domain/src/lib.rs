//! Outbreak's vocabulary: the types, validation and rules that every layer shares, with no I/O.
//!
//! - [`person`]: people and the checks on their identifiers (CCCD, phone, health insurance).
//! - [`unit`]: administrative units and the national list Outbreak ships with.
//! - [`access`]: roles, principals and jurisdictions: who may see what.
//! - [`venue`]: venues, check-ins and health declarations.
//! - [`testing`]: sampling sessions, specimens, pools, results and cases.
//! - [`vaccination`]: priority groups, vaccine products, sessions, invitations and the dose rules.
//! - [`tracing`]: infectious windows, co-presence, contacts (F1, F2) and their follow-up.
//! - [`text`]: Vietnamese text handling (NFC, diacritic folding).
//! - [`error`]: the validation error that names the offending field.

pub mod access;
pub mod error;
pub mod person;
#[macro_use]
pub mod testing;
pub mod text;
pub mod tracing;
pub mod unit;
pub mod vaccination;
pub mod venue;

pub use access::{Grant, Jurisdiction, Permission, Principal, Role};
pub use error::{Invalid, ValidationErrors};
pub use person::{BirthDate, Cccd, InsuranceNumber, NewPerson, Person, PersonId, Phone, Sex};
pub use unit::{Unit, UnitCode, UnitLevel};

/// The current instant, to the microsecond: the precision both stores keep, so that what is
/// written reads back equal.
pub fn now() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
}

/// Vietnam's offset from UTC (no daylight saving): pages show times and count days in it.
pub const VIETNAM: time::UtcOffset = time::macros::offset!(+7);

/// The calendar day in Vietnam at an instant.
pub fn local_date(at: time::OffsetDateTime) -> time::Date {
    at.to_offset(VIETNAM).date()
}
