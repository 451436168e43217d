//! Testing pages for staff: sampling sessions (take a specimen by typing or hand-scanning an
//! identifier, or by scanning personal QRs with the phone's camera in "sampling mode": one
//! scan and one tap), printable tube labels, the lab's bench (find a tube, receive or reject
//! it, record or correct its result, upload a results file), and the list of cases.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_domain::testing::{Conclusion, NewResult, NewSession, SessionId, SpecimenStatus, TestType};
use outbreak_domain::{Permission, local_date, now};
use outbreak_services::checkins::VisitorId;
use outbreak_services::testing::{SessionView, TubeView};
use outbreak_services::{Caller, ServiceError};
use outbreak_store::{CaseRow, Pool, SamplingSession, Specimen, TubeStep};
use serde::Deserialize;
use uuid::Uuid;

use super::checkin::problem;
use super::i18n::Texts;
use super::{Lang, PageContext, birth_text, local_time, phone_text, render, unit_labels};
use crate::AppState;
use crate::cookies;
use crate::error::PageError;
use crate::extract::{CsrfForm, PagePath, StaffCaller};

/// How long sampling mode stays on without being left: one working day.
const SAMPLING_MODE_SECS: i64 = 12 * 3600;

pub(super) const TEXTS: Texts = &[
    ("testing", "Xét nghiệm", "Testing"),
    ("sampling_sessions", "Buổi lấy mẫu", "Sampling sessions"),
    ("open_session", "Mở buổi lấy mẫu", "Open a sampling session"),
    ("site", "Địa điểm lấy mẫu", "Sampling site"),
    ("session_date", "Ngày", "Date"),
    ("team", "Tổ lấy mẫu", "Team"),
    ("test_type", "Loại xét nghiệm", "Test type"),
    ("test_rt_pcr", "RT-PCR", "RT-PCR"),
    ("test_rapid_antigen", "Test nhanh kháng nguyên", "Rapid antigen"),
    ("pool_size", "Số mẫu gộp mỗi ống (để trống: mẫu đơn)", "Swabs per pooled tube (empty: individual)"),
    ("pooled", "Gộp", "Pooled"),
    ("individual", "Mẫu đơn", "Individual"),
    ("no_sessions", "Chưa có buổi lấy mẫu nào.", "No sampling sessions yet."),
    ("session_closed", "Buổi lấy mẫu đã đóng.", "This session is closed."),
    ("close_session", "Đóng buổi lấy mẫu", "Close the session"),
    ("take_specimen", "Lấy mẫu", "Take specimen"),
    (
        "person_identifier",
        "Quét QR cá nhân, hoặc nhập CCCD / số BHYT",
        "Scan the personal QR, or type the CCCD / insurance number",
    ),
    (
        "person_identifier_help",
        "Người chưa đăng ký: đăng ký trước, rồi quét thẻ QR của họ.",
        "Not registered yet: register them first, then scan their QR card.",
    ),
    ("register_walk_in", "Đăng ký người mới", "Register a walk-in"),
    ("specimen_taken", "Đã lấy mẫu", "Specimen taken"),
    ("print_label", "In nhãn ống", "Print tube label"),
    ("into_pool", "Gộp vào ống", "Into pool"),
    ("retest_of_pool", "Xét nghiệm lại riêng sau mẫu gộp", "Individual retest after a pooled sample"),
    ("specimens", "Mẫu đã lấy", "Specimens taken"),
    ("pools", "Ống gộp", "Pools"),
    ("close_pool", "Đóng ống gộp", "Close the pool"),
    ("pool_open", "đang mở", "open"),
    ("pool_closed", "đã đóng", "closed"),
    ("members", "mẫu", "swabs"),
    ("sampling_mode", "Chế độ lấy mẫu bằng camera", "Camera sampling mode"),
    (
        "sampling_mode_help",
        "Bật chế độ này, rồi dùng camera điện thoại quét QR cá nhân: mỗi người một lần quét và một lần chạm.",
        "Turn this on, then scan personal QRs with the phone's camera: one scan and one tap per person.",
    ),
    ("start_sampling_mode", "Bật chế độ lấy mẫu", "Start sampling mode"),
    ("sampling_mode_on", "Chế độ lấy mẫu đang bật trên điện thoại này.", "Sampling mode is on on this phone."),
    ("leave_sampling_mode", "Tắt chế độ lấy mẫu", "Leave sampling mode"),
    ("back_to_session", "Về buổi lấy mẫu", "Back to the session"),
    ("scan_next_person", "Quét QR của người tiếp theo.", "Scan the next person's QR."),
    ("status", "Trạng thái", "Status"),
    ("result", "Kết quả", "Result"),
    ("status_collected", "đã lấy mẫu", "collected"),
    ("status_in_transit", "đang chuyển", "in transit"),
    ("status_received", "phòng xét nghiệm đã nhận", "received by the lab"),
    ("status_resulted", "đã có kết quả", "resulted"),
    ("status_rejected", "bị từ chối", "rejected"),
    ("conclusion_positive", "DƯƠNG TÍNH", "POSITIVE"),
    ("conclusion_negative", "Âm tính", "Negative"),
    ("conclusion_invalid", "Không xác định", "Invalid"),
    ("conclusion_retest_individually", "Cần xét nghiệm lại riêng", "Individual retest needed"),
    ("conclusion_pending", "Chờ kết quả", "Pending"),
    ("lab", "Phòng xét nghiệm", "Lab"),
    ("find_tube", "Tìm ống theo mã vạch", "Find a tube by its label"),
    ("barcode", "Mã ống", "Tube label"),
    ("open", "Mở", "Open"),
    ("upload_results", "Tải lên tệp kết quả (CSV hoặc XLSX)", "Upload a results file (CSV or XLSX)"),
    (
        "upload_help",
        "Cột: mã ống, kết quả (dương tính / âm tính / không xác định), Ct, thời gian trả kết quả. Tải lại cùng tệp không tạo bản trùng.",
        "Columns: tube label, result (positive / negative / invalid), Ct, result time. Uploading the same file again creates no duplicates.",
    ),
    ("upload", "Tải lên", "Upload"),
    ("open_specimens", "Mẫu đang chờ kết quả", "Specimens waiting for a result"),
    ("no_open_specimens", "Không có mẫu nào đang chờ.", "No specimens are waiting."),
    ("collected_at", "Thời điểm lấy mẫu", "Collected"),
    ("tube", "Ống", "Tube"),
    ("pool", "Ống gộp", "Pool"),
    ("specimen", "Mẫu", "Specimen"),
    ("receive", "Nhận mẫu", "Receive"),
    ("ship", "Gửi đi", "Ship"),
    ("reject", "Từ chối mẫu", "Reject"),
    ("reject_reason", "Lý do từ chối", "Reason for rejecting"),
    ("record_result", "Ghi kết quả", "Record the result"),
    ("correct_result", "Đính chính kết quả", "Correct the result"),
    ("correction_reason", "Lý do đính chính", "Reason for the correction"),
    ("result_positive", "Dương tính", "Positive"),
    ("result_negative", "Âm tính", "Negative"),
    ("result_invalid", "Không xác định", "Invalid"),
    ("ct_value", "Giá trị Ct (RT-PCR)", "Ct value (RT-PCR)"),
    ("history", "Lịch sử kết quả", "Result history"),
    ("recorded_by", "Người ghi", "Recorded by"),
    ("result_recorded", "Đã ghi kết quả.", "The result was recorded."),
    ("result_unchanged", "Kết quả này đã được ghi trước đó.", "This result was already recorded."),
    ("cases_confirmed", "Ca bệnh (F0) được xác nhận", "Cases (F0) confirmed"),
    ("cases", "Ca bệnh (F0)", "Cases (F0)"),
    ("no_cases", "Chưa có ca bệnh nào trong phạm vi của bạn.", "No cases in your jurisdiction."),
    ("confirmed_at", "Xác nhận lúc", "Confirmed"),
    ("case_source", "Nguồn", "Source"),
    ("case_source_test", "Kết quả xét nghiệm", "Test result"),
    ("case_source_staff", "Cán bộ nhập", "Entered by staff"),
    ("case_confirmed", "đã xác nhận", "confirmed"),
    ("case_isolating", "đang cách ly", "isolating"),
    ("case_in_treatment", "đang điều trị", "in treatment"),
    ("case_recovered", "đã khỏi", "recovered"),
    ("case_died", "tử vong", "died"),
    ("case_discarded", "đã loại (kết quả được đính chính)", "discarded (result corrected)"),
    ("person", "Người", "Person"),
    ("label_for", "Nhãn ống", "Tube label"),
    ("rows", "dòng", "rows"),
    ("recorded", "đã ghi", "recorded"),
    ("unchanged", "không đổi", "unchanged"),
    ("refused", "bị từ chối", "refused"),
    ("row", "Dòng", "Row"),
    ("problem", "Vấn đề", "Problem"),
];

fn page_error(lang: Lang) -> impl Fn(ServiceError) -> PageError {
    move |e| PageError::from_service(e, lang)
}

/// A specimen as the session and lab pages list it.
pub struct SpecimenRow {
    pub barcode: String,
    pub collected_at: String,
    pub pool: String,
    pub status: &'static str,
    pub conclusion: &'static str,
    pub conclusion_code: &'static str,
    pub retest: bool,
}

impl SpecimenRow {
    fn new(ctx: &PageContext, s: &Specimen) -> SpecimenRow {
        SpecimenRow {
            barcode: s.barcode.to_string(),
            collected_at: local_time(s.collected_at),
            pool: s.pool.as_ref().map(|p| p.barcode.to_string()).unwrap_or_default(),
            status: status_label(ctx, s.status),
            conclusion: conclusion_label(ctx, s.conclusion),
            conclusion_code: s.conclusion.map(Conclusion::as_str).unwrap_or("pending"),
            retest: s.retest_of.is_some(),
        }
    }
}

fn status_label(ctx: &PageContext, status: SpecimenStatus) -> &'static str {
    ctx.t(&format!("status_{}", status.as_str()))
}

fn conclusion_label(ctx: &PageContext, conclusion: Option<Conclusion>) -> &'static str {
    ctx.t(&format!("conclusion_{}", conclusion.map(Conclusion::as_str).unwrap_or("pending")))
}

fn test_label(ctx: &PageContext, test_type: TestType) -> &'static str {
    ctx.t(&format!("test_{}", test_type.as_str()))
}

/// The session this phone is sampling for, if sampling mode is on.
pub(super) fn sampling_mode(headers: &HeaderMap) -> Option<SessionId> {
    cookies::get(headers, cookies::SAMPLING).and_then(|id| Uuid::parse_str(id).ok()).map(SessionId)
}

#[derive(Template)]
#[template(path = "testing_home.html")]
struct Home {
    ctx: PageContext,
    sessions: Vec<(SamplingSession, &'static str)>,
    may_sample: bool,
    may_record: bool,
    may_see_cases: bool,
    today: String,
    form: SessionForm,
    error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    test_type: String,
    #[serde(default)]
    pool_size: String,
}

async fn home_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    form: SessionForm,
    error: Option<String>,
) -> Response {
    let sessions = match state.services.sampling_sessions(caller).await {
        Ok(sessions) => sessions,
        Err(e) => return PageError::from_service(e, ctx.lang).into_response(),
    };
    let ctx = ctx.with_caller(Some(caller));
    let sessions = sessions
        .into_iter()
        .map(|s| {
            let label = test_label(&ctx, s.test_type);
            (s, label)
        })
        .collect();
    let principal = &caller.principal;
    render(&Home {
        sessions,
        may_sample: !principal.jurisdiction(Permission::CollectSamples).is_empty(),
        may_record: !principal.jurisdiction(Permission::RecordResults).is_empty(),
        may_see_cases: !principal.jurisdiction(Permission::ManageCases).is_empty(),
        today: local_date(now()).to_string(),
        form,
        error,
        ctx,
    })
}

pub async fn home(State(state): State<AppState>, ctx: PageContext, StaffCaller(caller): StaffCaller) -> Response {
    home_page(&state, ctx, &caller, SessionForm::default(), None).await
}

pub async fn open_session(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    CsrfForm(form): CsrfForm<SessionForm>,
) -> Response {
    let pool_size = match form.pool_size.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(size) => Some(size),
            Err(_) => Some(-1),
        },
    };
    let input = NewSession {
        site: form.site.clone(),
        unit: form.unit.clone(),
        date: form.date.clone(),
        team: form.team.clone(),
        test_type: form.test_type.clone(),
        pool_size,
    };
    match state.services.open_session(&caller, &input).await {
        Ok(session) => Redirect::to(&format!("/testing/sessions/{}", session.id)).into_response(),
        Err(e) => {
            let problem = problem(&ctx, e);
            (problem.status, home_page(&state, ctx, &caller, form, Some(problem.message)).await).into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "sampling_session.html")]
struct SessionPage {
    ctx: PageContext,
    session: SamplingSession,
    test_type: &'static str,
    specimens: Vec<SpecimenRow>,
    pools: Vec<Pool>,
    taken: Option<Taken>,
    typed: String,
    error: Option<String>,
    in_sampling_mode: bool,
}

/// The specimen just taken, with its label to print.
pub struct Taken {
    pub barcode: String,
    pub label_svg: String,
    pub pool: String,
    pub retest: bool,
}

impl Taken {
    fn new(specimen: &Specimen) -> Taken {
        Taken {
            barcode: specimen.barcode.to_string(),
            label_svg: outbreak_formats::barcode::code128_svg(specimen.barcode.as_str(), 2.0, 60.0).unwrap_or_default(),
            pool: specimen.pool.as_ref().map(|p| p.barcode.to_string()).unwrap_or_default(),
            retest: specimen.retest_of.is_some(),
        }
    }
}

#[derive(Deserialize)]
pub struct TakenParams {
    taken: Option<String>,
}

/// What the last submission on a session page left to show.
#[derive(Default)]
struct LastEntry {
    taken: Option<Taken>,
    typed: String,
    error: Option<String>,
}

async fn session_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    headers: &HeaderMap,
    id: SessionId,
    last: LastEntry,
) -> Result<Response, PageError> {
    let view: SessionView = state.services.sampling_session(caller, id).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(caller));
    Ok(render(&SessionPage {
        test_type: test_label(&ctx, view.session.test_type),
        specimens: view.specimens.iter().map(|s| SpecimenRow::new(&ctx, s)).collect(),
        pools: view.pools,
        session: view.session,
        taken: last.taken,
        typed: last.typed,
        error: last.error,
        in_sampling_mode: sampling_mode(headers) == Some(id),
        ctx,
    }))
}

pub async fn session(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    headers: HeaderMap,
    PagePath(id): PagePath<Uuid>,
    Query(params): Query<TakenParams>,
) -> Result<Response, PageError> {
    let taken = match params.taken {
        Some(barcode) => match state.services.tube(&caller, &barcode).await {
            Ok(TubeView { specimen: Some(specimen), .. }) => Some(Taken::new(&specimen)),
            _ => None,
        },
        None => None,
    };
    session_page(&state, ctx, &caller, &headers, SessionId(id), LastEntry { taken, ..LastEntry::default() }).await
}

#[derive(Deserialize)]
pub struct IdentifierForm {
    #[serde(default)]
    person: String,
}

/// Takes a specimen for a typed or hand-scanned identifier; after it, the page shows the
/// label to print and the box is ready for the next person.
pub async fn take_specimen(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    headers: HeaderMap,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(form): CsrfForm<IdentifierForm>,
) -> Result<Response, PageError> {
    let session = SessionId(id);
    match state.services.take_specimen(&caller, session, &VisitorId::from_typed(&form.person)).await {
        Ok(specimen) => Ok(Redirect::to(&format!("/testing/sessions/{id}?taken={}", specimen.barcode)).into_response()),
        Err(e) => {
            let problem = problem(&ctx, e);
            let last = LastEntry { taken: None, typed: form.person, error: Some(problem.message) };
            let page = session_page(&state, ctx, &caller, &headers, session, last);
            Ok((problem.status, page.await?).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn start_sampling_mode(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let view = state.services.sampling_session(&caller, SessionId(id)).await.map_err(page_error(ctx.lang))?;
    let mut response = Redirect::to(&format!("/testing/sessions/{}", view.session.id)).into_response();
    let cookie =
        cookies::set(cookies::SAMPLING, &view.session.id.to_string(), SAMPLING_MODE_SECS, state.secure_cookies);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

pub async fn leave_sampling_mode(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let back = match sampling_mode(&headers) {
        Some(id) => format!("/testing/sessions/{id}"),
        None => "/testing".to_owned(),
    };
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookies::set(cookies::SAMPLING, "", 0, state.secure_cookies));
    response
}

pub async fn close_session(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    state.services.close_session(&caller, SessionId(id)).await.map_err(page_error(ctx.lang))?;
    Ok(Redirect::to(&format!("/testing/sessions/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct BackForm {
    #[serde(default)]
    session: String,
}

pub async fn close_pool(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(barcode): PagePath<String>,
    CsrfForm(form): CsrfForm<BackForm>,
) -> Result<Response, PageError> {
    state.services.close_pool(&caller, &barcode).await.map_err(page_error(ctx.lang))?;
    let back = match Uuid::parse_str(&form.session) {
        Ok(id) => format!("/testing/sessions/{id}"),
        Err(_) => "/testing".to_owned(),
    };
    Ok(Redirect::to(&back).into_response())
}

#[derive(Template)]
#[template(path = "sampling_scanned.html")]
struct Scanned {
    ctx: PageContext,
    token: String,
    session: SessionId,
    person_name: String,
    birth: String,
    taken: Option<Taken>,
    error: Option<String>,
}

/// A personal QR opened by the camera of a phone in sampling mode: the person's name and
/// one big button. Called by the `/q/{token}` page.
pub async fn scan_in_sampling_mode(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    session: SessionId,
    token: &str,
) -> Response {
    let ctx = ctx.with_caller(Some(caller));
    let mut page = Scanned {
        token: token.to_owned(),
        session,
        person_name: String::new(),
        birth: String::new(),
        taken: None,
        error: None,
        ctx,
    };
    match state.services.resolve_personal_qr(caller, token).await {
        Ok(record) => {
            page.person_name = record.person.full_name;
            page.birth = birth_text(&record.person.date_of_birth.to_string());
            render(&page)
        }
        Err(e) => {
            let problem = problem(&page.ctx, e);
            page.error = Some(problem.message);
            (problem.status, render(&page)).into_response()
        }
    }
}

/// The tap after the scan: takes the specimen in the sampling session of this phone.
pub async fn scan_take(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    headers: HeaderMap,
    PagePath(token): PagePath<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let Some(session) = sampling_mode(&headers) else {
        return Err(PageError::Show {
            status: axum::http::StatusCode::CONFLICT,
            message: "sampling mode is off on this phone; open the session and start it again".into(),
            lang: ctx.lang,
        });
    };
    let ctx = ctx.with_caller(Some(&caller));
    let mut page = Scanned {
        token: token.clone(),
        session,
        person_name: String::new(),
        birth: String::new(),
        taken: None,
        error: None,
        ctx,
    };
    let person = VisitorId { qr: Some(token), ..VisitorId::default() };
    match state.services.take_specimen(&caller, session, &person).await {
        Ok(specimen) => {
            page.taken = Some(Taken::new(&specimen));
            Ok(render(&page))
        }
        Err(e) => {
            let problem = problem(&page.ctx, e);
            page.error = Some(problem.message);
            Ok((problem.status, render(&page)).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "tube_label.html")]
struct Label {
    ctx: PageContext,
    barcode: String,
    svg: String,
    test_type: &'static str,
    collected_at: String,
    pool: String,
}

/// A printable tube label: the Code 128 barcode and the label in letters.
pub async fn label(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(barcode): PagePath<String>,
) -> Result<Response, PageError> {
    let tube = state.services.tube(&caller, &barcode).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let (label, test_type, collected_at, pool) = match (&tube.specimen, &tube.pool) {
        (Some(s), _) => (
            s.barcode.to_string(),
            test_label(&ctx, s.test_type),
            local_time(s.collected_at),
            s.pool.as_ref().map(|p| p.barcode.to_string()).unwrap_or_default(),
        ),
        (None, Some(p)) => (p.barcode.to_string(), "", String::new(), String::new()),
        (None, None) => return Err(PageError::from_service(ServiceError::NotFound("tube".into()), ctx.lang)),
    };
    let svg = outbreak_formats::barcode::code128_svg(&label, 2.0, 60.0).unwrap_or_default();
    Ok(render(&Label { ctx, barcode: label, svg, test_type, collected_at, pool }))
}

#[derive(Template)]
#[template(path = "lab.html")]
struct Lab {
    ctx: PageContext,
    open: Vec<SpecimenRow>,
    may_record: bool,
    barcode: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct FindParams {
    barcode: Option<String>,
}

/// The lab's bench: find a tube, upload a results file, and what is still waiting.
pub async fn lab(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(params): Query<FindParams>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let mut error = None;
    let typed = params.barcode.unwrap_or_default();
    if !typed.trim().is_empty() {
        match state.services.tube(&caller, &typed).await {
            Ok(view) => {
                let label = view.specimen.map(|s| s.barcode).or(view.pool.map(|p| p.barcode));
                if let Some(label) = label {
                    return Ok(Redirect::to(&format!("/lab/tubes/{label}")).into_response());
                }
            }
            Err(e) => error = Some(problem(&ctx, e).message),
        }
    }
    let open = state.services.open_specimens(&caller).await.map_err(page_error(lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    Ok(render(&Lab {
        open: open.iter().map(|s| SpecimenRow::new(&ctx, s)).collect(),
        may_record: !caller.principal.jurisdiction(Permission::RecordResults).is_empty(),
        barcode: typed,
        error,
        ctx,
    }))
}

/// One entry of a tube's history as the page shows it.
pub struct HistoryRow {
    pub outcome: &'static str,
    pub ct: String,
    pub resulted_at: String,
    pub recorded_at: String,
    pub recorded_by: String,
    pub correction: String,
}

#[derive(Template)]
#[template(path = "lab_tube.html")]
struct TubePage {
    ctx: PageContext,
    barcode: String,
    is_pool: bool,
    test_type: &'static str,
    status: &'static str,
    status_code: &'static str,
    conclusion: &'static str,
    conclusion_code: &'static str,
    ct: String,
    pooled_into: String,
    members: Vec<SpecimenRow>,
    history: Vec<HistoryRow>,
    has_result: bool,
    may_record: bool,
    message: Option<String>,
    error: Option<String>,
}

async fn tube_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    barcode: &str,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let view = state.services.tube(caller, barcode).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(caller));
    let history = view
        .history
        .iter()
        .map(|h| HistoryRow {
            outcome: ctx.t(&format!("result_{}", h.outcome.as_str())),
            ct: h.ct.map(|ct| format!("{ct:.1}")).unwrap_or_default(),
            resulted_at: local_time(h.resulted_at),
            recorded_at: local_time(h.recorded_at),
            recorded_by: h.recorded_by.clone(),
            correction: h.correction.clone().unwrap_or_default(),
        })
        .collect();
    let members = view.members.iter().map(|s| SpecimenRow::new(&ctx, s)).collect();
    let may_record = !caller.principal.jurisdiction(Permission::RecordResults).is_empty();
    let page = match (&view.specimen, &view.pool) {
        (Some(s), _) => TubePage {
            barcode: s.barcode.to_string(),
            is_pool: false,
            test_type: test_label(&ctx, s.test_type),
            status: status_label(&ctx, s.status),
            status_code: s.status.as_str(),
            conclusion: conclusion_label(&ctx, s.conclusion),
            conclusion_code: s.conclusion.map(Conclusion::as_str).unwrap_or("pending"),
            ct: s.ct.map(|ct| format!("{ct:.1}")).unwrap_or_default(),
            pooled_into: s.pool.as_ref().map(|p| p.barcode.to_string()).unwrap_or_default(),
            has_result: s.conclusion.is_some() && s.pool.is_none(),
            members,
            history,
            may_record,
            message,
            error,
            ctx,
        },
        (None, Some(p)) => TubePage {
            barcode: p.barcode.to_string(),
            is_pool: true,
            test_type: view.members.first().map(|m| test_label(&ctx, m.test_type)).unwrap_or(""),
            status: status_label(&ctx, p.status),
            status_code: p.status.as_str(),
            conclusion: p
                .outcome
                .map(|o| ctx.t(&format!("result_{}", o.as_str())))
                .unwrap_or(conclusion_label(&ctx, None)),
            conclusion_code: p.outcome.map(|o| o.as_str()).unwrap_or("pending"),
            ct: p.ct.map(|ct| format!("{ct:.1}")).unwrap_or_default(),
            pooled_into: String::new(),
            has_result: p.outcome.is_some(),
            members,
            history,
            may_record,
            message,
            error,
            ctx,
        },
        (None, None) => return Err(PageError::from_service(ServiceError::NotFound("tube".into()), ctx.lang)),
    };
    Ok(render(&page))
}

pub async fn tube(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(barcode): PagePath<String>,
) -> Result<Response, PageError> {
    tube_page(&state, ctx, &caller, &barcode, None, None).await
}

#[derive(Deserialize)]
pub struct StepForm {
    step: String,
    #[serde(default)]
    reason: String,
}

pub async fn tube_step(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(barcode): PagePath<String>,
    CsrfForm(form): CsrfForm<StepForm>,
) -> Result<Response, PageError> {
    let step = match form.step.as_str() {
        "ship" => TubeStep::Ship,
        "receive" => TubeStep::Receive,
        _ => TubeStep::Reject { reason: form.reason },
    };
    match state.services.move_tube(&caller, &barcode, step).await {
        Ok(()) => Ok(Redirect::to(&format!("/lab/tubes/{barcode}")).into_response()),
        Err(e) => {
            let problem = problem(&ctx, e);
            Ok((problem.status, tube_page(&state, ctx, &caller, &barcode, None, Some(problem.message)).await?)
                .into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct ResultForm {
    #[serde(default)]
    result: String,
    #[serde(default)]
    ct: String,
    /// Present when this corrects a recorded result.
    #[serde(default)]
    reason: Option<String>,
}

/// Records (or, with a reason, corrects) a tube's result from the tube's page.
pub async fn tube_result(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(barcode): PagePath<String>,
    CsrfForm(form): CsrfForm<ResultForm>,
) -> Result<Response, PageError> {
    let ct = match form.ct.trim().replace(',', ".") {
        text if text.is_empty() => Ok(None),
        text => text.parse::<f64>().map(Some).map_err(|_| format!("{}: {:?}", ctx.t("ct_value"), form.ct)),
    };
    let ct = match ct {
        Ok(ct) => ct,
        Err(message) => return tube_page(&state, ctx, &caller, &barcode, None, Some(message)).await,
    };
    let input = NewResult { barcode: barcode.clone(), result: form.result.clone(), ct, resulted_at: None };
    let outcome = match &form.reason {
        Some(reason) => state.services.correct_result(&caller, &input, reason).await,
        None => state.services.record_results(&caller, std::slice::from_ref(&input)).await.and_then(|mut items| {
            items.pop().ok_or_else(|| ServiceError::Internal("no outcome for the result".into()))
        }),
    };
    let (message, error) = match outcome {
        Ok(item) if item.status == "recorded" => (Some(ctx.t("result_recorded").to_owned()), None),
        Ok(item) if item.status == "unchanged" => (Some(ctx.t("result_unchanged").to_owned()), None),
        Ok(item) => (None, item.message),
        Err(e) => (None, Some(problem(&ctx, e).message)),
    };
    tube_page(&state, ctx, &caller, &barcode, message, error).await
}

/// A case as the list shows it.
pub struct CaseView {
    pub id: String,
    pub confirmed_at: String,
    pub name: String,
    pub phone: String,
    pub unit: String,
    pub source: &'static str,
    pub status: &'static str,
    pub status_code: &'static str,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct Cases {
    ctx: PageContext,
    cases: Vec<CaseView>,
}

/// Cases of the caller's jurisdiction, newest first (audited).
pub async fn cases(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
) -> Result<Response, PageError> {
    let rows: Vec<CaseRow> = state.services.cases(&caller, None).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let units = unit_labels(&state, rows.iter().map(|row| row.case.unit.as_str()).collect()).await;
    let cases = rows
        .into_iter()
        .map(|row| CaseView {
            id: row.case.id.to_string(),
            confirmed_at: local_time(row.case.confirmed_at),
            name: row.full_name,
            phone: row.phone.as_deref().map(phone_text).unwrap_or_default(),
            unit: units.get(row.case.unit.as_str()).cloned().unwrap_or_else(|| row.case.unit.to_string()),
            source: ctx.t(&format!("case_source_{}", row.case.source)),
            status: ctx.t(&format!("case_{}", row.case.status.as_str())),
            status_code: row.case.status.as_str(),
        })
        .collect();
    Ok(render(&Cases { ctx, cases }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use outbreak_domain::testing::CaseStatus;

    #[test]
    fn every_word_has_a_text() {
        let has = |key: String| TEXTS.iter().any(|(k, _, _)| *k == key);
        for s in SpecimenStatus::ALL {
            assert!(has(format!("status_{}", s.as_str())), "{s:?}");
        }
        for c in Conclusion::ALL {
            assert!(has(format!("conclusion_{}", c.as_str())), "{c:?}");
        }
        for c in CaseStatus::ALL {
            assert!(has(format!("case_{}", c.as_str())), "{c:?}");
        }
        for t in TestType::ALL {
            assert!(has(format!("test_{}", t.as_str())), "{t:?}");
        }
    }
}
