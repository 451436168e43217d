//! Narrow zoning: venues declared exposed for a time window, and the people checked in then.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use outbreak_domain::tracing::ExposureId;
use outbreak_services::zoning::ExposureReport;
use outbreak_store::{Exposure, ExposureContact};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ErrorBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(declare_exposure, exposures)).routes(routes!(exposure_contacts))
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
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<ExposureContact>>, ApiError> {
    Ok(Json(state.services.exposure_contacts(&caller, ExposureId(id)).await?))
}
