//! Narrow zoning: venues declared exposed for a time window and the people checked in then;
//! units put under restriction and the residents and venues inside them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use outbreak_domain::tracing::{ContactId, ExposureId, RestrictionId};
use outbreak_services::zoning::{ExposureReport, RestrictionReport};
use outbreak_store::{Exposure, ExposureContact, Restriction};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ErrorBody;
use super::tracing::ContactStatusBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, ApiPath};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(declare_exposure, exposures))
        .routes(routes!(exposure_contacts))
        .routes(routes!(update_exposure_contact))
        .routes(routes!(declare_restriction, restrictions))
        .routes(routes!(restriction))
        .routes(routes!(lift_restriction))
}

#[derive(Deserialize, ToSchema)]
pub struct ExposureBody {
    /// The venue's code (as on its poster).
    pub venue: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: OffsetDateTime,
    /// After `from`, at most 14 days later, not in the future.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub until: OffsetDateTime,
    /// Why the venue is declared exposed (a case was there, …).
    pub reason: String,
}

/// Declares a venue exposed from `from` until `until`: everyone whose stay overlaps the
/// window becomes a contact and is told by SMS. A window overlapping an earlier declaration
/// at the same venue lists only people not listed yet. 422 `window_ends_before_it_starts`
/// when `until` is not after `from` (audited).
#[utoipa::path(post, path = "/exposures", tag = "zoning", request_body = ExposureBody,
    responses((status = 201, body = ExposureReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn declare_exposure(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<ExposureBody>,
) -> Result<(StatusCode, Json<ExposureReport>), ApiError> {
    let report = state.services.declare_exposure(&caller, &body.venue, body.from, body.until, &body.reason).await?;
    Ok((StatusCode::CREATED, Json(report)))
}

/// Exposures of venues in the caller's jurisdiction, the newest first (audited).
#[utoipa::path(get, path = "/exposures", tag = "zoning",
    responses((status = 200, body = [Exposure]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn exposures(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<Exposure>>, ApiError> {
    Ok(Json(state.services.exposures(&caller).await?))
}

/// The contacts an exposure listed, with their evidence (audited).
#[utoipa::path(get, path = "/exposures/{id}/contacts", tag = "zoning", params(("id" = Uuid, Path)),
    responses((status = 200, body = [ExposureContact]), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn exposure_contacts(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<ExposureContact>>, ApiError> {
    Ok(Json(state.services.exposure_contacts(&caller, ExposureId(id)).await?))
}

/// Moves an exposure's contact on in their follow-up, by the same steps as a case's
/// contact; a move out of order is refused (422, `bad_transition`).
#[utoipa::path(put, path = "/exposure-contacts/{id}", tag = "zoning", params(("id" = Uuid, Path)), request_body = ContactStatusBody,
    responses((status = 200, body = ExposureContact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_exposure_contact(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ContactStatusBody>,
) -> Result<Json<ExposureContact>, ApiError> {
    Ok(Json(state.services.update_exposure_contact(&caller, ContactId(id), &body.status, &body.note).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RestrictionBody {
    /// The unit's code: a neighbourhood, a commune, …
    pub unit: String,
    /// At most 7 days ago.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: OffsetDateTime,
    /// After `from` and after now, at most 28 days after `from`.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub until: OffsetDateTime,
    pub reason: String,
}

/// Puts a unit under restriction, answering with the residents and venues it affects. 409
/// naming the restriction already there when the unit, one around it or one inside it is
/// restricted for an overlapping window; 422 for a window that ends before it starts, is
/// over already or is too long (audited).
#[utoipa::path(post, path = "/restrictions", tag = "zoning", request_body = RestrictionBody,
    responses((status = 201, body = RestrictionReport), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn declare_restriction(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<RestrictionBody>,
) -> Result<(StatusCode, Json<RestrictionReport>), ApiError> {
    let report = state.services.declare_restriction(&caller, &body.unit, body.from, body.until, &body.reason).await?;
    Ok((StatusCode::CREATED, Json(report)))
}

/// Restrictions of units in the caller's jurisdiction, the newest first.
#[utoipa::path(get, path = "/restrictions", tag = "zoning",
    responses((status = 200, body = [Restriction]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn restrictions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<Restriction>>, ApiError> {
    Ok(Json(state.services.restrictions(&caller).await?))
}

/// A restriction with the residents and venues it affects now (audited).
#[utoipa::path(get, path = "/restrictions/{id}", tag = "zoning", params(("id" = Uuid, Path)),
    responses((status = 200, body = RestrictionReport), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn restriction(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<RestrictionReport>, ApiError> {
    Ok(Json(state.services.restriction(&caller, RestrictionId(id)).await?))
}

/// Ends a restriction now; 422 `already_over` when it has ended or been lifted (audited).
#[utoipa::path(post, path = "/restrictions/{id}/lift", tag = "zoning", params(("id" = Uuid, Path)),
    responses((status = 200, body = Restriction), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn lift_restriction(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Restriction>, ApiError> {
    Ok(Json(state.services.lift_restriction(&caller, RestrictionId(id)).await?))
}
