//! Administrative units: look-ups for everyone, additions and population for their staff.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use outbreak_domain::Unit;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ErrorBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, ApiPath};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(find))
        .routes(routes!(one))
        .routes(routes!(children, add_child))
        .routes(routes!(import_population))
}

#[derive(Deserialize, IntoParams)]
pub struct FindParams {
    /// Words of a unit's name (diacritics optional), or its code.
    q: String,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    20
}

#[derive(Deserialize, ToSchema)]
pub struct NewUnit {
    /// A short local code (`TDP3`); the full code becomes `<parent>.<code>`.
    code: String,
    name: String,
    /// In Vietnamese (`tổ dân phố`, `thôn`, `hộ gia đình`); a default follows the level.
    #[serde(default)]
    division_type: String,
}

#[derive(Serialize, ToSchema)]
pub struct PopulationImported {
    units_updated: usize,
}

/// Units by name or code.
#[utoipa::path(get, path = "/units", tag = "units", params(FindParams),
    responses((status = 200, body = [Unit]), (status = 422, body = ErrorBody)))]
async fn find(State(state): State<AppState>, Query(params): Query<FindParams>) -> Result<Json<Vec<Unit>>, ApiError> {
    Ok(Json(state.services.find_units(&params.q, params.limit).await?))
}

/// One unit.
#[utoipa::path(get, path = "/units/{code}", tag = "units", params(("code" = String, Path)),
    responses((status = 200, body = Unit), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn one(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Result<Json<Unit>, ApiError> {
    Ok(Json(state.services.unit(&code).await?))
}

/// The units directly below a unit (`VN` for the provinces).
#[utoipa::path(get, path = "/units/{code}/children", tag = "units", params(("code" = String, Path)),
    responses((status = 200, body = [Unit]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn children(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Result<Json<Vec<Unit>>, ApiError> {
    Ok(Json(state.services.child_units(&code).await?))
}

/// Adds a neighbourhood below a commune, or a household below a neighbourhood.
#[utoipa::path(post, path = "/units/{code}/children", tag = "units", params(("code" = String, Path)), request_body = NewUnit,
    responses((status = 201, body = Unit), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn add_child(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<NewUnit>,
) -> Result<(StatusCode, Json<Unit>), ApiError> {
    let unit = state.services.add_child_unit(&caller, &code, &body.code, &body.name, &body.division_type).await?;
    Ok((StatusCode::CREATED, Json(unit)))
}

/// Sets population figures from a CSV body (`code,population`); all rows or none.
#[utoipa::path(put, path = "/units/population", tag = "units", request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = PopulationImported), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn import_population(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    body: Bytes,
) -> Result<Json<PopulationImported>, ApiError> {
    let units_updated = state.services.import_population(&caller, &body).await?;
    Ok(Json(PopulationImported { units_updated }))
}
