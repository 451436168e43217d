//! Testing (platform 2): sampling sessions, specimens, pools, lab results, cases, results
//! for citizens, look-up with a code, and the dashboard with its live stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use outbreak_domain::testing::{CaseId, NewResult, NewSession, SessionId};
use outbreak_services::checkins::VisitorId;
use outbreak_services::testing::{Dashboard, PersonResults, ResultItem, SessionView, TubeView, UploadReport};
use outbreak_store::{Case, CaseRow, SamplingSession, Specimen, TubeStep};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ErrorBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, ApiPath, client_address};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sessions, open_session))
        .routes(routes!(session))
        .routes(routes!(close_session))
        .routes(routes!(take_specimen))
        .routes(routes!(tube))
        .routes(routes!(move_tube))
        .routes(routes!(close_pool))
        .routes(routes!(record_results))
        .routes(routes!(correct_result))
        .routes(routes!(open_specimens))
        .routes(routes!(my_results))
        .routes(routes!(lookup_code))
        .routes(routes!(lookup))
        .routes(routes!(cases))
        .routes(routes!(case, set_case_status))
        .routes(routes!(dashboard))
        .routes(routes!(dashboard_stream))
}

/// The results upload takes files up to 100 MB, more than the rest of the API accepts.
pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_results))
}

/// Opens a sampling session in a unit of the caller's jurisdiction.
#[utoipa::path(post, path = "/testing/sessions", tag = "testing", request_body = NewSession,
    responses((status = 201, body = SamplingSession), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn open_session(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<NewSession>,
) -> Result<(StatusCode, Json<SamplingSession>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.open_session(&caller, &body).await?)))
}

/// Recent sampling sessions in the caller's jurisdiction.
#[utoipa::path(get, path = "/testing/sessions", tag = "testing",
    responses((status = 200, body = [SamplingSession]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn sessions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<SamplingSession>>, ApiError> {
    Ok(Json(state.services.sampling_sessions(&caller).await?))
}

/// A session with its specimens and pools.
#[utoipa::path(get, path = "/testing/sessions/{id}", tag = "testing", params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn session(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(state.services.sampling_session(&caller, SessionId(id)).await?))
}

/// Closes a session: no more specimens, and its pools close.
#[utoipa::path(post, path = "/testing/sessions/{id}/close", tag = "testing", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn close_session(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.services.close_session(&caller, SessionId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a person's specimen: identify them by exactly one of a scanned personal QR, a
/// CCCD, a health-insurance number or a person id. In a pooled session the specimen joins
/// the open pool; a person awaiting an individual retest gets an individual tube.
#[utoipa::path(post, path = "/testing/sessions/{id}/specimens", tag = "testing", params(("id" = Uuid, Path)), request_body = VisitorId,
    responses((status = 201, body = Specimen), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn take_specimen(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<VisitorId>,
) -> Result<(StatusCode, Json<Specimen>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.take_specimen(&caller, SessionId(id), &body).await?)))
}

/// A tube by its label: a specimen, or a pool with its members, and its result history.
#[utoipa::path(get, path = "/testing/tubes/{barcode}", tag = "testing", params(("barcode" = String, Path)),
    responses((status = 200, body = TubeView), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn tube(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(barcode): ApiPath<String>,
) -> Result<Json<TubeView>, ApiError> {
    Ok(Json(state.services.tube(&caller, &barcode).await?))
}

/// A step on a tube's way to its result.
#[derive(Deserialize, ToSchema)]
pub struct StepBody {
    /// `ship` (samplers), `receive` or `reject` (labs).
    pub step: String,
    /// Why a tube is rejected (leaked, unlabelled, too old…); required for `reject`.
    #[serde(default)]
    pub reason: String,
}

/// Ships, receives or rejects a tube; a rejected pool's members are asked to come again.
#[utoipa::path(post, path = "/testing/tubes/{barcode}/steps", tag = "testing", params(("barcode" = String, Path)), request_body = StepBody,
    responses((status = 204), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn move_tube(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(barcode): ApiPath<String>,
    ApiJson(body): ApiJson<StepBody>,
) -> Result<StatusCode, ApiError> {
    let step = match body.step.as_str() {
        "ship" => TubeStep::Ship,
        "receive" => TubeStep::Receive,
        "reject" => TubeStep::Reject { reason: body.reason },
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                "step must be one of ship, receive, reject",
                Some("step"),
            ));
        }
    };
    state.services.move_tube(&caller, &barcode, step).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Closes a pool to more swabs, so its tube can go to the lab.
#[utoipa::path(post, path = "/testing/pools/{barcode}/close", tag = "testing", params(("barcode" = String, Path)),
    responses((status = 204), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn close_pool(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(barcode): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.services.close_pool(&caller, &barcode).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct ResultsBody {
    /// At most 10,000 results; larger sets go as a file.
    pub results: Vec<NewResult>,
}

/// What became of each result sent.
#[derive(Serialize, ToSchema)]
pub struct ResultsReport {
    pub recorded: usize,
    pub unchanged: usize,
    pub refused: usize,
    pub results: Vec<ResultItem>,
}

/// Records results for specimens or pools. Each is answered in order — `recorded`,
/// `unchanged` (the same result was recorded before) or `refused` with the reason — and
/// good ones are stored whatever happens to the others.
#[utoipa::path(post, path = "/testing/results", tag = "testing", request_body = ResultsBody,
    responses((status = 200, body = ResultsReport), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn record_results(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<ResultsBody>,
) -> Result<Json<ResultsReport>, ApiError> {
    if body.results.len() > outbreak_services::testing::MAX_RESULTS_PER_REQUEST {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many",
            format!(
                "send at most {} results per request, or upload a file",
                outbreak_services::testing::MAX_RESULTS_PER_REQUEST
            ),
            Some("results"),
        ));
    }
    let results = state.services.record_results(&caller, &body.results).await?;
    let count = |status: &str| results.iter().filter(|r| r.status == status).count();
    Ok(Json(ResultsReport {
        recorded: count("recorded"),
        unchanged: count("unchanged"),
        refused: count("refused"),
        results,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CorrectionBody {
    #[serde(flatten)]
    pub result: NewResult,
    /// Why the earlier result was wrong; kept in the history.
    pub reason: String,
}

/// Corrects a tube's result; the earlier one stays in its history, and a case confirmed by
/// a positive that is corrected away is discarded.
#[utoipa::path(post, path = "/testing/results/corrections", tag = "testing", request_body = CorrectionBody,
    responses((status = 200, body = ResultItem), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn correct_result(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<CorrectionBody>,
) -> Result<Json<ResultItem>, ApiError> {
    let item = state.services.correct_result(&caller, &body.result, &body.reason).await?;
    match (&item.code, &item.message) {
        (Some(code), Some(message)) => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message.clone(), Some("barcode")))
        }
        _ => Ok(Json(item)),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct UploadParams {
    /// The file's name, which helps tell an old `.xls` from a CSV.
    pub filename: Option<String>,
}

/// Records the results in a CSV or XLSX file sent as the request body (up to 100 MB).
/// Columns are found by their headers, in Vietnamese or English: barcode (`mã ống`),
/// result (`kết quả`: dương tính, âm tính, không xác định), optional Ct and result time.
/// Every row that is not recorded is reported with its row number and why; uploading the
/// same file again changes nothing.
#[utoipa::path(post, path = "/testing/results/upload", tag = "testing", params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = UploadReport), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn upload_results(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<UploadParams>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<UploadReport>, ApiError> {
    let body = body.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the file is larger than 100 MB: split it into smaller files",
            Some("file"),
        )
    })?;
    Ok(Json(state.services.upload_results(&caller, &body, params.filename.as_deref()).await?))
}

/// Specimens in the caller's jurisdiction still waiting for a result, oldest first.
#[utoipa::path(get, path = "/testing/specimens/open", tag = "testing",
    responses((status = 200, body = [Specimen]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn open_specimens(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<Specimen>>, ApiError> {
    Ok(Json(state.services.open_specimens(&caller).await?))
}

/// The signed-in citizen's results (and those of the people registered with their phone).
#[utoipa::path(get, path = "/me/results", tag = "testing",
    responses((status = 200, body = [PersonResults]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
async fn my_results(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Vec<PersonResults>>, ApiError> {
    Ok(Json(state.services.my_results(&caller).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct LookupCodeBody {
    pub cccd: String,
    /// `YYYY-MM-DD`, or the year alone when that is what was registered.
    pub date_of_birth: String,
}

#[derive(Serialize, ToSchema)]
pub struct LookupCodeSent {
    /// Always the same sentence: whether the details matched is not revealed.
    pub message: String,
}

/// Asks for a look-up code: when the CCCD and date of birth match a person with a phone, a
/// code goes to that phone by SMS. The answer is the same either way.
#[utoipa::path(post, path = "/lookup/code", tag = "testing", request_body = LookupCodeBody,
    responses((status = 202, body = LookupCodeSent), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn lookup_code(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    ApiJson(body): ApiJson<LookupCodeBody>,
) -> Result<(StatusCode, Json<LookupCodeSent>), ApiError> {
    let client = client_address(&parts, &state);
    state.services.request_lookup_code(&body.cccd, &body.date_of_birth, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(LookupCodeSent {
            message: "if these details match a registered person, a code was sent to their phone".into(),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct LookupBody {
    pub cccd: String,
    pub date_of_birth: String,
    pub code: String,
}

/// A person's test results, with the CCCD, date of birth and the code sent to their phone.
#[utoipa::path(post, path = "/lookup/results", tag = "testing", request_body = LookupBody,
    responses((status = 200, body = PersonResults), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn lookup(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    ApiJson(body): ApiJson<LookupBody>,
) -> Result<Json<PersonResults>, ApiError> {
    let client = client_address(&parts, &state);
    Ok(Json(state.services.lookup_results(&body.cccd, &body.date_of_birth, &body.code, &client).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct CaseParams {
    /// Only cases confirmed at or after this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub since: Option<time::OffsetDateTime>,
}

/// Cases in the caller's jurisdiction, newest first (audited).
#[utoipa::path(get, path = "/cases", tag = "testing", params(CaseParams),
    responses((status = 200, body = [CaseRow]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn cases(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<CaseParams>,
) -> Result<Json<Vec<CaseRow>>, ApiError> {
    Ok(Json(state.services.cases(&caller, params.since).await?))
}

/// One case (audited).
#[utoipa::path(get, path = "/cases/{id}", tag = "testing", params(("id" = Uuid, Path)),
    responses((status = 200, body = CaseRow), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn case(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CaseRow>, ApiError> {
    Ok(Json(state.services.case(&caller, CaseId(id)).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct CaseStatusBody {
    /// `confirmed`, `isolating`, `in_treatment`, `recovered`, `died` or `discarded`.
    pub status: String,
    #[serde(default)]
    pub note: String,
}

/// Moves a case to another status, with a note.
#[utoipa::path(put, path = "/cases/{id}", tag = "testing", params(("id" = Uuid, Path)), request_body = CaseStatusBody,
    responses((status = 200, body = Case), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn set_case_status(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CaseStatusBody>,
) -> Result<Json<Case>, ApiError> {
    Ok(Json(state.services.set_case_status(&caller, CaseId(id), &body.status, &body.note).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct DashboardParams {
    /// A unit code; the caller's own unit when absent.
    pub unit: Option<String>,
    /// Days covered, ending today (1–366, default 30).
    pub days: Option<i64>,
}

/// A unit's testing totals: tests per day by type, positivity, turnaround, pending
/// specimens, and the same for each unit below it.
#[utoipa::path(get, path = "/testing/dashboard", tag = "testing", params(DashboardParams),
    responses((status = 200, body = Dashboard), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn dashboard(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<DashboardParams>,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(state.services.testing_dashboard(&caller, params.unit.as_deref(), params.days).await?))
}

/// The dashboard as a stream of server-sent events: a `dashboard` event with the same JSON
/// as `/testing/dashboard` at once, and again whenever the unit's totals change (at most
/// once a second).
#[utoipa::path(get, path = "/testing/dashboard/stream", tag = "testing", params(DashboardParams),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn dashboard_stream(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(params): Query<DashboardParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let services = state.services.clone();
    let first = services.testing_dashboard(&caller, params.unit.as_deref(), params.days).await?;
    let changes = services.testing_changes();
    let unit_path = first.unit_path.clone();
    // Each turn sends a dashboard: the first at once, each later one after a change to the
    // unit (or to every unit) and a second for a burst of changes to settle.
    let stream = futures_util::stream::unfold(Some((Some(first), changes)), move |state| {
        let (services, caller, unit, days) = (services.clone(), caller.clone(), params.unit.clone(), params.days);
        let unit_path = unit_path.clone();
        async move {
            let (ready, mut changes) = state?;
            let dashboard = match ready {
                Some(dashboard) => dashboard,
                None => {
                    loop {
                        match changes.recv().await {
                            Ok(units) if units.is_empty() || units.contains(&unit_path) => break,
                            Ok(_) => continue,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    while changes.try_recv().is_ok() {}
                    services.testing_dashboard(&caller, unit.as_deref(), days).await.ok()?
                }
            };
            let event = Event::default().event("dashboard").json_data(&dashboard).ok()?;
            Some((Ok(event), Some((None, changes))))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
