//! Vaccination pages: the staff's vaccination home (sites, sessions, organisations' list
//! uploads with their per-row report), a session with its invitations and the allocator,
//! the vaccinator's screen (scan the personal QR with a hand scanner, or with the phone's
//! own camera in camera mode, or type the CCCD → screening → record the dose), coverage
//! with its chart and drill-down, and the doses and invitations on the citizen's page.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_domain::vaccination::{InvitationId, SiteId, VaccinationSessionId};
use outbreak_services::vaccination::{CoverageReport, DoseInput, PersonDoses, Vaccinee};
use outbreak_store::{Organisation, Site, VaccinationSession};
use serde::Deserialize;
use uuid::Uuid;

use super::i18n::Texts;
use super::{PageContext, birth_text, local_time, render, user_message};
use crate::error::PageError;
use crate::extract::{CitizenCaller, CsrfForm, PagePath, StaffCaller};
use crate::{AppState, cookies};

pub(super) const TEXTS: Texts = &[
    ("vaccination", "Tiêm chủng", "Vaccination"),
    ("vx_sites", "Điểm tiêm", "Vaccination sites"),
    ("vx_no_sites", "Chưa có điểm tiêm nào.", "No vaccination sites yet."),
    ("vx_vaccinate", "Tiêm cho người dân", "Vaccinate"),
    ("vx_sessions", "Buổi tiêm", "Sessions"),
    ("vx_no_sessions", "Chưa có buổi tiêm nào.", "No sessions yet."),
    ("vx_capacity", "Số chỗ", "Places"),
    ("vx_product", "Vắc xin", "Vaccine"),
    ("vx_lot", "Số lô", "Lot"),
    ("vx_date", "Ngày", "Date"),
    ("vx_slot", "Khung giờ", "Time slot"),
    ("vx_allocate", "Mời người tiếp theo", "Invite the next in line"),
    ("vx_invitations", "Lời mời", "Invitations"),
    ("vx_invited", "Đã mời", "Invited"),
    ("vx_status_offered", "Đã gửi lời mời", "Offered"),
    ("vx_status_confirmed", "Đã xác nhận", "Confirmed"),
    ("vx_status_declined", "Đã từ chối", "Declined"),
    ("vx_status_expired", "Quá hạn", "Expired"),
    ("vx_status_attended", "Đã tiêm", "Vaccinated"),
    ("vx_organisations", "Tổ chức của tôi", "My organisations"),
    ("vx_upload", "Tải lên danh sách đăng ký (CSV hoặc XLSX)", "Upload a registration list (CSV or XLSX)"),
    (
        "vx_upload_help",
        "Cột: Họ và tên, Ngày sinh, Giới tính, Số CCCD, Số điện thoại, Nhóm ưu tiên, Bệnh nền. Mỗi dòng được báo lại: đã đăng ký, trùng người đã có, đã đăng ký trước, hoặc bị từ chối và lý do.",
        "Columns: full name, date of birth, sex, CCCD, phone, priority group, comorbidities. Every row is reported: registered, matched to a known person, registered before, or refused and why.",
    ),
    ("vx_row", "Dòng", "Row"),
    ("vx_name", "Họ và tên", "Name"),
    ("vx_outcome", "Kết quả", "Outcome"),
    ("vx_registered", "đã đăng ký mới", "registered"),
    ("vx_matched", "trùng người đã có, đã đăng ký", "matched to a known person"),
    ("vx_already", "đã đăng ký trước", "already registered"),
    ("vx_refused", "bị từ chối", "refused"),
    ("vx_scan", "Quét QR cá nhân hoặc nhập số CCCD", "Scan the personal QR or type the CCCD"),
    ("vx_find", "Tìm", "Find"),
    ("vx_doses", "Các mũi đã tiêm", "Doses given"),
    ("vx_no_doses", "Chưa tiêm mũi nào.", "No doses yet."),
    ("vx_dose", "Mũi", "Dose"),
    ("vx_next_dose", "Mũi tiếp theo", "Next dose"),
    ("vx_earliest", "Sớm nhất từ", "Not before"),
    ("vx_screening", "Khám sàng lọc", "Screening"),
    ("vx_yes", "Có", "Yes"),
    ("vx_session", "Buổi tiêm", "Session"),
    ("vx_walk_in", "Không theo buổi (tiêm vãng lai)", "No session (walk-in)"),
    ("vx_record", "Ghi nhận mũi tiêm", "Record the dose"),
    ("vx_recorded", "Đã ghi nhận mũi tiêm", "Dose recorded"),
    ("vx_voided", "đã hủy", "voided"),
    ("vx_coverage", "Độ bao phủ tiêm chủng", "Vaccination coverage"),
    ("vx_at_least_one", "Đã tiêm ít nhất 1 mũi", "At least one dose"),
    ("vx_full_series", "Đã tiêm đủ liều cơ bản", "Full primary series"),
    ("vx_population", "Dân số", "Population"),
    ("vx_by_age", "Theo nhóm tuổi", "By age band"),
    ("vx_by_group", "Theo nhóm ưu tiên", "By priority group"),
    ("vx_by_comorbid", "Có bệnh nền", "With comorbidities"),
    ("vx_units_below", "Các đơn vị trực thuộc", "Units below"),
    ("vx_doses_per_day", "Số mũi tiêm mỗi ngày", "Doses per day"),
    ("vx_my_doses", "Tiêm chủng", "Vaccination"),
    ("vx_confirm", "Xác nhận", "Confirm"),
    ("vx_decline", "Từ chối", "Decline"),
    ("vx_invitation_for", "Lời mời tiêm mũi", "Invitation for dose"),
    ("vx_camera_mode", "Quét bằng camera điện thoại", "Scan with the phone's camera"),
    (
        "vx_camera_mode_help",
        "Bật chế độ này trên điện thoại của người tiêm: khi camera quét mã QR cá nhân của người dân, màn hình tiêm của điểm này mở ra cho người đó.",
        "Turn this on on the vaccinator's phone: when its camera scans a personal QR, this site's vaccination screen opens for that person.",
    ),
    ("vx_start_camera_mode", "Bật chế độ camera", "Start camera mode"),
    ("vx_camera_mode_on", "Chế độ camera đang bật trên điện thoại này.", "Camera mode is on on this phone."),
    ("vx_leave_camera_mode", "Tắt chế độ camera", "Leave camera mode"),
];

/// How long a phone stays in camera mode: a working day.
const CAMERA_MODE_SECS: i64 = 12 * 3600;

fn page_error(lang: super::Lang) -> impl Fn(outbreak_services::ServiceError) -> PageError {
    move |e| PageError::from_service(e, lang)
}

pub struct SessionRow {
    pub id: String,
    pub site: String,
    pub date: String,
    pub product: String,
    pub lot: String,
    pub capacity: i64,
}

impl SessionRow {
    fn new(s: &VaccinationSession) -> SessionRow {
        SessionRow {
            id: s.id.to_string(),
            site: s.site_name.clone(),
            date: s.date.to_string(),
            product: product_name(&s.product),
            lot: s.lot.clone(),
            capacity: s.capacity(),
        }
    }
}

fn product_name(code: &str) -> String {
    outbreak_domain::vaccination::product("product", code).map(|p| p.name.to_owned()).unwrap_or_else(|_| code.into())
}

#[derive(Template)]
#[template(path = "vaccination_home.html")]
struct Home {
    ctx: PageContext,
    sites: Vec<Site>,
    sessions: Vec<SessionRow>,
    organisations: Vec<Organisation>,
}

/// The staff's vaccination home: what the caller may do, by role.
pub async fn home(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
) -> Result<Response, PageError> {
    let organisations = state.services.my_organisations(&caller).await.map_err(page_error(ctx.lang))?;
    // Organisation managers have no sites or sessions to see; the lists stay empty.
    let sites = state.services.sites(&caller).await.unwrap_or_default();
    let sessions = state.services.vaccination_sessions(&caller).await.unwrap_or_default();
    Ok(render(&Home {
        ctx: ctx.with_caller(Some(&caller)),
        sites,
        sessions: sessions.iter().map(SessionRow::new).collect(),
        organisations,
    }))
}

pub struct InvitationRow {
    pub person: String,
    pub slot: String,
    pub dose_number: u8,
    pub status: &'static str,
    pub status_code: &'static str,
}

#[derive(Template)]
#[template(path = "vaccination_session.html")]
struct SessionPage {
    ctx: PageContext,
    session: SessionRow,
    slots: Vec<(String, i64)>,
    invitations: Vec<InvitationRow>,
    message: Option<String>,
}

fn slot_text(session: &VaccinationSession, index: usize) -> String {
    session
        .slots
        .get(index)
        .map(|s| format!("{:02}:{:02}–{:02}:{:02}", s.start.hour(), s.start.minute(), s.end.hour(), s.end.minute()))
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
pub struct MessageParams {
    pub invited: Option<usize>,
}

/// A session with its slots and invitations, and the allocator's button.
pub async fn session(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    Query(params): Query<MessageParams>,
) -> Result<Response, PageError> {
    let (session, invitations) =
        state.services.vaccination_session(&caller, VaccinationSessionId(id)).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let mut rows = Vec::with_capacity(invitations.len());
    for i in &invitations {
        let person = state.services.store.person(i.person).await.ok().flatten();
        let status_code = i.status.as_str();
        rows.push(InvitationRow {
            person: person.map(|p| p.person.full_name).unwrap_or_default(),
            slot: slot_text(&session, i.slot),
            dose_number: i.dose_number,
            status: ctx.t(&format!("vx_status_{status_code}")),
            status_code,
        });
    }
    let message = params.invited.map(|n| format!("{}: {n}", ctx.t("vx_invited")));
    Ok(render(&SessionPage {
        slots: session.slots.iter().enumerate().map(|(i, s)| (slot_text(&session, i), s.capacity)).collect(),
        session: SessionRow::new(&session),
        invitations: rows,
        message,
        ctx,
    }))
}

/// Runs the allocator for the session and shows it again.
pub async fn allocate(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(_): CsrfForm<super::testing::Empty>,
) -> Result<Response, PageError> {
    let report = state.services.allocate(&caller, VaccinationSessionId(id)).await.map_err(page_error(ctx.lang))?;
    Ok(Redirect::to(&format!("/vaccination/sessions/{id}?invited={}", report.invited.len())).into_response())
}

pub struct DoseRow {
    pub id: String,
    pub number: u8,
    pub product: String,
    pub lot: String,
    pub given_at: String,
    pub site: String,
    pub voided: bool,
}

impl DoseRow {
    fn new(d: &outbreak_store::Dose) -> DoseRow {
        DoseRow {
            id: d.id.to_string(),
            number: d.dose_number,
            product: product_name(&d.product),
            lot: d.lot.clone(),
            given_at: local_time(d.given_at),
            site: d.site_name.clone(),
            voided: d.voided,
        }
    }
}

pub struct Question {
    pub code: &'static str,
    pub text: &'static str,
}

#[derive(Template)]
#[template(path = "vaccinate.html")]
struct Vaccinate {
    ctx: PageContext,
    site: String,
    site_id: String,
    scanned: String,
    person: Option<VaccineeView>,
    sessions: Vec<SessionRow>,
    questions: Vec<Question>,
    message: Option<String>,
    error: Option<String>,
    in_camera_mode: bool,
}

pub struct VaccineeView {
    pub id: String,
    pub name: String,
    pub birth: String,
    pub doses: Vec<DoseRow>,
    pub next: u8,
    pub earliest: String,
}

impl VaccineeView {
    fn new(v: &Vaccinee) -> VaccineeView {
        VaccineeView {
            id: v.person.to_string(),
            name: v.full_name.clone(),
            birth: birth_text(&v.date_of_birth),
            doses: v.doses.iter().map(DoseRow::new).collect(),
            next: v.next_dose_number,
            earliest: v.earliest_next.map(local_time).unwrap_or_default(),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ScanParams {
    #[serde(default)]
    pub scanned: String,
    pub recorded: Option<u8>,
}

/// What the vaccinator's screen shows besides the site: what was scanned, the outcome of
/// the last step, and whether this phone is in camera mode there.
struct Screen {
    scanned: String,
    message: Option<String>,
    error: Option<String>,
    in_camera_mode: bool,
}

/// The site whose camera mode this phone is in, if any.
pub(super) fn camera_mode(headers: &HeaderMap) -> Option<SiteId> {
    cookies::get(headers, cookies::VACCINATING).and_then(|id| Uuid::parse_str(id).ok()).map(SiteId)
}

async fn vaccinate_page(
    state: &AppState,
    ctx: PageContext,
    caller: &outbreak_services::Caller,
    site: SiteId,
    screen: Screen,
) -> Result<Response, PageError> {
    let Screen { scanned, message, error, in_camera_mode } = screen;
    let lang = ctx.lang;
    let site_record = state
        .services
        .sites(caller)
        .await
        .map_err(page_error(lang))?
        .into_iter()
        .find(|s| s.id == site)
        .ok_or_else(|| PageError::from_service(outbreak_services::ServiceError::NotFound("site".into()), lang))?;
    let ctx = ctx.with_caller(Some(caller));
    let today = outbreak_domain::local_date(outbreak_domain::now());
    let sessions = state
        .services
        .vaccination_sessions(caller)
        .await
        .map_err(page_error(lang))?
        .into_iter()
        .filter(|s| s.site == site && s.date == today)
        .map(|s| SessionRow::new(&s))
        .collect();
    let (mut person, mut error) = (None, error);
    if !scanned.trim().is_empty() {
        match state.services.vaccinee(caller, site, &scanned).await {
            Ok(v) => person = Some(VaccineeView::new(&v)),
            Err(e) => error = error.or(Some(user_message(e))),
        }
    }
    let questions = state
        .services
        .screening_questions()
        .iter()
        .map(|q| Question { code: q.code, text: if lang == super::Lang::En { q.text_en } else { q.text } })
        .collect();
    Ok(render(&Vaccinate {
        site: site_record.name,
        site_id: site.to_string(),
        scanned,
        person,
        sessions,
        questions,
        message,
        error,
        in_camera_mode,
        ctx,
    }))
}

/// The vaccinator's screen at a site: scan or type, then screen and record.
pub async fn vaccinate(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    headers: HeaderMap,
    PagePath(id): PagePath<Uuid>,
    Query(params): Query<ScanParams>,
) -> Result<Response, PageError> {
    let message = params.recorded.map(|n| format!("{} {n}", ctx.t("vx_recorded")));
    let in_camera_mode = camera_mode(&headers) == Some(SiteId(id));
    let screen = Screen { scanned: params.scanned, message, error: None, in_camera_mode };
    vaccinate_page(&state, ctx, &caller, SiteId(id), screen).await
}

/// Puts this phone in camera mode at a site the caller may vaccinate at.
pub async fn start_camera_mode(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(_): CsrfForm<super::testing::Empty>,
) -> Result<Response, PageError> {
    let site = SiteId(id);
    let sites = state.services.sites(&caller).await.map_err(page_error(ctx.lang))?;
    if !sites.iter().any(|s| s.id == site) {
        return Err(PageError::from_service(outbreak_services::ServiceError::NotFound("site".into()), ctx.lang));
    }
    let mut response = Redirect::to(&format!("/vaccination/sites/{id}")).into_response();
    let cookie = cookies::set(cookies::VACCINATING, &site.to_string(), CAMERA_MODE_SECS, state.secure_cookies);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

pub async fn leave_camera_mode(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<super::testing::Empty>,
) -> Response {
    let back = match camera_mode(&headers) {
        Some(id) => format!("/vaccination/sites/{id}"),
        None => "/vaccination".to_owned(),
    };
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookies::set(cookies::VACCINATING, "", 0, state.secure_cookies));
    response
}

/// A personal QR opened by the camera of a phone in camera mode: the vaccinator's screen
/// at that site, with the person found. Called by the `/q/{token}` page.
pub(super) fn scan_in_camera_mode(site: SiteId, token: &str) -> Response {
    // A genuine token is URL-safe Base64 and dots; anything else is dropped, which leaves
    // a token the screen then refuses as unreadable, and nothing can leak into the query.
    let token: String = token.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
    Redirect::to(&format!("/vaccination/sites/{site}?scanned={token}")).into_response()
}

/// The dose form: the person, the session (or none), the dose number, and one yes/no per
/// screening question (a checkbox present means yes).
/// Every field is text: the screening answers are gathered by `flatten`, which reads
/// urlencoded values only as text.
#[derive(Deserialize)]
pub struct DoseForm {
    pub person: String,
    pub scanned: String,
    #[serde(default)]
    pub session: String,
    pub dose_number: String,
    #[serde(flatten)]
    pub answers: std::collections::HashMap<String, String>,
}

/// Records the dose; on a refusal the screen shows why, with the person still there.
pub async fn record_dose(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    headers: HeaderMap,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(form): CsrfForm<DoseForm>,
) -> Result<Response, PageError> {
    let screening = state
        .services
        .screening_questions()
        .iter()
        .map(|q| (q.code.to_owned(), form.answers.contains_key(&format!("q_{}", q.code))))
        .collect();
    let session = Uuid::parse_str(form.session.trim()).ok().map(VaccinationSessionId);
    let bad = |message: &str| PageError::Show {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message: message.to_owned(),
        lang: ctx.lang,
    };
    let person = Uuid::parse_str(form.person.trim()).map_err(|_| bad("scan the person again"))?;
    let dose_number: u8 = form.dose_number.trim().parse().map_err(|_| bad("the dose number is a whole number"))?;
    let input = DoseInput {
        person: outbreak_domain::PersonId(person),
        site: SiteId(id),
        session,
        product: None,
        lot: None,
        dose_number,
        given_at: None,
        screening,
    };
    match state.services.record_dose(&caller, &input).await {
        Ok(dose) => Ok(Redirect::to(&format!("/vaccination/sites/{id}?recorded={}", dose.dose_number)).into_response()),
        Err(e) => {
            let in_camera_mode = camera_mode(&headers) == Some(SiteId(id));
            let screen = Screen { scanned: form.scanned, message: None, error: Some(user_message(e)), in_camera_mode };
            vaccinate_page(&state, ctx, &caller, SiteId(id), screen).await
        }
    }
}

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub height: i64,
    pub label: String,
    pub title: String,
}

pub struct CoverageLine {
    pub label: String,
    pub at_least_one: i64,
    pub full_series: i64,
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    ctx: PageContext,
    report: CoverageReport,
    ages: Vec<CoverageLine>,
    groups: Vec<CoverageLine>,
    comorbid: i64,
    bars: Vec<Bar>,
    chart_width: i64,
}

#[derive(Deserialize, Default)]
pub struct CoverageParams {
    pub unit: Option<String>,
}

/// Chart height in SVG units; bars scale to the busiest day.
const CHART_HEIGHT: i64 = 120;
const BAR_WIDTH: i64 = 12;

/// Coverage of a unit with its drill-down and doses per day drawn as bars.
pub async fn coverage(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(params): Query<CoverageParams>,
) -> Result<Response, PageError> {
    let report = state.services.coverage(&caller, params.unit.as_deref(), 30).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let lines = |dimension: &str| -> Vec<CoverageLine> {
        report
            .rows
            .iter()
            .filter(|r| r.dimension == dimension)
            .map(|r| CoverageLine {
                label: r.bucket.clone(),
                at_least_one: r.coverage.at_least_one,
                full_series: r.coverage.full_series,
            })
            .collect()
    };
    let (ages, groups) = (lines("age"), lines("group"));
    let comorbid = report
        .rows
        .iter()
        .find(|r| r.dimension == "comorbid" && r.bucket == "yes")
        .map_or(0, |r| r.coverage.at_least_one);
    // One bar per day, all products together.
    let mut per_day: Vec<(time::Date, i64)> = Vec::new();
    let mut day = report.from;
    while day <= report.to {
        let doses = report.days.iter().filter(|d| d.day == day).map(|d| d.doses).sum();
        per_day.push((day, doses));
        day = day.next_day().unwrap_or(time::Date::MAX);
    }
    let busiest = per_day.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let bars = per_day
        .iter()
        .enumerate()
        .map(|(i, (day, n))| {
            let height = n * CHART_HEIGHT / busiest;
            Bar {
                x: i as i64 * (BAR_WIDTH + 2),
                y: CHART_HEIGHT - height,
                height,
                label: format!("{:02}/{:02}", day.day(), u8::from(day.month())),
                title: format!("{day}: {n}"),
            }
        })
        .collect::<Vec<_>>();
    Ok(render(&CoveragePage {
        chart_width: bars.len() as i64 * (BAR_WIDTH + 2),
        ctx,
        report,
        ages,
        groups,
        comorbid,
        bars,
    }))
}

/// A person's doses and open invitations as the citizen's page shows them.
pub struct DosesOf {
    pub name: String,
    pub doses: Vec<DoseRow>,
    pub invitations: Vec<CitizenInvitation>,
}

pub struct CitizenInvitation {
    pub id: String,
    pub dose_number: u8,
    pub status: &'static str,
    pub open: bool,
}

pub(super) fn doses_view(ctx: &PageContext, people: &[PersonDoses]) -> Vec<DosesOf> {
    people
        .iter()
        .map(|p| DosesOf {
            name: p.full_name.clone(),
            doses: p.doses.iter().map(DoseRow::new).collect(),
            invitations: p
                .invitations
                .iter()
                .filter(|i| i.status != outbreak_domain::vaccination::InvitationStatus::Attended)
                .map(|i| CitizenInvitation {
                    id: i.id.to_string(),
                    dose_number: i.dose_number,
                    status: ctx.t(&format!("vx_status_{}", i.status.as_str())),
                    open: i.status == outbreak_domain::vaccination::InvitationStatus::Offered,
                })
                .collect(),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct AnswerForm {
    pub confirm: String,
}

/// The citizen confirms or declines an invitation from their page.
pub async fn answer(
    State(state): State<AppState>,
    ctx: PageContext,
    CitizenCaller(caller): CitizenCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, PageError> {
    state
        .services
        .answer_invitation(&caller, InvitationId(id), form.confirm == "yes")
        .await
        .map_err(page_error(ctx.lang))?;
    Ok(Redirect::to("/me#my-doses").into_response())
}
