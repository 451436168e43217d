//! The audit log: who read or changed which record, and when.

use axum::Json;
use axum::extract::{Query, State};
use outbreak_store::{AuditEntry, AuditFilter};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ErrorBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiCaller;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(entries))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Username or phone of whoever acted.
    pub actor: Option<String>,
    /// `person.read`, `person.update`, `person.create`, `person.search`, `account.create`, …
    pub action: Option<String>,
    /// The record's id.
    pub entity_id: Option<String>,
    /// Entries at or after this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// Entries before this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// Entries older than this id: pass the last id of a page to get the next.
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

impl AuditParams {
    /// The store's filter, with empty text fields (as a form sends them) left out.
    pub fn filter(self) -> AuditFilter {
        let present = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        AuditFilter {
            actor: present(self.actor),
            action: present(self.action),
            entity_id: present(self.entity_id),
            since: self.since,
            until: self.until,
            before_id: self.before,
            limit: self.limit.unwrap_or(outbreak_services::audit::AUDIT_PAGE),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditView {
    id: i64,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    actor: String,
    /// `staff`, `system` or `citizen`.
    actor_kind: String,
    action: String,
    entity: String,
    entity_id: String,
    detail: String,
    /// The network address the request came from.
    client: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            id: e.id,
            at: e.at,
            actor: e.actor,
            actor_kind: e.actor_kind,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            detail: e.detail,
            client: e.client,
        }
    }
}

/// Audit entries, newest first (national admins).
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = [AuditView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn entries(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<AuditParams>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    Ok(Json(state.services.audit_entries(&caller, params.filter()).await?.into_iter().map(Into::into).collect()))
}
