//! People: register, search, open, change; and their personal QR.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use outbreak_domain::{NewPerson, Person, PersonId};
use outbreak_store::PersonRecord;
use serde::{Deserialize, Serialize};
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
        .routes(routes!(register, search))
        .routes(routes!(open, update))
        .routes(routes!(personal_qr))
        .routes(routes!(reissue_qr))
        .routes(routes!(scan))
        .routes(routes!(my_people, register_self))
}

/// A person's record with the path of their address unit.
#[derive(Serialize, ToSchema)]
pub struct PersonView {
    #[serde(flatten)]
    person: Person,
    /// The units from the country down to the address (`/VN/01/00070/`).
    address_path: String,
}

impl From<PersonRecord> for PersonView {
    fn from(record: PersonRecord) -> Self {
        PersonView { person: record.person, address_path: record.address_path }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PersonalQr {
    /// The signed token; never the person's id or any identifier.
    token: String,
    /// The URL the QR holds: scanning it with a staff account opens the person.
    url: String,
}

#[derive(Deserialize, IntoParams)]
pub struct SearchParams {
    /// A CCCD, a phone, a health-insurance number, or words of a name (diacritics optional).
    q: String,
    /// Page number from 0; 50 results per page.
    #[serde(default)]
    page: u32,
}

fn person_id(id: Uuid) -> PersonId {
    PersonId(id)
}

/// Registers a person (staff, within their jurisdiction). A CCCD or health-insurance
/// number already registered is refused with 409 and the existing record's id.
#[utoipa::path(post, path = "/people", tag = "people", request_body = NewPerson,
    responses((status = 201, body = PersonView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn register(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<NewPerson>,
) -> Result<(StatusCode, Json<PersonView>), ApiError> {
    let record = state.services.register_person(&caller, &body).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Finds people in the caller's jurisdiction (audited).
#[utoipa::path(get, path = "/people", tag = "people", params(SearchParams),
    responses((status = 200, body = [PersonView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn search(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<SearchParams>,
) -> Result<Json<Vec<PersonView>>, ApiError> {
    let found = state.services.search_people(&caller, &params.q, params.page).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

/// Opens a person's record (audited); 403 outside the caller's jurisdiction.
#[utoipa::path(get, path = "/people/{id}", tag = "people", params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn open(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PersonView>, ApiError> {
    Ok(Json(state.services.person(&caller, person_id(id)).await?.into()))
}

/// Replaces a person's details (audited).
#[utoipa::path(put, path = "/people/{id}", tag = "people", params(("id" = Uuid, Path)), request_body = NewPerson,
    responses((status = 200, body = PersonView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NewPerson>,
) -> Result<Json<PersonView>, ApiError> {
    Ok(Json(state.services.update_person(&caller, person_id(id), &body).await?.into()))
}

/// The person's personal QR (issued on first request).
#[utoipa::path(get, path = "/people/{id}/qr", tag = "people", params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonalQr), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn personal_qr(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PersonalQr>, ApiError> {
    let person = state.services.person(&caller, person_id(id)).await?;
    let token = state.services.personal_qr_token(person.id()).await?;
    Ok(Json(PersonalQr { url: state.services.personal_qr_url(&token), token }))
}

/// Revokes every personal QR of the person (a lost card) and issues a new one.
#[utoipa::path(post, path = "/people/{id}/qr/reissue", tag = "people", params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonalQr), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn reissue_qr(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PersonalQr>, ApiError> {
    let token = state.services.reissue_personal_qr(&caller, person_id(id)).await?;
    Ok(Json(PersonalQr { url: state.services.personal_qr_url(&token), token }))
}

/// The person a scanned personal QR stands for (staff within jurisdiction; audited).
#[utoipa::path(get, path = "/qr/{token}", tag = "people", params(("token" = String, Path)),
    responses((status = 200, body = PersonView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn scan(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<PersonView>, ApiError> {
    Ok(Json(state.services.resolve_personal_qr(&caller, &token).await?.into()))
}

/// The people registered with the signed-in citizen's phone.
#[utoipa::path(get, path = "/me/people", tag = "people",
    responses((status = 200, body = [PersonView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
async fn my_people(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<PersonView>>, ApiError> {
    Ok(Json(state.services.my_people(&caller).await?.into_iter().map(Into::into).collect()))
}

/// A citizen registers themselves, with the phone they signed in with.
#[utoipa::path(post, path = "/me/people", tag = "people", request_body = NewPerson,
    responses((status = 201, body = PersonView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("session" = [])))]
async fn register_self(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<NewPerson>,
) -> Result<(StatusCode, Json<PersonView>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.register_self(&caller, &body).await?.into())))
}
