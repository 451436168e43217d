//! Venue pages for owners and commune staff: their venues, registering one, a venue's day
//! (today's count and flagged arrivals, never visitors' names), deactivation, the printable
//! A4 poster, checking visitors in by ID or by scanning their personal QR in "check-in mode",
//! and the audited visitor log. Every decision about access is the services'.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_domain::venue::{NewVenue, VenueKind};
use outbreak_domain::{Permission, Principal};
use outbreak_services::checkins::VisitorId;
use outbreak_services::{Caller, ServiceError};
use outbreak_store::Venue;
use serde::Deserialize;

use super::checkin::{kind_label, problem, resolve_unit, symptom_labels};
use super::{Lang, PageContext, local_time, render};
use crate::AppState;
use crate::cookies;
use crate::error::PageError;
use crate::extract::{CsrfForm, MaybeCaller, PagePath, StaffCaller};

/// How long check-in mode stays on without being left: one working day.
const CHECKIN_MODE_SECS: i64 = 12 * 3600;

/// A venue as its pages show it.
pub struct VenueView {
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub plate: String,
    pub address: String,
    pub unit: String,
    pub contact_phone: String,
    pub active: bool,
}

impl VenueView {
    pub fn new(ctx: &PageContext, venue: &Venue) -> VenueView {
        VenueView {
            code: venue.code.clone(),
            name: venue.name.clone(),
            kind: kind_label(ctx, venue.kind),
            plate: venue.plate.clone().unwrap_or_default(),
            address: venue.address.clone(),
            unit: venue.unit.to_string(),
            contact_phone: venue.contact_phone.national(),
            active: venue.active,
        }
    }
}

#[derive(Template)]
#[template(path = "venue_list.html")]
struct List {
    ctx: PageContext,
    venues: Vec<VenueView>,
}

/// The registration form's fields as typed, to show again after an error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VenueForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    plate: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    contact_phone: String,
}

#[derive(Template)]
#[template(path = "venue_form.html")]
struct NewVenuePage {
    ctx: PageContext,
    form: VenueForm,
    kinds: Vec<(&'static str, &'static str)>,
    unit_choices: Vec<(String, String)>,
    error: Option<String>,
    error_field: String,
}

/// One flagged arrival on the venue's page: when, and what was declared — no identity.
pub struct FlaggedRow {
    pub at: String,
    pub symptoms: String,
    pub f0_contact: bool,
}

#[derive(Template)]
#[template(path = "venue_page.html")]
struct VenuePage {
    ctx: PageContext,
    venue: VenueView,
    /// Today's figures, for those who manage the venue.
    today: Option<(u64, Vec<FlaggedRow>)>,
    can_manage: bool,
    can_read_log: bool,
    today_date: String,
    in_checkin_mode: bool,
    checked: Option<bool>,
    visitor_id: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "venue_poster.html")]
struct Poster {
    ctx: PageContext,
    vi: PageContext,
    en: PageContext,
    venue: Venue,
    kind_vi: &'static str,
    kind_en: &'static str,
    url: String,
    qr_svg: String,
}

pub struct VisitorRow {
    pub at: String,
    pub until: String,
    pub name: String,
    pub phone: String,
    pub source: &'static str,
}

#[derive(Template)]
#[template(path = "venue_visitors.html")]
struct Visitors {
    ctx: PageContext,
    venue: VenueView,
    date: String,
    rows: Vec<VisitorRow>,
}

#[derive(Template)]
#[template(path = "checkin_scanned.html")]
struct Scanned {
    ctx: PageContext,
    code: String,
    venue_name: String,
    token: String,
    /// Set when the visit was recorded; `false` for a repeat within the window.
    new_visit: Option<bool>,
    /// Asks for a tap before recording, when the link came from another site.
    confirm: bool,
    error: Option<String>,
}

fn page_error(lang: Lang) -> impl Fn(ServiceError) -> PageError {
    move |e| PageError::from_service(e, lang)
}

fn signed_in(caller: Option<Caller>) -> Result<Caller, PageError> {
    caller.ok_or(PageError::SignIn { staff: false })
}

/// The venue code chosen for check-in mode on this phone, if any.
fn checkin_mode(headers: &HeaderMap) -> Option<String> {
    cookies::get(headers, cookies::VENUE).filter(|c| !c.is_empty()).map(str::to_owned)
}

/// Today's date in Vietnam.
fn local_today() -> time::Date {
    outbreak_domain::now().to_offset(time::macros::offset!(+7)).date()
}

pub async fn list(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, PageError> {
    let caller = signed_in(caller)?;
    let venues = state.services.my_venues(&caller).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let venues = venues.iter().map(|v| VenueView::new(&ctx, v)).collect();
    Ok(render(&List { ctx, venues }))
}

fn kinds(ctx: &PageContext) -> Vec<(&'static str, &'static str)> {
    VenueKind::ALL.iter().map(|k| (k.as_str(), kind_label(ctx, *k))).collect()
}

/// Units staff are likely to register venues in.
async fn unit_choices(state: &AppState, caller: &Caller) -> Vec<(String, String)> {
    super::staff::unit_choices_for(state, caller, Permission::ManageVenues).await
}

async fn form_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    form: VenueForm,
    error: Option<(String, String)>,
) -> Response {
    let ctx = ctx.with_caller(Some(caller));
    let (error, error_field) = match error {
        Some((message, field)) => (Some(message), field),
        None => (None, String::new()),
    };
    let page = NewVenuePage {
        kinds: kinds(&ctx),
        unit_choices: unit_choices(state, caller).await,
        ctx,
        form,
        error,
        error_field,
    };
    let status = if page.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, render(&page)).into_response()
}

pub async fn new_form(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, PageError> {
    let caller = signed_in(caller)?;
    let contact_phone = match &caller.principal {
        Principal::Citizen { phone } => phone.national(),
        Principal::Staff { .. } => String::new(),
    };
    let form = VenueForm { kind: "shop".into(), contact_phone, ..VenueForm::default() };
    Ok(form_page(&state, ctx, &caller, form, None).await)
}

pub async fn create(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    CsrfForm(form): CsrfForm<VenueForm>,
) -> Result<Response, PageError> {
    let caller = signed_in(caller)?;
    let registered = match resolve_unit(&state, "unit", &form.unit).await {
        Ok(unit) => {
            let input = NewVenue {
                name: form.name.clone(),
                kind: form.kind.clone(),
                plate: Some(form.plate.clone()),
                unit,
                address: form.address.clone(),
                contact_phone: form.contact_phone.clone(),
            };
            state.services.register_venue(&caller, &input).await
        }
        Err(e) => Err(e),
    };
    match registered {
        Ok(venue) => Ok(Redirect::to(&format!("/venues/{}", venue.code)).into_response()),
        Err(e) => {
            let problem = problem(&ctx, e);
            Ok(form_page(&state, ctx, &caller, form, Some((problem.message, problem.field))).await)
        }
    }
}

#[derive(Deserialize)]
pub struct VenueParams {
    /// After a visitor was checked in: `new` or `repeat`.
    #[serde(default)]
    checked: Option<String>,
}

async fn venue_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    headers: &HeaderMap,
    code: &str,
    checked: Option<bool>,
    typed: (String, Option<String>),
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    // Owners and staff who manage the venue see its day; other staff (tracers) see what is
    // public about it and what their roles let them do there. The services decide.
    let (venue, today) = match state.services.managed_venue(caller, code).await {
        Ok(venue) => {
            let today = state.services.venue_today(caller, &venue.code).await.map_err(page_error(lang))?;
            (venue, Some(today))
        }
        Err(ServiceError::Forbidden(_)) if matches!(caller.principal, Principal::Staff { .. }) => {
            (state.services.venue_by_code(code).await.map_err(page_error(lang))?, None)
        }
        Err(e) => return Err(page_error(lang)(e)),
    };
    let ctx = ctx.with_caller(Some(caller));
    let today = today.map(|t| {
        let flagged = t
            .flagged_arrivals
            .iter()
            .map(|f| FlaggedRow {
                at: local_time(f.at),
                symptoms: symptom_labels(&ctx, &f.symptoms),
                f0_contact: f.f0_contact,
            })
            .collect();
        (t.checkins_today, flagged)
    });
    let can_read_log = caller.principal.may(Permission::ReadCheckins, &venue.unit_path);
    let (visitor_id, error) = typed;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = VenuePage {
        venue: VenueView::new(&ctx, &venue),
        can_manage: today.is_some(),
        today,
        can_read_log,
        today_date: local_today().to_string(),
        in_checkin_mode: checkin_mode(headers).as_deref() == Some(venue.code.as_str()),
        checked,
        visitor_id,
        error,
        ctx,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    PagePath(code): PagePath<String>,
    Query(params): Query<VenueParams>,
) -> Result<Response, PageError> {
    let caller = signed_in(caller)?;
    let checked = params.checked.map(|c| c == "new");
    venue_page(&state, ctx, &caller, &headers, &code, checked, (String::new(), None)).await
}

#[derive(Deserialize)]
pub struct ActiveInput {
    active: String,
}

pub async fn set_active(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    PagePath(code): PagePath<String>,
    CsrfForm(input): CsrfForm<ActiveInput>,
) -> Result<Response, PageError> {
    let caller = signed_in(caller)?;
    let active = input.active == "true";
    let venue = state.services.set_venue_active(&caller, &code, active).await.map_err(page_error(ctx.lang))?;
    Ok(Redirect::to(&format!("/venues/{}", venue.code)).into_response())
}

#[derive(Deserialize)]
pub struct VisitorInput {
    #[serde(default)]
    visitor_id: String,
}

/// Venue staff check in a visitor without a phone by CCCD or insurance number; the page
/// says only that it worked, never who the number belongs to.
pub async fn check_in_visitor(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    PagePath(code): PagePath<String>,
    CsrfForm(input): CsrfForm<VisitorInput>,
) -> Result<Response, PageError> {
    let caller = signed_in(caller)?;
    match state.services.check_in_by_staff(&caller, &code, &VisitorId::from_typed(&input.visitor_id)).await {
        Ok(receipt) => {
            let checked = if receipt.new_visit { "new" } else { "repeat" };
            Ok(Redirect::to(&format!("/venues/{}?checked={checked}", code.trim().to_uppercase())).into_response())
        }
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Forbidden(_))) => {
            let message = problem(&ctx, e).message;
            venue_page(&state, ctx, &caller, &headers, &code, None, (input.visitor_id, Some(message))).await
        }
        Err(e) => Err(page_error(ctx.lang)(e)),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

/// Turns check-in mode on for this phone: personal QRs scanned with its camera check their
/// holder in at this venue.
pub async fn start_checkin_mode(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    PagePath(code): PagePath<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    signed_in(caller)?;
    let venue = state.services.venue_by_code(&code).await.map_err(page_error(ctx.lang))?;
    let mut response = Redirect::to(&format!("/venues/{}", venue.code)).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookies::set(cookies::VENUE, &venue.code, CHECKIN_MODE_SECS, state.secure_cookies));
    Ok(response)
}

pub async fn leave_checkin_mode(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let back = match checkin_mode(&headers) {
        Some(code) if outbreak_domain::venue::is_venue_code(&code) => format!("/venues/{code}"),
        _ => "/venues".to_owned(),
    };
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookies::set(cookies::VENUE, "", 0, state.secure_cookies));
    response
}

/// Whether a scanned link came from another site (a link in a message rather than the
/// phone's camera): then a tap confirms, so no other site can record check-ins through a
/// phone in check-in mode.
fn from_another_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site" || v == "same-site")
}

/// A personal QR scanned by a phone in check-in mode: checks its holder in at the venue
/// and says so in large letters — without naming them.
pub async fn scan_checkin(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    headers: &HeaderMap,
    code: &str,
    token: &str,
    confirmed: bool,
) -> Response {
    let ctx = ctx.with_caller(Some(caller));
    let venue_name = match state.services.venue_by_code(code).await {
        Ok(venue) => venue.name,
        Err(_) => code.to_owned(),
    };
    let mut page = Scanned {
        ctx,
        code: code.to_owned(),
        venue_name,
        token: token.to_owned(),
        new_visit: None,
        confirm: false,
        error: None,
    };
    if !confirmed && from_another_site(headers) {
        page.confirm = true;
        return render(&page);
    }
    let visitor = VisitorId { qr: Some(token.to_owned()), ..VisitorId::default() };
    match state.services.check_in_by_staff(caller, code, &visitor).await {
        Ok(receipt) => {
            page.new_visit = Some(receipt.new_visit);
            page.venue_name = receipt.venue_name;
            render(&page)
        }
        Err(e) => {
            let problem = problem(&page.ctx, e);
            page.error = Some(problem.message);
            (problem.status, render(&page)).into_response()
        }
    }
}

/// The tap that confirms a scan opened from another site.
pub async fn scan_confirm(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    PagePath(token): PagePath<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let caller = signed_in(caller)?;
    let Some(code) = checkin_mode(&headers) else {
        let message = "check-in mode is off on this phone; open the venue's page and start it again".into();
        return Err(PageError::Show { status: StatusCode::CONFLICT, message, lang: ctx.lang });
    };
    Ok(scan_checkin(&state, ctx, &caller, &headers, &code, &token, true).await)
}

/// The A4 poster: what anyone reading the wall learns anyway, so no sign-in is needed.
pub async fn poster(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    PagePath(code): PagePath<String>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let venue = state.services.venue_by_code(&code).await.map_err(page_error(lang))?;
    let url = format!("{}/v/{}", state.services.config.public_url.trim_end_matches('/'), venue.code);
    let qr_svg = outbreak_formats::qr::qr_svg(&url, 640)
        .map_err(|e| page_error(lang)(ServiceError::Internal(format!("QR: {e}"))))?;
    let (vi, en) = (PageContext::texts_only(Lang::Vi), PageContext::texts_only(Lang::En));
    Ok(render(&Poster {
        kind_vi: kind_label(&vi, venue.kind),
        kind_en: kind_label(&en, venue.kind),
        ctx: ctx.with_caller(caller.as_ref()),
        vi,
        en,
        venue,
        url,
        qr_svg,
    }))
}

#[derive(Deserialize)]
pub struct DateParam {
    #[serde(default)]
    date: String,
}

/// Who was at a venue on one day, for commune staff; the services audit every view.
pub async fn visitors(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(code): PagePath<String>,
    Query(params): Query<DateParam>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = match params.date.trim() {
        "" => local_today(),
        typed => time::Date::parse(typed, format).map_err(|_| PageError::Show {
            status: StatusCode::BAD_REQUEST,
            message: "date must be YYYY-MM-DD".into(),
            lang,
        })?,
    };
    let since = date.midnight().assume_offset(time::macros::offset!(+7)).to_offset(time::UtcOffset::UTC);
    let until = since + time::Duration::days(1);
    let log = state.services.visitor_log(&caller, &code, since, until).await.map_err(page_error(lang))?;
    let venue = state.services.venue_by_code(&code).await.map_err(page_error(lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let rows = log
        .iter()
        .map(|c| VisitorRow {
            at: local_time(c.at),
            until: local_time(c.until),
            name: c.name.clone(),
            phone: c.phone.as_ref().map(|p| p.national()).unwrap_or_default(),
            source: source_label(&ctx, &c.source),
        })
        .collect();
    Ok(render(&Visitors { venue: VenueView::new(&ctx, &venue), date: date.to_string(), rows, ctx }))
}

fn source_label(ctx: &PageContext, source: &str) -> &'static str {
    match source {
        "poster" => ctx.t("source_poster"),
        "staff" => ctx.t("source_staff"),
        _ => ctx.t("source_api"),
    }
}
