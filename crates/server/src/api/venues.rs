//! Venues, check-ins and health declarations (platform 1).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use outbreak_domain::venue::{NewDeclaration, NewVenue, VenueKind};
use outbreak_services::checkins::{CheckinItem, ItemResult, Receipt, VenueToday};
use outbreak_store::{Checkin, Declaration, Venue};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ErrorBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, ApiPath, MaybeApiCaller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_venues, register))
        .routes(routes!(venue))
        .routes(routes!(set_active))
        .routes(routes!(today))
        .routes(routes!(visitors))
        .routes(routes!(check_in_here))
        .routes(routes!(check_in))
        .routes(routes!(check_in_batch))
        .routes(routes!(check_out))
        .routes(routes!(diary))
        .routes(routes!(declare))
        .routes(routes!(flagged))
}

/// A venue as its owner and staff see it.
#[derive(Serialize, ToSchema)]
pub struct VenueView {
    id: Uuid,
    /// The short code on the poster; the poster's QR opens `/v/{code}`.
    code: String,
    name: String,
    kind: VenueKind,
    plate: Option<String>,
    unit: String,
    address: String,
    contact_phone: String,
    active: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<Venue> for VenueView {
    fn from(v: Venue) -> Self {
        VenueView {
            id: v.id.0,
            code: v.code,
            name: v.name,
            kind: v.kind,
            plate: v.plate,
            unit: v.unit.to_string(),
            address: v.address,
            contact_phone: v.contact_phone.national(),
            active: v.active,
            created_at: v.created_at,
        }
    }
}

/// What anyone may know of a venue: what the poster says.
#[derive(Serialize, ToSchema)]
pub struct PublicVenue {
    code: String,
    name: String,
    kind: VenueKind,
    plate: Option<String>,
    active: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CheckinView {
    id: i64,
    venue_code: String,
    venue_name: String,
    /// The visitor's name as given; staff views only.
    name: String,
    phone: Option<String>,
    person_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    until: OffsetDateTime,
    /// `poster`, `staff` or `api`.
    source: String,
}

impl From<Checkin> for CheckinView {
    fn from(c: Checkin) -> Self {
        CheckinView {
            id: c.id,
            venue_code: c.venue_code,
            venue_name: c.venue_name,
            name: c.name,
            phone: c.phone.map(|p| p.national()),
            person_id: c.person.map(|p| p.0),
            at: c.at,
            until: c.until,
            source: c.source,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeclarationView {
    id: i64,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    venue_name: Option<String>,
    phone: Option<String>,
    person_id: Option<Uuid>,
    symptoms: Vec<String>,
    f0_contact: bool,
    places_visited: String,
    move_from: Option<String>,
    move_to: Option<String>,
    move_date: Option<String>,
    vehicle: String,
    flagged: bool,
}

impl From<Declaration> for DeclarationView {
    fn from(d: Declaration) -> Self {
        let r = d.record;
        DeclarationView {
            id: d.id,
            at: r.at,
            venue_name: d.venue_name,
            phone: r.phone.map(|p| p.national()),
            person_id: r.person.map(|p| p.0),
            symptoms: r.symptoms,
            f0_contact: r.f0_contact,
            places_visited: r.places_visited,
            move_from: r.move_from.map(|u| u.to_string()),
            move_to: r.move_to.map(|u| u.to_string()),
            move_date: r.move_date.map(|d| d.to_string()),
            vehicle: r.vehicle,
            flagged: r.flagged,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ActiveBody {
    active: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct SelfCheckin {
    /// For a signed-in citizen with several people on their phone: which one.
    #[serde(default)]
    person_id: Option<Uuid>,
    /// Without a sign-in: the visitor's phone and name.
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct Batch {
    /// At most 10,000 items.
    items: Vec<CheckinItem>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    stored: usize,
    repeats: usize,
    refused: usize,
    /// One result per item, in the order sent.
    results: Vec<ItemResult>,
}

#[derive(Serialize, ToSchema)]
pub struct Diary {
    checkins: Vec<CheckinView>,
    declarations: Vec<DeclarationView>,
}

#[derive(Deserialize, ToSchema)]
pub struct DeclarationBody {
    /// The venue's code when declaring at a venue.
    #[serde(default)]
    venue: Option<String>,
    /// Without a sign-in: the declarer's phone.
    #[serde(default)]
    phone: Option<String>,
    #[serde(flatten)]
    declaration: NewDeclaration,
}

#[derive(Serialize, ToSchema)]
pub struct Declared {
    /// True when the declaration reports symptoms or contact with an F0: show it to staff.
    flagged: bool,
}

#[derive(Deserialize, IntoParams)]
pub struct DayParams {
    /// The day (`YYYY-MM-DD`, Vietnam time); today when absent.
    date: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct SinceParams {
    /// Declarations at or after this instant (RFC 3339); three days ago when absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    since: Option<OffsetDateTime>,
}

/// Registers a venue. A citizen becomes its owner; staff register venues in their units.
#[utoipa::path(post, path = "/venues", tag = "venues", request_body = NewVenue,
    responses((status = 201, body = VenueView), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn register(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<NewVenue>,
) -> Result<(StatusCode, Json<VenueView>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.register_venue(&caller, &body).await?.into())))
}

/// The caller's venues: a citizen's own, or those in a staff member's units.
#[utoipa::path(get, path = "/venues", tag = "venues",
    responses((status = 200, body = [VenueView]), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn my_venues(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<VenueView>>, ApiError> {
    Ok(Json(state.services.my_venues(&caller).await?.into_iter().map(Into::into).collect()))
}

/// What a venue's poster says.
#[utoipa::path(get, path = "/venues/{code}", tag = "venues", params(("code" = String, Path)),
    responses((status = 200, body = PublicVenue), (status = 404, body = ErrorBody)))]
async fn venue(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Result<Json<PublicVenue>, ApiError> {
    let v = state.services.venue_by_code(&code).await?;
    Ok(Json(PublicVenue { code: v.code, name: v.name, kind: v.kind, plate: v.plate, active: v.active }))
}

/// Deactivates or reactivates a venue; a deactivated venue refuses check-ins.
#[utoipa::path(put, path = "/venues/{code}/active", tag = "venues", params(("code" = String, Path)), request_body = ActiveBody,
    responses((status = 200, body = VenueView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn set_active(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<ActiveBody>,
) -> Result<Json<VenueView>, ApiError> {
    Ok(Json(state.services.set_venue_active(&caller, &code, body.active).await?.into()))
}

/// Today at a venue: the number of check-ins and the flagged arrivals, without names.
#[utoipa::path(get, path = "/venues/{code}/today", tag = "venues", params(("code" = String, Path)),
    responses((status = 200, body = VenueToday), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn today(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<VenueToday>, ApiError> {
    Ok(Json(state.services.venue_today(&caller, &code).await?))
}

/// Who was at a venue on a day (commune staff; audited).
#[utoipa::path(get, path = "/venues/{code}/visitors", tag = "venues", params(("code" = String, Path), DayParams),
    responses((status = 200, body = [CheckinView]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn visitors(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(code): ApiPath<String>,
    Query(params): Query<DayParams>,
) -> Result<Json<Vec<CheckinView>>, ApiError> {
    let start = match params.date.as_deref() {
        None => outbreak_services::checkins::local_midnight(outbreak_domain::now()),
        Some(text) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let day = time::Date::parse(text, format).map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_format",
                    "date must be YYYY-MM-DD",
                    Some("date"),
                )
            })?;
            day.with_time(time::Time::MIDNIGHT).assume_offset(time::macros::offset!(+7)).to_offset(time::UtcOffset::UTC)
        }
    };
    let log = state.services.visitor_log(&caller, &code, start, start + time::Duration::DAY).await?;
    Ok(Json(log.into_iter().map(Into::into).collect()))
}

/// Checks in at a venue as the poster does: a signed-in citizen with one call, anyone
/// else with their phone and name.
#[utoipa::path(post, path = "/venues/{code}/checkin", tag = "venues", params(("code" = String, Path)), request_body = SelfCheckin,
    responses((status = 201, body = Receipt), (status = 200, body = Receipt), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn check_in_here(
    State(state): State<AppState>,
    MaybeApiCaller(caller): MaybeApiCaller,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<SelfCheckin>,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let receipt = match &caller {
        Some(caller) if matches!(caller.principal, outbreak_domain::Principal::Citizen { .. }) => {
            state.services.check_in_self(caller, &code, body.person_id.map(outbreak_domain::PersonId)).await?
        }
        _ => {
            let phone = body.phone.unwrap_or_default();
            state.services.check_in_with_phone(&code, &phone, body.name.as_deref().unwrap_or_default()).await?
        }
    };
    let status = if receipt.new_visit { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(receipt)))
}

/// Records one check-in for someone else (venue staff, gate systems).
#[utoipa::path(post, path = "/checkins", tag = "venues", request_body = CheckinItem,
    responses((status = 201, body = ItemResult), (status = 200, body = ItemResult), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn check_in(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(item): ApiJson<CheckinItem>,
) -> Result<(StatusCode, Json<ItemResult>), ApiError> {
    let mut results = state.services.check_in_batch(&caller, std::slice::from_ref(&item)).await?;
    let result =
        results.pop().ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no result", None))?;
    match (&result.error, result.status) {
        (Some(error), _) => {
            let status = match error.code.as_str() {
                "forbidden" => StatusCode::FORBIDDEN,
                "not_found" => StatusCode::NOT_FOUND,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Err(ApiError::new(status, &error.code, error.message.clone(), error.field.as_deref()))
        }
        (None, "stored") => Ok((StatusCode::CREATED, Json(result))),
        (None, _) => Ok((StatusCode::OK, Json(result))),
    }
}

/// Records a batch of check-ins. Each item is answered in order: `stored`, `repeat` (the
/// same visit, or a `client_id` retried for the same visitor) or `refused` with the reason; good items are
/// stored whatever happens to the others.
#[utoipa::path(post, path = "/checkins/batch", tag = "venues", request_body = Batch,
    responses((status = 200, body = BatchResult), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn check_in_batch(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(batch): ApiJson<Batch>,
) -> Result<Json<BatchResult>, ApiError> {
    let results = state.services.check_in_batch(&caller, &batch.items).await?;
    let count = |status: &str| results.iter().filter(|r| r.status == status).count();
    Ok(Json(BatchResult { stored: count("stored"), repeats: count("repeat"), refused: count("refused"), results }))
}

/// Ends one of the signed-in citizen's visits now.
#[utoipa::path(post, path = "/checkins/{id}/checkout", tag = "venues", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("session" = [])))]
async fn check_out(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.services.check_out(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in citizen's check-ins and declarations of the last 21 days.
#[utoipa::path(get, path = "/me/diary", tag = "venues",
    responses((status = 200, body = Diary), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("session" = [])))]
async fn diary(State(state): State<AppState>, ApiCaller(caller): ApiCaller) -> Result<Json<Diary>, ApiError> {
    let (checkins, declarations) = state.services.diary(&caller).await?;
    Ok(Json(Diary {
        checkins: checkins.into_iter().map(Into::into).collect(),
        declarations: declarations.into_iter().map(Into::into).collect(),
    }))
}

/// Records a health declaration (and, optionally, a domestic movement), at a venue or on
/// its own; without a sign-in the phone is required.
#[utoipa::path(post, path = "/declarations", tag = "venues", request_body = DeclarationBody,
    responses((status = 201, body = Declared), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn declare(
    State(state): State<AppState>,
    MaybeApiCaller(caller): MaybeApiCaller,
    ApiJson(body): ApiJson<DeclarationBody>,
) -> Result<(StatusCode, Json<Declared>), ApiError> {
    let flagged = state
        .services
        .declare(caller.as_ref(), body.venue.as_deref(), body.phone.as_deref(), &body.declaration)
        .await?;
    Ok((StatusCode::CREATED, Json(Declared { flagged })))
}

/// Flagged declarations in the caller's units, for the commune health station (audited).
#[utoipa::path(get, path = "/declarations/flagged", tag = "venues", params(SinceParams),
    responses((status = 200, body = [DeclarationView]), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn flagged(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<SinceParams>,
) -> Result<Json<Vec<DeclarationView>>, ApiError> {
    let since = params.since.unwrap_or_else(|| outbreak_domain::now() - time::Duration::days(3));
    Ok(Json(state.services.flagged_declarations(&caller, since).await?.into_iter().map(Into::into).collect()))
}
