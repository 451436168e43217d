//! Contact tracing: tracing a case, its contacts, contacts it names, and the tracers'
//! queue with each contact's follow-up.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use outbreak_domain::testing::CaseId;
use outbreak_domain::tracing::ContactId;
use outbreak_services::tracing::{CaseContacts, ContactNotice, NamedContact, TraceDepth, TraceReport};
use outbreak_store::Contact;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ErrorBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, ApiPath};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trace_case))
        .routes(routes!(contacts, name_contact))
        .routes(routes!(contact_queue))
        .routes(routes!(update_contact))
        .routes(routes!(my_contacts))
}

#[derive(Deserialize, IntoParams)]
pub struct TraceParams {
    /// `f1` for the case's own contacts only, `f2` (the default) for theirs too.
    #[param(value_type = Option<String>)]
    pub depth: Option<TraceDepth>,
}

/// Traces a case now: its F1s (met at a venue while it was infectious, or in its household)
/// and F2s (met an F1 since their exposure, or in an F1's household); `depth=f1` stops at
/// the F1s. Tracing again adds only who is new; tracing also runs by itself when a case is
/// confirmed (audited).
#[utoipa::path(post, path = "/cases/{id}/trace", tag = "tracing", params(("id" = Uuid, Path), TraceParams),
    responses((status = 200, body = TraceReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn trace_case(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(params): Query<TraceParams>,
) -> Result<Json<TraceReport>, ApiError> {
    Ok(Json(state.services.trace_case_to(&caller, CaseId(id), params.depth.unwrap_or_default()).await?))
}

/// A case's contacts, F1s first, with their evidence, phone and status, and counts by
/// generation and status (audited).
#[utoipa::path(get, path = "/cases/{id}/contacts", tag = "tracing", params(("id" = Uuid, Path)),
    responses((status = 200, body = CaseContacts), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn contacts(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CaseContacts>, ApiError> {
    Ok(Json(state.services.contacts(&caller, CaseId(id)).await?))
}

/// Adds a contact the case names (an F1): a person by QR, CCCD, insurance number or id, or
/// a phone with a name. 409 when they are already a contact of the case.
#[utoipa::path(post, path = "/cases/{id}/contacts", tag = "tracing", params(("id" = Uuid, Path)), request_body = NamedContact,
    responses((status = 201, body = Contact), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn name_contact(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NamedContact>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.name_contact(&caller, CaseId(id), &body).await?)))
}

#[derive(Deserialize, IntoParams)]
pub struct QueueParams {
    /// `identified`, `notified`, `quarantining`, `tested` or `released`; every status but
    /// `released` when absent.
    pub status: Option<String>,
}

/// The tracer's queue: contacts who live in the caller's jurisdiction (or met the case
/// there, when their home is unknown), the earliest quarantine end first (audited).
#[utoipa::path(get, path = "/contacts", tag = "tracing", params(QueueParams),
    responses((status = 200, body = [Contact]), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn contact_queue(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<QueueParams>,
) -> Result<Json<Vec<Contact>>, ApiError> {
    Ok(Json(state.services.contact_queue(&caller, params.status.as_deref()).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ContactStatusBody {
    /// One step on: identified → notified → quarantining → tested (→ quarantining again
    /// between test days) → released; released is final. The same status changes the note.
    pub status: String,
    #[serde(default)]
    pub note: String,
}

/// Moves a contact on in their follow-up, with a note; a move out of order is refused
/// (422, `bad_transition`).
#[utoipa::path(put, path = "/contacts/{id}", tag = "tracing", params(("id" = Uuid, Path)), request_body = ContactStatusBody,
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_contact(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ContactStatusBody>,
) -> Result<Json<Contact>, ApiError> {
    Ok(Json(state.services.update_contact(&caller, ContactId(id), &body.status, &body.note).await?))
}

/// The signed-in citizen's open follow-ups (and those of the people registered with their
/// phone, or of check-ins by that phone alone): how and when they were exposed, what to do
/// until when. The case is never named.
#[utoipa::path(get, path = "/me/contacts", tag = "tracing",
    responses((status = 200, body = [ContactNotice]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
async fn my_contacts(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<ContactNotice>>, ApiError> {
    Ok(Json(state.services.my_contacts(&caller).await?))
}
