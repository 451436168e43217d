//! Narrow-zoning pages for staff: the venues declared exposed and the units under
//! restriction in one's jurisdiction, forms to declare either, an exposure's contacts with
//! their follow-up, and a restriction's residents and venues with a way to lift it early.
//!
//! Times are typed and shown in Vietnam's time zone; access checks and audit happen in the
//! services.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_domain::tracing::{ContactId, ExposureEvidence, ExposureId, RestrictionId};
use outbreak_domain::{Invalid, VIETNAM};
use outbreak_services::zoning::RestrictionReport;
use outbreak_services::{Caller, ServiceError};
use outbreak_store::{Exposure, ExposureContact, Restriction};
use serde::Deserialize;
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use super::checkin::problem;
use super::i18n::Texts;
use super::tracing_pages::{day_text, status_word};
use super::{PageContext, local_time, phone_text, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CsrfForm, PagePath, StaffCaller};

pub(super) const TEXTS: Texts = &[
    ("zoning_title", "Khoanh vùng", "Zoning"),
    (
        "zoning_intro",
        "Khoanh vùng hẹp: công bố một địa điểm có ca bệnh trong một khoảng thời gian (mọi người check-in lúc đó thành người tiếp xúc), hoặc phong toả một tổ dân phố, thôn hay xã.",
        "Narrow zoning: declare a venue exposed for a time window (everyone checked in then becomes a contact), or put a neighbourhood, hamlet or commune under restriction.",
    ),
    ("zoning_exposures", "Địa điểm có nguy cơ", "Exposed venues"),
    ("zoning_restrictions", "Khu vực phong toả", "Units under restriction"),
    ("zoning_declare_exposure", "Công bố địa điểm có nguy cơ", "Declare a venue exposed"),
    ("zoning_declare_restriction", "Phong toả một khu vực", "Put a unit under restriction"),
    ("zoning_venue_code", "Mã địa điểm (trên áp phích)", "Venue code (on its poster)"),
    ("zoning_unit", "Mã hoặc tên đơn vị", "Unit code or name"),
    ("zoning_from", "Từ", "From"),
    ("zoning_until", "Đến", "Until"),
    ("zoning_reason", "Lý do", "Reason"),
    ("zoning_declare", "Công bố", "Declare"),
    ("zoning_window", "Khoảng thời gian", "Window"),
    ("zoning_contacts", "Người tiếp xúc", "Contacts"),
    ("zoning_none_exposures", "Chưa có địa điểm nào được công bố.", "No venue has been declared exposed."),
    ("zoning_none_restrictions", "Chưa có khu vực nào bị phong toả.", "No unit is under restriction."),
    ("zoning_in_force", "Đang phong toả", "In force"),
    ("zoning_upcoming", "Sắp bắt đầu", "Upcoming"),
    ("zoning_over", "Đã kết thúc", "Over"),
    ("zoning_lifted", "Đã dỡ bỏ lúc", "Lifted at"),
    ("zoning_lift", "Dỡ bỏ phong toả ngay", "Lift the restriction now"),
    ("zoning_residents", "Người dân trong khu vực", "Residents"),
    ("zoning_venues", "Địa điểm trong khu vực", "Venues inside"),
    (
        "zoning_truncated",
        "Danh sách dừng ở giới hạn; hãy phong toả theo khu vực nhỏ hơn.",
        "The list stopped at its limit; restrict smaller units.",
    ),
    ("zoning_declared", "Đã công bố.", "Declared."),
    ("zoning_listed_new", "người mới được liệt kê", "newly listed"),
    ("zoning_listed_before", "đã được liệt kê trước đó", "listed before"),
    ("zoning_stay", "Ở đó", "There"),
    ("zoning_inactive", "ngừng hoạt động", "inactive"),
    ("zoning_time_help", "Giờ Việt Nam.", "Vietnam time."),
    ("zoning_bad_time", "Thời gian không hợp lệ", "Not a valid time"),
];

/// Reads a `datetime-local` (or `date`) field typed in Vietnam's time zone.
fn local_input(field: &str, text: &str) -> Result<OffsetDateTime, Invalid> {
    let text = text.trim();
    let bad = || Invalid::new(field, "invalid_time", "expected a date and time like 2021-07-15T08:30");
    let parsed = match text.len() {
        10 => time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).map(|d| d.midnight()),
        16 => PrimitiveDateTime::parse(text, time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]")),
        _ => PrimitiveDateTime::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        ),
    };
    parsed.map(|t| t.assume_offset(VIETNAM).to_offset(time::UtcOffset::UTC)).map_err(|_| bad())
}

/// What a `datetime-local` field shows for an instant.
pub(super) fn input_value(at: OffsetDateTime) -> String {
    let local = at.to_offset(VIETNAM);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute()
    )
}

fn page_error(ctx: &PageContext) -> impl Fn(ServiceError) -> PageError + '_ {
    move |e| PageError::from_service(e, ctx.lang)
}

// ---------------------------------------------------------------------------------------
// The zoning home: both lists and both forms.

struct ExposureRow {
    id: String,
    venue: String,
    code: String,
    window: String,
    reason: String,
    contacts: u64,
}

struct RestrictionRow {
    id: String,
    unit: String,
    window: String,
    state: &'static str,
    state_code: &'static str,
    reason: String,
}

#[derive(Default, Deserialize)]
pub struct ExposureForm {
    #[serde(default)]
    venue: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

#[derive(Default, Deserialize)]
pub struct RestrictionForm {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "zoning.html")]
struct ZoningPage {
    ctx: PageContext,
    exposures: Vec<ExposureRow>,
    restrictions: Vec<RestrictionRow>,
    exposure: ExposureForm,
    restriction: RestrictionForm,
    error: Option<String>,
}

fn window_text(from: OffsetDateTime, until: OffsetDateTime) -> String {
    format!("{} – {}", local_time(from), local_time(until))
}

fn restriction_state(ctx: &PageContext, r: &Restriction, now: OffsetDateTime) -> (&'static str, &'static str) {
    if r.window_until <= now {
        ("over", ctx.t("zoning_over"))
    } else if r.window_from > now {
        ("upcoming", ctx.t("zoning_upcoming"))
    } else {
        ("in_force", ctx.t("zoning_in_force"))
    }
}

async fn zoning_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    exposure: ExposureForm,
    restriction: RestrictionForm,
    error: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let exposures = state.services.exposures(caller).await.map_err(page_error(&ctx))?;
    let restrictions = state.services.restrictions(caller).await.map_err(page_error(&ctx))?;
    let ctx = ctx.with_caller(Some(caller));
    let now = outbreak_domain::now();
    let exposures = exposures
        .iter()
        .map(|e: &Exposure| ExposureRow {
            id: e.id.to_string(),
            venue: e.venue_name.clone(),
            code: e.venue_code.clone(),
            window: window_text(e.window_from, e.window_until),
            reason: e.reason.clone(),
            contacts: e.contacts,
        })
        .collect();
    let restrictions = restrictions
        .iter()
        .map(|r| {
            let (state_code, state) = restriction_state(&ctx, r, now);
            RestrictionRow {
                id: r.id.to_string(),
                unit: format!("{} ({})", r.unit_name, r.unit),
                window: window_text(r.window_from, r.window_until),
                state,
                state_code,
                reason: r.reason.clone(),
            }
        })
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, |(status, _)| *status);
    let page = ZoningPage { ctx, exposures, restrictions, exposure, restriction, error: error.map(|(_, m)| m) };
    Ok((status, render(&page)).into_response())
}

/// A venue exposure to propose on the zoning page, as the trace report links it: a hub
/// visit of a case whose visitors were more than the trace listed.
#[derive(Default, Deserialize)]
pub struct ProposedExposure {
    venue: Option<String>,
    from: Option<String>,
    until: Option<String>,
}

pub async fn home(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(proposed): Query<ProposedExposure>,
) -> Result<Response, PageError> {
    let now = outbreak_domain::now();
    let exposure = ExposureForm {
        venue: proposed.venue.unwrap_or_default(),
        from: proposed.from.unwrap_or_else(|| input_value(now - time::Duration::hours(3))),
        until: proposed.until.unwrap_or_else(|| input_value(now)),
        ..ExposureForm::default()
    };
    let restriction = RestrictionForm {
        from: input_value(now),
        until: input_value(now + time::Duration::days(14)),
        ..RestrictionForm::default()
    };
    zoning_page(&state, ctx, &caller, exposure, restriction, None).await
}

/// Declares a venue exposed, then shows the exposure with the people it listed.
pub async fn declare_exposure(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    CsrfForm(form): CsrfForm<ExposureForm>,
) -> Result<Response, PageError> {
    let declared = async {
        let from = local_input("from", &form.from)?;
        let until = local_input("until", &form.until)?;
        state.services.declare_exposure(&caller, &form.venue, from, until, &form.reason).await
    }
    .await;
    match declared {
        Ok(report) => {
            let note = format!(
                "{} {} {}, {} {}",
                ctx.t("zoning_declared"),
                report.new_contacts.len(),
                ctx.t("zoning_listed_new"),
                report.already_listed,
                ctx.t("zoning_listed_before")
            );
            exposure_page(&state, ctx, &caller, report.exposure.id, Some(note), None).await
        }
        Err(e) => {
            let problem = problem(&ctx, e);
            let error = Some((problem.status, problem.message));
            zoning_page(&state, ctx, &caller, form, RestrictionForm::default(), error).await
        }
    }
}

/// Puts a unit under restriction, then shows it with its residents and venues.
pub async fn declare_restriction(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    CsrfForm(form): CsrfForm<RestrictionForm>,
) -> Result<Response, PageError> {
    let declared = async {
        let unit = super::checkin::resolve_unit(&state, "unit", &form.unit).await?;
        let from = local_input("from", &form.from)?;
        let until = local_input("until", &form.until)?;
        state.services.declare_restriction(&caller, &unit, from, until, &form.reason).await
    }
    .await;
    match declared {
        Ok(report) => Ok(Redirect::to(&format!("/zoning/restrictions/{}", report.restriction.id)).into_response()),
        Err(e) => {
            let problem = problem(&ctx, e);
            let error = Some((problem.status, problem.message));
            zoning_page(&state, ctx, &caller, ExposureForm::default(), form, error).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// An exposure and its contacts.

struct ExposureContactRow {
    id: String,
    name: String,
    phone: String,
    /// The phone in E.164, for the `tel:` link.
    tel: String,
    stay: String,
    exposure: String,
    quarantine_until: String,
    status: &'static str,
    status_code: &'static str,
    note: String,
    next: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "zoning_exposure.html")]
struct ExposurePage {
    ctx: PageContext,
    exposure: ExposureRow,
    contacts: Vec<ExposureContactRow>,
    note: Option<String>,
    error: Option<String>,
}

async fn exposure_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    id: ExposureId,
    note: Option<String>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let e = state.services.exposure(caller, id).await.map_err(page_error(&ctx))?;
    let contacts = state.services.exposure_contacts(caller, id).await.map_err(page_error(&ctx))?;
    let ctx = ctx.with_caller(Some(caller));
    let contacts = contacts
        .iter()
        .map(|c: &ExposureContact| {
            let ExposureEvidence::Exposure { stay, .. } = &c.evidence;
            ExposureContactRow {
                id: c.id.to_string(),
                name: c.name.clone(),
                phone: c.phone.as_ref().map(|p| p.national()).unwrap_or_default(),
                tel: c.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                stay: window_text(stay.at, stay.until),
                exposure: local_time(c.exposure_at),
                quarantine_until: day_text(c.quarantine_until),
                status: status_word(&ctx, c.status),
                status_code: c.status.as_str(),
                note: c.note.clone(),
                next: c.status.next().iter().map(|s| (s.as_str(), status_word(&ctx, *s))).collect(),
            }
        })
        .collect();
    let exposure = ExposureRow {
        id: e.id.to_string(),
        venue: e.venue_name,
        code: e.venue_code,
        window: window_text(e.window_from, e.window_until),
        reason: e.reason,
        contacts: e.contacts,
    };
    let status = error.as_ref().map_or(StatusCode::OK, |(status, _)| *status);
    let page = ExposurePage { ctx, exposure, contacts, note, error: error.map(|(_, m)| m) };
    Ok((status, render(&page)).into_response())
}

pub async fn exposure(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    exposure_page(&state, ctx, &caller, ExposureId(id), None, None).await
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

/// One exposure contact moved on; the exposure's page again, with the outcome.
pub async fn move_contact(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath((exposure, contact)): PagePath<(Uuid, Uuid)>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<Response, PageError> {
    match state.services.update_exposure_contact(&caller, ContactId(contact), &form.status, &form.note).await {
        Ok(moved) => {
            let note = format!("{}: {}", moved.name, status_word(&ctx, moved.status));
            exposure_page(&state, ctx, &caller, ExposureId(exposure), Some(note), None).await
        }
        Err(e) => {
            let problem = problem(&ctx, e);
            let error = Some((problem.status, problem.message));
            exposure_page(&state, ctx, &caller, ExposureId(exposure), None, error).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// A restriction, its residents and venues.

struct ResidentRow {
    id: String,
    name: String,
    phone: String,
    /// The phone in E.164, for the `tel:` link.
    tel: String,
    street: String,
}

struct VenueRow {
    code: String,
    name: String,
    kind: &'static str,
    active: bool,
}

#[derive(Template)]
#[template(path = "zoning_restriction.html")]
struct RestrictionPage {
    ctx: PageContext,
    restriction: RestrictionRow,
    lifted_at: String,
    residents: Vec<ResidentRow>,
    venues: Vec<VenueRow>,
    truncated: bool,
    error: Option<String>,
}

async fn restriction_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    id: RestrictionId,
    error: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let report: RestrictionReport = state.services.restriction(caller, id).await.map_err(page_error(&ctx))?;
    let ctx = ctx.with_caller(Some(caller));
    let r = &report.restriction;
    let (state_code, state_word) = restriction_state(&ctx, r, outbreak_domain::now());
    let row = RestrictionRow {
        id: r.id.to_string(),
        unit: format!("{} ({})", r.unit_name, r.unit),
        window: window_text(r.window_from, r.window_until),
        state: state_word,
        state_code,
        reason: r.reason.clone(),
    };
    let residents = report
        .residents
        .iter()
        .map(|p| ResidentRow {
            id: p.person.to_string(),
            name: p.full_name.clone(),
            phone: p.phone.as_deref().map(phone_text).unwrap_or_default(),
            tel: p.phone.clone().unwrap_or_default(),
            street: p.street.clone(),
        })
        .collect();
    let venues = report
        .venues
        .iter()
        .map(|v| VenueRow {
            code: v.code.clone(),
            name: v.name.clone(),
            kind: ctx.t(&format!("kind_{}", v.kind)),
            active: v.active,
        })
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, |(status, _)| *status);
    let page = RestrictionPage {
        lifted_at: r.lifted_at.map(local_time).unwrap_or_default(),
        ctx,
        restriction: row,
        residents,
        venues,
        truncated: report.truncated,
        error: error.map(|(_, m)| m),
    };
    Ok((status, render(&page)).into_response())
}

pub async fn restriction(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    restriction_page(&state, ctx, &caller, RestrictionId(id), None).await
}

pub async fn lift(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(_): CsrfForm<super::testing::Empty>,
) -> Result<Response, PageError> {
    match state.services.lift_restriction(&caller, RestrictionId(id)).await {
        Ok(_) => Ok(Redirect::to(&format!("/zoning/restrictions/{id}")).into_response()),
        Err(e) => {
            let problem = problem(&ctx, e);
            restriction_page(&state, ctx, &caller, RestrictionId(id), Some((problem.status, problem.message))).await
        }
    }
}

/// Where a form's page sends a plain GET (a reload after posting).
pub async fn back_home() -> Redirect {
    Redirect::to("/zoning")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_times_are_vietnam_time() {
        let at = local_input("from", "2021-07-15T08:30").unwrap();
        assert_eq!(at, time::macros::datetime!(2021-07-15 01:30 UTC));
        assert_eq!(local_input("from", "2021-07-15").unwrap(), time::macros::datetime!(2021-07-14 17:00 UTC));
        assert_eq!(input_value(at), "2021-07-15T08:30");
        assert_eq!(local_input("until", "15/07/2021").unwrap_err().field, "until");
    }
}
