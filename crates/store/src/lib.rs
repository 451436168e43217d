//! Outbreak's storage: one contract, two implementations.
//!
//! The [`Store`] trait is the whole contract, split by role ([`UnitStore`], [`PersonStore`],
//! …). [`SqliteStore`] is the embedded default (one file, WAL); [`PostgresStore`] is the
//! scale-out store. [`open`] picks one from a URL and runs its migrations. The conformance
//! suite in `tests/conformance.rs` runs every behaviour against both.

mod certificates;
mod decode;
mod error;
mod postgres;
mod records;
mod sqlite;
mod testing;
mod tracing;
mod vaccination;
mod zoning;

use std::sync::Arc;

pub use self::tracing::*;
pub use certificates::*;
pub use error::StoreError;
pub use postgres::PostgresStore;
pub use records::*;
pub use sqlite::{READER_CACHE_KIB as SQLITE_READER_CACHE_KIB, STAY_CLASSES as SQLITE_STAY_CLASSES, SqliteStore};
pub use testing::*;
pub use vaccination::*;
pub use zoning::*;

use async_trait::async_trait;
use outbreak_domain::venue::VenueId;
use outbreak_domain::{Person, PersonId, Phone, Unit, UnitCode};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens the store a URL names — a `postgres://` URL or a SQLite file path (optionally
/// `sqlite://path`) — and brings its schema up to date.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    match sqlite_path(url) {
        Some(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
        None => Ok(Arc::new(PostgresStore::open(url).await?)),
    }
}

/// The SQLite file a store URL names, or `None` for a PostgreSQL URL.
pub fn sqlite_path(url: &str) -> Option<&str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        None
    } else {
        Some(url.strip_prefix("sqlite://").unwrap_or(url))
    }
}

/// Everything Outbreak keeps.
#[async_trait]
pub trait Store:
    UnitStore
    + PersonStore
    + AccountStore
    + SessionStore
    + KeyStore
    + AuditStore
    + CheckinStore
    + TestingStore
    + TracingStore
    + ZoningStore
    + CertificateStore
    + VaccinationStore
    + Send
    + Sync
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Answers when the store can serve requests.
    async fn ping(&self) -> Result<()>;
}

#[async_trait]
pub trait UnitStore {
    /// Adds units that are not there yet, parents before children; returns how many were new.
    async fn seed_units(&self, units: &[Unit]) -> Result<u64>;
    /// Adds one unit; `Conflict` when its code is taken.
    async fn insert_unit(&self, unit: &Unit) -> Result<()>;
    async fn unit(&self, code: &UnitCode) -> Result<Option<Unit>>;
    /// The units directly below `code`, by code.
    async fn child_units(&self, code: &UnitCode) -> Result<Vec<Unit>>;
    /// Units whose folded name contains `folded`, or whose code is `folded`, within `scope`.
    async fn find_units(&self, folded: &str, scope: &[String], limit: u32) -> Result<Vec<Unit>>;
    /// Sets population figures all together; `NotFound` naming the first unknown code, and
    /// then nothing is changed.
    async fn set_population(&self, figures: &[(UnitCode, i64)]) -> Result<()>;
}

#[async_trait]
pub trait PersonStore {
    /// Adds a person; `Conflict` naming `cccd` or `insurance_number` and the existing record
    /// when either is taken, `NotFound("address_unit")` / `NotFound("household")` for an
    /// unknown unit.
    async fn insert_person(&self, person: &Person) -> Result<()>;
    /// Adds many people in one transaction (demo data, imports): all or nothing.
    async fn insert_people(&self, people: &[Person]) -> Result<()>;
    /// Replaces a person's record, with the same errors as `insert_person`.
    async fn update_person(&self, person: &Person) -> Result<()>;
    async fn person(&self, id: PersonId) -> Result<Option<PersonRecord>>;
    async fn search_people(&self, query: &PersonQuery) -> Result<Vec<PersonRecord>>;
    /// The people registered with this phone (a parent's phone may carry their children).
    async fn people_by_phone(&self, phone: &Phone) -> Result<Vec<PersonRecord>>;
    async fn count_people(&self) -> Result<u64>;
}

#[async_trait]
pub trait AccountStore {
    /// Adds an account with its grants; `Conflict("username")` when the name is taken,
    /// `NotFound("unit")` when a grant names an unknown unit.
    async fn insert_account(&self, account: &NewAccount) -> Result<()>;
    async fn account(&self, id: Uuid) -> Result<Option<Account>>;
    async fn account_by_username(&self, username: &str) -> Result<Option<Account>>;
    /// Accounts holding at least one grant inside `scope`, by username.
    async fn list_accounts(&self, scope: &[String]) -> Result<Vec<Account>>;
    /// Replaces an account's grants.
    async fn set_grants(&self, id: Uuid, grants: &[(outbreak_domain::Role, UnitCode)]) -> Result<()>;
    async fn set_account_disabled(&self, id: Uuid, disabled: bool) -> Result<()>;
    async fn insert_api_token(&self, token: &ApiToken) -> Result<()>;
    async fn api_token_by_hash(&self, hash: &[u8]) -> Result<Option<ApiToken>>;
    async fn api_tokens(&self, account_id: Uuid) -> Result<Vec<ApiToken>>;
    async fn revoke_api_token(&self, id: Uuid, at: OffsetDateTime) -> Result<()>;
}

#[async_trait]
pub trait SessionStore {
    async fn insert_session(&self, session: &Session) -> Result<()>;
    async fn session(&self, hash: &[u8]) -> Result<Option<Session>>;
    async fn delete_session(&self, hash: &[u8]) -> Result<()>;
    /// Replaces any pending one-time code for this phone.
    async fn put_otp(&self, challenge: &OtpChallenge) -> Result<()>;
    /// Counts one more attempt against the phone's pending code and returns it.
    async fn take_otp_attempt(&self, phone: &Phone) -> Result<Option<OtpChallenge>>;
    async fn delete_otp(&self, phone: &Phone) -> Result<()>;
    /// Records that a code was sent, for rate limiting.
    async fn record_otp_send(&self, phone: &Phone, client: &str, at: OffsetDateTime) -> Result<()>;
    /// How many codes went to this phone and to this client address since `since`.
    async fn count_otp_sends(&self, phone: &Phone, client: &str, since: OffsetDateTime) -> Result<(u64, u64)>;
}

#[async_trait]
pub trait KeyStore {
    async fn insert_signing_key(&self, key: &SigningKey) -> Result<()>;
    /// Keys for one purpose, newest first, retired ones included.
    async fn signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>>;
    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<()>;
    async fn insert_qr_token(&self, token: &QrToken) -> Result<()>;
    async fn qr_token(&self, id: &str) -> Result<Option<QrToken>>;
    /// The person's newest unrevoked token.
    async fn active_qr_token(&self, person: PersonId) -> Result<Option<QrToken>>;
    /// Revokes every token of the person; returns how many.
    async fn revoke_qr_tokens(&self, person: PersonId, at: OffsetDateTime) -> Result<u64>;
}

#[async_trait]
pub trait CheckinStore {
    /// Adds a venue; `Conflict("code")` when its code is taken, `NotFound("unit")`.
    async fn insert_venue(&self, venue: &Venue) -> Result<()>;
    async fn venue(&self, id: VenueId) -> Result<Option<Venue>>;
    async fn venue_by_code(&self, code: &str) -> Result<Option<Venue>>;
    /// Venues inside `scope`, by name.
    async fn venues(&self, scope: &[String], limit: u32) -> Result<Vec<Venue>>;
    async fn venues_owned_by(&self, phone: &Phone) -> Result<Vec<Venue>>;
    async fn set_venue_active(&self, id: VenueId, active: bool) -> Result<()>;
    /// Records check-ins in one transaction, in order, with the audit entries for them. A
    /// visitor already checked in at the venue less than `window` before or after is a
    /// repeat; so is a client key under which the same visitor stored a check-in before
    /// (a repeat's key is not kept: its retry is found by the window again).
    /// `NotFound("venue")` when a check-in names an unknown venue, and then nothing is stored.
    async fn record_checkins(
        &self,
        checkins: Vec<NewCheckin>,
        window: Duration,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Vec<CheckinOutcome>>;
    /// Loads check-ins in bulk, batch after batch from `batches` until it closes, each batch
    /// committed on its own; returns how many were stored. Meant for filling a store before
    /// it serves (a history taken over from another system, a benchmark): there is no
    /// repeat-window check and no client key, and the check-in indexes are dropped while
    /// rows arrive and built once at the end (also after a failure), which is many times
    /// faster than keeping them up to date row by row. `NotFound("venue")` when a batch
    /// names an unknown venue; the batches before it stay stored.
    async fn load_checkins(&self, batches: tokio::sync::mpsc::Receiver<Vec<NewCheckin>>) -> Result<u64>;
    /// Ends a visit now (when `at` is before its planned end); `NotFound` when the visit
    /// is not this visitor's.
    async fn check_out(&self, id: i64, visitor: &str, at: OffsetDateTime) -> Result<()>;
    /// The check-ins of these visitors since `since`, newest first.
    async fn checkins_of(&self, visitors: &[String], since: OffsetDateTime) -> Result<Vec<Checkin>>;
    /// A venue's check-ins in `[since, until)`, newest first.
    async fn venue_checkins(
        &self,
        venue: VenueId,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Checkin>>;
    async fn count_venue_checkins(&self, venue: VenueId, since: OffsetDateTime) -> Result<u64>;
    async fn count_checkins(&self) -> Result<u64>;
    async fn insert_declaration(&self, declaration: &NewDeclarationRecord) -> Result<i64>;
    async fn declarations(&self, filter: &DeclarationFilter) -> Result<Vec<Declaration>>;
    /// Deletes check-ins and declarations from before `cutoff`; returns how many of each.
    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<(u64, u64)>;
}

#[async_trait]
pub trait AuditStore {
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<()>;
    /// Entries matching the filter, newest first.
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
}

/// The half-open range of unit paths under `prefix` (`/VN/01/` → `/VN/01/`..`/VN/010`), so
/// that subtree queries use an ordinary index in both stores. Paths end with `/`, and `0`
/// is the character after it.
fn subtree_range(prefix: &str) -> (String, String) {
    let upper = match prefix.strip_suffix('/') {
        Some(stem) => format!("{stem}0"),
        None => format!("{prefix}\u{10FFFF}"),
    };
    (prefix.to_owned(), upper)
}

/// The `LIKE` pattern for folded name words: each word in order, anything between.
fn name_pattern(folded: &str) -> String {
    let words: Vec<String> =
        folded.split_whitespace().map(|w| w.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).collect()).collect();
    format!("%{}%", words.join("%"))
}

/// A stable 64-bit key of a text (FNV-1a), for compact indexes on long values; queries
/// compare the full value as well, so a collision only costs a look at one more row.
pub fn key64(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// The index key of a venue.
pub(crate) fn venue_key(venue: outbreak_domain::venue::VenueId) -> i64 {
    let (high, low) = venue.0.as_u64_pair();
    (high ^ low) as i64
}
