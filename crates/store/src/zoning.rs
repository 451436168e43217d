//! Restrictions: a unit (a neighbourhood, a commune) put under restriction for a time
//! window. Whom and what it affects — the residents and venues of the unit — is read from
//! the people and venues at the time of asking, so someone who moves in is affected too.

use async_trait::async_trait;
use outbreak_domain::UnitCode;
use outbreak_domain::tracing::RestrictionId;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::Result;
use crate::records::NewAuditEntry;

/// A unit under restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Restriction {
    pub id: RestrictionId,
    #[schema(value_type = String)]
    pub unit: UnitCode,
    pub unit_name: String,
    pub unit_path: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub window_from: OffsetDateTime,
    /// When it ends: the declared end, or when it was lifted if that came first.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub window_until: OffsetDateTime,
    pub reason: String,
    pub declared_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lifted_at: Option<OffsetDateTime>,
}

/// A restriction to record.
#[derive(Debug, Clone)]
pub struct NewRestriction {
    pub id: RestrictionId,
    pub unit: UnitCode,
    pub window_from: OffsetDateTime,
    pub window_until: OffsetDateTime,
    pub reason: String,
    pub declared_by: String,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait ZoningStore {
    /// Records a restriction with its audit entries. `NotFound("unit")` for an unknown
    /// unit; `Conflict` on `unit`, naming the restriction already there, when the unit, a
    /// unit above it or a unit below it is under a restriction whose window overlaps this
    /// one (restrictions nest in space, never in time); then nothing is stored.
    async fn insert_restriction(&self, restriction: NewRestriction, audit: Vec<NewAuditEntry>) -> Result<Restriction>;
    async fn restriction(&self, id: RestrictionId) -> Result<Option<Restriction>>;
    /// Restrictions of units inside `scope`, the newest declaration first.
    async fn restrictions(&self, scope: &[String], limit: u32) -> Result<Vec<Restriction>>;
    /// Ends a restriction at `at`. `NotFound("restriction")`, or `Refused` on `restriction`
    /// when it has already ended or been lifted.
    async fn lift_restriction(
        &self,
        id: RestrictionId,
        at: OffsetDateTime,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Restriction>;
}

/// The columns of a restriction, joined with its unit, in the order both stores select them.
pub(crate) const RESTRICTION_COLUMNS: &str = "r.id, r.unit_code, u.name, r.unit_path, r.window_from, r.window_until, \
     r.reason, r.declared_by, r.created_at, r.lifted_at";

/// Why a restriction cannot be lifted, for both stores.
pub(crate) fn already_over() -> crate::StoreError {
    crate::StoreError::Refused {
        field: "restriction",
        code: "already_over",
        message: "the restriction has already ended or been lifted".into(),
    }
}
