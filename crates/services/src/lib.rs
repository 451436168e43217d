//! Outbreak's workflows over the domain and the store, and the one place where access is
//! checked: every function that touches personal data takes the [`Caller`], asks
//! [`Services::authorize`] and writes the audit log.
//!
//! - [`auth`]: staff passwords, citizens' one-time codes, sessions and API tokens.
//! - [`people`]: registering, finding and changing people.
//! - [`units`]: administrative units below communes, population figures.
//! - [`qr`]: personal QR tokens, signed and revocable.
//! - [`accounts`]: staff and system accounts, their roles and tokens.
//! - [`audit`]: reading the audit log.
//! - [`certificates`]: EU Digital COVID Certificates: issuing, signers' keys, the trust
//!   list, verifying.
//! - [`checkins`]: venues, check-ins (with group commit), health declarations, retention.
//! - [`testing`]: sampling sessions, specimens, pools, lab results, cases, dashboards.
//! - [`tracing`]: contact tracing (F1, F2) of cases, on demand and on confirmation, and
//!   the tracers' follow-up of contacts.
//! - [`zoning`]: venues declared exposed for a time window, and their contacts.
//! - [`vaccination`]: organisations, registrations (uploaded or by citizens), sessions, the
//!   allocator and its invitations, doses with corrections, adverse events, coverage.
//! - [`lookup`]: looking up one's own record with a CCCD, a date of birth and a code.
//! - [`notify`]: the notifier that reads the outbox and sends SMS.
//! - [`sms`]: the SMS gateway interface and the built-in gateway that writes a log file.

pub mod accounts;
pub mod audit;
pub mod auth;
mod cache;
pub mod certificates;
pub mod checkins;
pub mod clusters;
mod error;
pub mod lookup;
pub mod notify;
pub mod people;
pub mod qr;
pub mod sms;
pub mod testing;
pub mod tracing;
pub mod units;
pub mod vaccination;
pub mod zoning;

use std::path::PathBuf;
use std::sync::Arc;

pub use error::ServiceError;
use outbreak_domain::{Jurisdiction, Permission, Principal};
use outbreak_store::NewAuditEntry;
pub use outbreak_store::Store;

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Settings the workflows need; built by the binary from flags, varied freely by tests.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address people reach this server at (`https://outbreak.example.vn`), used in
    /// links that leave the server: QR codes, SMS.
    pub public_url: String,
    /// Where the built-in SMS gateway writes messages.
    pub sms_log: PathBuf,
    pub staff_session_hours: i64,
    pub citizen_session_days: i64,
    /// How long check-ins and health declarations are kept.
    pub retention: time::Duration,
    /// Infectious window, quarantine, test days and listing caps of contact tracing.
    pub tracing: outbreak_domain::tracing::TracingRules,
}

impl Config {
    /// The usual settings for a server reached at `public_url`.
    pub fn new(public_url: impl Into<String>, sms_log: impl Into<PathBuf>) -> Config {
        Config {
            public_url: public_url.into(),
            sms_log: sms_log.into(),
            staff_session_hours: 12,
            citizen_session_days: 30,
            retention: outbreak_domain::venue::DEFAULT_RETENTION,
            tracing: outbreak_domain::tracing::TracingRules::default(),
        }
    }
}

/// Who is asking, and from where: what every audited workflow needs to know.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The client's network address, for the audit log and rate limits.
    pub client: String,
    /// Whether the caller is a system using an API token rather than a person.
    pub is_system: bool,
}

/// The workflows, sharing one store, one SMS gateway and one configuration.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub sms: Arc<dyn sms::SmsGateway>,
    pub config: Arc<Config>,
    /// API tokens already checked, so a gate posting thousands of check-ins a second costs
    /// one store look-up every few seconds, not one per request.
    tokens: Arc<cache::Cache<Vec<u8>, Caller>>,
    /// Venues by code, for the same reason.
    venues: Arc<cache::Cache<String, Arc<outbreak_store::Venue>>>,
    /// The group-commit writer for check-ins, started on first use.
    checkin_writer: Arc<std::sync::OnceLock<checkins::Writer>>,
    /// Live dashboards listen here for units whose testing totals changed.
    testing_changes: tokio::sync::broadcast::Sender<testing::TestingChange>,
    notifier_started: Arc<std::sync::OnceLock<()>>,
    notifier_wake: Arc<tokio::sync::Notify>,
    lookups: Arc<lookup::LookupLimiter>,
    /// The certificate verifier's copy of signers' keys and revocations.
    trust: Arc<cache::Cache<(), Arc<certificates::Trust>>>,
}

impl Services {
    pub fn new(store: Arc<dyn Store>, sms: Arc<dyn sms::SmsGateway>, config: Config) -> Services {
        Services {
            store,
            sms,
            config: Arc::new(config),
            tokens: Arc::new(cache::Cache::new(std::time::Duration::from_secs(10))),
            venues: Arc::new(cache::Cache::new(std::time::Duration::from_secs(10))),
            checkin_writer: Arc::default(),
            testing_changes: tokio::sync::broadcast::channel(64).0,
            notifier_started: Arc::default(),
            notifier_wake: Arc::default(),
            lookups: Arc::default(),
            trust: Arc::new(cache::Cache::new(certificates::TRUST_REFRESH)),
        }
    }

    /// The caller's jurisdiction for `permission`, or `Forbidden` when it holds none.
    pub fn authorize(&self, caller: &Caller, permission: Permission) -> Result<Jurisdiction> {
        let jurisdiction = caller.principal.jurisdiction(permission);
        if jurisdiction.is_empty() {
            return Err(ServiceError::Forbidden("your account does not have a role that allows this".into()));
        }
        Ok(jurisdiction)
    }

    /// Checks that `unit_path` lies in the caller's jurisdiction for `permission`.
    pub fn authorize_unit(&self, caller: &Caller, permission: Permission, unit_path: &str) -> Result<()> {
        if caller.principal.may(permission, unit_path) {
            return Ok(());
        }
        self.authorize(caller, permission)?;
        Err(ServiceError::Forbidden("this record is outside your jurisdiction".into()))
    }

    /// Writes one audit entry for something the caller did to a record.
    pub async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        entity: &str,
        entity_id: &str,
        detail: &str,
    ) -> Result<()> {
        self.store.append_audit(&audit_entry(caller, action, entity, entity_id, detail)).await?;
        Ok(())
    }
}

/// The audit entry for something the caller did to a record, to write now or in the same
/// transaction as the change it describes.
pub(crate) fn audit_entry(caller: &Caller, action: &str, entity: &str, entity_id: &str, detail: &str) -> NewAuditEntry {
    let actor_kind = match (&caller.principal, caller.is_system) {
        (Principal::Citizen { .. }, _) => "citizen",
        (Principal::Staff { .. }, true) => "system",
        (Principal::Staff { .. }, false) => "staff",
    };
    NewAuditEntry {
        at: outbreak_domain::now(),
        actor: caller.principal.actor(),
        actor_kind: actor_kind.into(),
        action: action.into(),
        entity: entity.into(),
        entity_id: entity_id.into(),
        detail: detail.into(),
        client: caller.client.clone(),
    }
}
