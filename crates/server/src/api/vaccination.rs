//! Vaccination (platform 3): reference lists, organisations and their registration lists,
//! self-registration, lots, sites, sessions and the allocator, invitations, the
//! vaccinator's screen and doses with corrections, adverse events, coverage, and the
//! citizen's own doses (signed in, or looked up with a code).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use outbreak_domain::vaccination::{
    AdverseEventId, DoseId, InvitationId, OrganisationId, OrganisationStatus, PriorityGroup, Product,
    ScreeningQuestion, SiteId, VaccinationSessionId,
};
use outbreak_services::vaccination::{
    AdverseInput, AllocationReport, CorrectionInput, CoverageReport, DoseInput, LotInput, OrganisationApplication,
    OrganisationDecision, PersonDoses, RegistrationItem, RegistrationReport, SelfRegistration, SessionInput, SiteInput,
    Vaccinee,
};
use outbreak_store::{AdverseEvent, Dose, DoseRevision, Invitation, Lot, Organisation, Site, VaccinationSession};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ErrorBody;
use super::testing::{LookupBody, UploadParams};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, ApiPath, client_address};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(products))
        .routes(routes!(screening))
        .routes(routes!(priority_groups))
        .routes(routes!(put_priority_group))
        .routes(routes!(organisations, apply_organisation))
        .routes(routes!(my_organisations))
        .routes(routes!(decide_organisation))
        .routes(routes!(register_myself))
        .routes(routes!(add_lot))
        .routes(routes!(sites, create_site))
        .routes(routes!(sessions, create_session))
        .routes(routes!(session))
        .routes(routes!(allocate))
        .routes(routes!(answer_invitation))
        .routes(routes!(vaccinee))
        .routes(routes!(record_dose))
        .routes(routes!(dose))
        .routes(routes!(correct_dose))
        .routes(routes!(adverse_events, report_adverse_event))
        .routes(routes!(follow_up_adverse_event))
        .routes(routes!(coverage))
        .routes(routes!(my_doses))
        .routes(routes!(lookup_doses))
}

/// Registration lists take files up to 100 MB, more than the rest of the API accepts.
pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_registrations))
}

/// The national list of vaccine products with their schedules and EU certificate codes.
#[utoipa::path(get, path = "/vaccination/products", tag = "vaccination", responses((status = 200, body = [Product])))]
async fn products(State(state): State<AppState>) -> Json<Vec<Product>> {
    Json(state.services.vaccine_products().to_vec())
}

/// The screening questions asked before every dose.
#[utoipa::path(get, path = "/vaccination/screening", tag = "vaccination",
    responses((status = 200, body = [ScreeningQuestion])))]
async fn screening(State(state): State<AppState>) -> Json<Vec<ScreeningQuestion>> {
    Json(state.services.screening_questions().to_vec())
}

/// The national list of priority groups, by rank.
#[utoipa::path(get, path = "/vaccination/priority-groups", tag = "vaccination",
    responses((status = 200, body = [PriorityGroup])))]
async fn priority_groups(State(state): State<AppState>) -> Result<Json<Vec<PriorityGroup>>, ApiError> {
    Ok(Json(state.services.priority_groups().await?))
}

/// Adds or changes a priority group (national admins).
#[utoipa::path(put, path = "/vaccination/priority-groups", tag = "vaccination", request_body = PriorityGroup,
    responses((status = 200, body = PriorityGroup), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn put_priority_group(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<PriorityGroup>,
) -> Result<Json<PriorityGroup>, ApiError> {
    Ok(Json(state.services.put_priority_group(&caller, &body).await?))
}

/// An organisation applies for an account; the health staff of its unit decide.
#[utoipa::path(post, path = "/vaccination/organisations", tag = "vaccination", request_body = OrganisationApplication,
    responses((status = 201, body = Organisation), (status = 422, body = ErrorBody)))]
async fn apply_organisation(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OrganisationApplication>,
) -> Result<(StatusCode, Json<Organisation>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.apply_organisation(&body).await?)))
}

#[derive(Deserialize, IntoParams)]
pub struct OrganisationParams {
    /// `pending`, `approved` or `rejected`.
    pub status: Option<String>,
}

/// Organisations in the caller's jurisdiction, oldest application first.
#[utoipa::path(get, path = "/vaccination/organisations", tag = "vaccination", params(OrganisationParams),
    responses((status = 200, body = [Organisation]), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn organisations(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<OrganisationParams>,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    let status = params
        .status
        .as_deref()
        .map(|s| OrganisationStatus::parse("status", s))
        .transpose()
        .map_err(|e| ApiError::from(outbreak_services::ServiceError::Invalid(e)))?;
    Ok(Json(state.services.organisations(&caller, status).await?))
}

/// The organisations the caller manages.
#[utoipa::path(get, path = "/vaccination/organisations/mine", tag = "vaccination",
    responses((status = 200, body = [Organisation]), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn my_organisations(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    Ok(Json(state.services.my_organisations(&caller).await?))
}

/// Approves an application (naming the manager's account) or rejects it with a note.
#[utoipa::path(post, path = "/vaccination/organisations/{id}/decision", tag = "vaccination", params(("id" = Uuid, Path)),
    request_body = OrganisationDecision,
    responses((status = 200, body = Organisation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn decide_organisation(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<OrganisationDecision>,
) -> Result<Json<Organisation>, ApiError> {
    Ok(Json(state.services.decide_organisation(&caller, OrganisationId(id), &body).await?))
}

/// Registers an organisation's people from a CSV or XLSX file sent as the request body (up
/// to 100 MB). Columns are found by their headers, Vietnamese or English: `Họ và tên`,
/// `Ngày sinh` (any common way of writing a date, or the year), `Giới tính`, `Số CCCD`,
/// `Số điện thoại` (with or without +84), `Nhóm ưu tiên` (number or name), `Bệnh nền`,
/// `Mã xã phường`, `Địa chỉ`. Every row is reported: registered, matched to a person
/// already known, already registered, or refused and why.
#[utoipa::path(post, path = "/vaccination/organisations/{id}/registrations", tag = "vaccination",
    params(("id" = Uuid, Path), UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = RegistrationReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn upload_registrations(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(params): Query<UploadParams>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<RegistrationReport>, ApiError> {
    let body = body.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the file is larger than 100 MB: split it into smaller files",
            Some("file"),
        )
    })?;
    let report =
        state.services.upload_registrations(&caller, OrganisationId(id), &body, params.filename.as_deref()).await?;
    Ok(Json(report))
}

/// A signed-in citizen registers themselves (or someone sharing their phone).
#[utoipa::path(post, path = "/me/vaccination/registration", tag = "vaccination", request_body = SelfRegistration,
    responses((status = 201, body = RegistrationItem), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
async fn register_myself(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<SelfRegistration>,
) -> Result<(StatusCode, Json<RegistrationItem>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.register_myself(&caller, &body).await?)))
}

/// Registers a vaccine lot received by a unit; doses are only recorded from known lots.
#[utoipa::path(post, path = "/vaccination/lots", tag = "vaccination", request_body = LotInput,
    responses((status = 201, body = Lot), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn add_lot(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<LotInput>,
) -> Result<(StatusCode, Json<Lot>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.add_lot(&caller, &body).await?)))
}

/// Adds a vaccination site in a unit of the caller's jurisdiction.
#[utoipa::path(post, path = "/vaccination/sites", tag = "vaccination", request_body = SiteInput,
    responses((status = 201, body = Site), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn create_site(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<SiteInput>,
) -> Result<(StatusCode, Json<Site>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.create_site(&caller, &body).await?)))
}

/// Sites where the caller plans or vaccinates.
#[utoipa::path(get, path = "/vaccination/sites", tag = "vaccination",
    responses((status = 200, body = [Site]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn sites(State(state): State<AppState>, ApiCaller(caller): ApiCaller) -> Result<Json<Vec<Site>>, ApiError> {
    Ok(Json(state.services.sites(&caller).await?))
}

/// Plans a session at a site: date, time slots with capacities, product and lot.
#[utoipa::path(post, path = "/vaccination/sessions", tag = "vaccination", request_body = SessionInput,
    responses((status = 201, body = VaccinationSession), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn create_session(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<SessionInput>,
) -> Result<(StatusCode, Json<VaccinationSession>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.create_session(&caller, &body).await?)))
}

/// Sessions at sites in the caller's jurisdiction, latest date first.
#[utoipa::path(get, path = "/vaccination/sessions", tag = "vaccination",
    responses((status = 200, body = [VaccinationSession]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn sessions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<VaccinationSession>>, ApiError> {
    Ok(Json(state.services.vaccination_sessions(&caller).await?))
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub session: VaccinationSession,
    pub invitations: Vec<Invitation>,
}

/// A session with its invitations.
#[utoipa::path(get, path = "/vaccination/sessions/{id}", tag = "vaccination", params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn session(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SessionView>, ApiError> {
    let (session, invitations) = state.services.vaccination_session(&caller, VaccinationSessionId(id)).await?;
    Ok(Json(SessionView { session, invitations }))
}

/// Runs the allocator for a session: fills its free places by priority group, then age,
/// then registration time, and sends the invitations by SMS.
#[utoipa::path(post, path = "/vaccination/sessions/{id}/allocate", tag = "vaccination", params(("id" = Uuid, Path)),
    responses((status = 200, body = AllocationReport), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn allocate(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AllocationReport>, ApiError> {
    Ok(Json(state.services.allocate(&caller, VaccinationSessionId(id)).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct AnswerBody {
    pub confirm: bool,
}

/// The invited citizen confirms or declines; a declined place goes to the next in line.
#[utoipa::path(post, path = "/me/invitations/{id}/answer", tag = "vaccination", params(("id" = Uuid, Path)),
    request_body = AnswerBody,
    responses((status = 200, body = Invitation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
async fn answer_invitation(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<Json<Invitation>, ApiError> {
    Ok(Json(state.services.answer_invitation(&caller, InvitationId(id), body.confirm).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ScanBody {
    /// The scanned personal QR (token or whole URL), or a typed CCCD.
    pub scanned: String,
}

/// The person in front of the vaccinator at a site: their doses, the next dose due and
/// the screening questions (audited).
#[utoipa::path(post, path = "/vaccination/sites/{id}/vaccinee", tag = "vaccination", params(("id" = Uuid, Path)),
    request_body = ScanBody,
    responses((status = 200, body = Vaccinee), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn vaccinee(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ScanBody>,
) -> Result<Json<Vaccinee>, ApiError> {
    Ok(Json(state.services.vaccinee(&caller, SiteId(id), &body.scanned).await?))
}

/// Records a dose after screening: refused with a reason when its number contradicts the
/// person's history, it comes before the minimum interval, or the lot is unknown.
#[utoipa::path(post, path = "/vaccination/doses", tag = "vaccination", request_body = DoseInput,
    responses((status = 201, body = Dose), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn record_dose(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<DoseInput>,
) -> Result<(StatusCode, Json<Dose>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.record_dose(&caller, &body).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct DoseView {
    pub dose: Dose,
    /// What the dose said before each correction, oldest first.
    pub history: Vec<DoseRevision>,
}

/// A dose with its correction history.
#[utoipa::path(get, path = "/vaccination/doses/{id}", tag = "vaccination", params(("id" = Uuid, Path)),
    responses((status = 200, body = DoseView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn dose(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<DoseView>, ApiError> {
    let (dose, history) = state.services.dose_history(&caller, DoseId(id)).await?;
    Ok(Json(DoseView { dose, history }))
}

/// Corrects (product, lot, time) or voids a dose, with a reason; the history stays.
#[utoipa::path(post, path = "/vaccination/doses/{id}/corrections", tag = "vaccination", params(("id" = Uuid, Path)),
    request_body = CorrectionInput,
    responses((status = 200, body = Dose), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn correct_dose(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CorrectionInput>,
) -> Result<Json<Dose>, ApiError> {
    Ok(Json(state.services.correct_dose(&caller, DoseId(id), &body).await?))
}

/// Reports an adverse event after a dose (staff where it was given, or the person).
#[utoipa::path(post, path = "/vaccination/adverse-events", tag = "vaccination", request_body = AdverseInput,
    responses((status = 201, body = AdverseEvent), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn report_adverse_event(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<AdverseInput>,
) -> Result<(StatusCode, Json<AdverseEvent>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.report_adverse_event(&caller, &body).await?)))
}

/// Adverse events after doses given in the caller's jurisdiction, newest first.
#[utoipa::path(get, path = "/vaccination/adverse-events", tag = "vaccination",
    responses((status = 200, body = [AdverseEvent]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn adverse_events(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<AdverseEvent>>, ApiError> {
    Ok(Json(state.services.adverse_events(&caller).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct FollowUpBody {
    /// `reported`, `following_up` or `closed`.
    pub status: String,
    #[serde(default)]
    pub note: String,
}

/// Moves the follow-up of an adverse event on.
#[utoipa::path(post, path = "/vaccination/adverse-events/{id}", tag = "vaccination", params(("id" = Uuid, Path)),
    request_body = FollowUpBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn follow_up_adverse_event(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<FollowUpBody>,
) -> Result<StatusCode, ApiError> {
    state.services.follow_up_adverse_event(&caller, AdverseEventId(id), &body.status, &body.note).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct CoverageParams {
    /// A unit code in the caller's jurisdiction; their top unit by default.
    pub unit: Option<String>,
    /// Days of doses per day to show, ending today (default 30).
    pub days: Option<i64>,
}

/// Coverage of a unit (people with at least one dose, with a full primary series; by age
/// band with 65+, priority group and comorbidities), the units below it, and doses per day
/// by product.
#[utoipa::path(get, path = "/vaccination/coverage", tag = "vaccination", params(CoverageParams),
    responses((status = 200, body = CoverageReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn coverage(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<CoverageParams>,
) -> Result<Json<CoverageReport>, ApiError> {
    Ok(Json(state.services.coverage(&caller, params.unit.as_deref(), params.days.unwrap_or(30)).await?))
}

/// The signed-in citizen's doses and invitations (and those of people on their phone).
#[utoipa::path(get, path = "/me/doses", tag = "vaccination",
    responses((status = 200, body = [PersonDoses]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
async fn my_doses(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<PersonDoses>>, ApiError> {
    Ok(Json(state.services.my_doses(&caller).await?))
}

/// A person's doses, with the CCCD, date of birth and the code sent to their phone (ask
/// for it at `/lookup/code`).
#[utoipa::path(post, path = "/lookup/doses", tag = "vaccination", request_body = LookupBody,
    responses((status = 200, body = PersonDoses), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn lookup_doses(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    ApiJson(body): ApiJson<LookupBody>,
) -> Result<Json<PersonDoses>, ApiError> {
    let client = client_address(&parts, &state);
    Ok(Json(state.services.lookup_doses(&body.cccd, &body.date_of_birth, &body.code, &client).await?))
}
