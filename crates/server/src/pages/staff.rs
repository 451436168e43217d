//! Staff pages: home, people search, a person's page, registering and editing people, and
//! what a scanned personal QR opens. Access and auditing happen in the services.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_domain::{Permission, PersonId, Principal, Role};
use outbreak_services::Caller;
use outbreak_store::PersonRecord;
use serde::Deserialize;
use uuid::Uuid;

use super::citizen::{PersonForm, qr_svg};
use super::{PageContext, birth_text, render, unit_label, unit_labels, user_message};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CsrfForm, MaybeCaller, PagePath, StaffCaller};

#[derive(Template)]
#[template(path = "staff_home.html")]
struct Home {
    ctx: PageContext,
    grants: Vec<(Role, String)>,
    /// The work the roles open: the link's id, address and words.
    links: Vec<(&'static str, &'static str, &'static str)>,
}

/// The staff home's links, each shown to whoever holds one of its permissions somewhere.
const WORK: &[(&str, &str, &str, &[Permission])] = &[
    (
        "venues-link",
        "/venues",
        "venues",
        &[Permission::ManageVenues, Permission::RecordCheckins, Permission::ReadCheckins],
    ),
    ("declarations-link", "/declarations", "flagged_declarations", &[Permission::ReadCheckins]),
    (
        "testing-link",
        "/testing",
        "testing",
        &[Permission::CollectSamples, Permission::RecordResults, Permission::ManageCases],
    ),
    ("lab-link", "/lab", "lab", &[Permission::RecordResults]),
    ("dashboard-link", "/testing/dashboard", "dash_title", &[Permission::ReadTesting]),
    ("cases-link", "/cases", "cases", &[Permission::ManageCases]),
    ("tracing-link", "/tracing", "trace_queue_title", &[Permission::ManageCases]),
    ("zoning-link", "/zoning", "zoning_title", &[Permission::ManageCases]),
    (
        "vaccination-link",
        "/vaccination",
        "vaccination",
        &[Permission::PlanVaccination, Permission::RecordDoses, Permission::RegisterPeople],
    ),
];

/// A person as listed and shown on pages.
pub struct PersonRow {
    pub id: PersonId,
    pub name: String,
    pub birth: String,
    pub sex: &'static str,
    pub phone: String,
    pub cccd: String,
    pub insurance: String,
    pub unit: String,
    pub street: String,
    pub household: String,
}

impl PersonRow {
    fn new(ctx: &PageContext, record: &PersonRecord, unit: String) -> PersonRow {
        let p = &record.person;
        PersonRow {
            id: p.id,
            name: p.full_name.clone(),
            birth: birth_text(&p.date_of_birth.to_string()),
            sex: ctx.t(p.sex.as_str()),
            phone: p.phone.as_ref().map(|p| p.national()).unwrap_or_default(),
            cccd: p.cccd.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(),
            insurance: p.insurance_number.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default(),
            unit,
            street: p.street.clone(),
            household: p.household.as_ref().map(ToString::to_string).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "people_search.html")]
struct Search {
    ctx: PageContext,
    q: String,
    searched: bool,
    people: Vec<PersonRow>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    ctx: PageContext,
    p: PersonRow,
    /// The person's vaccination, when the caller may read it.
    doses: Option<Vec<super::vaccination::DosesOf>>,
    qr_svg: String,
}

#[derive(Template)]
#[template(path = "person_form.html")]
struct PersonFormPage {
    ctx: PageContext,
    id: Option<PersonId>,
    form: PersonForm,
    unit_choices: Vec<(String, String)>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "scan_denied.html")]
struct ScanDenied {
    ctx: PageContext,
    token: String,
}

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: u32,
}

fn grants(caller: &Caller) -> &[outbreak_domain::Grant] {
    match &caller.principal {
        Principal::Staff { grants, .. } => grants,
        Principal::Citizen { .. } => &[],
    }
}

pub async fn home(State(state): State<AppState>, ctx: PageContext, StaffCaller(caller): StaffCaller) -> Response {
    let mut named = Vec::new();
    for grant in grants(&caller) {
        named.push((grant.role, unit_label(&state, grant.unit.as_str()).await));
    }
    let ctx = ctx.with_caller(Some(&caller));
    let links = WORK
        .iter()
        .filter(|(.., permissions)| permissions.iter().any(|p| !caller.principal.jurisdiction(*p).is_empty()))
        .map(|(id, href, text, _)| (*id, *href, ctx.t(text)))
        .collect();
    render(&Home { ctx, grants: named, links })
}

pub async fn search(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(params): Query<SearchParams>,
) -> Response {
    let ctx = ctx.with_caller(Some(&caller));
    let searched = !params.q.trim().is_empty();
    let (people, error) = match state.services.search_people(&caller, &params.q, params.page).await {
        Ok(found) => {
            let units = unit_labels(&state, found.iter().map(|r| r.person.address_unit.as_str()).collect()).await;
            let rows = found
                .iter()
                .map(|record| {
                    let unit = record.person.address_unit.as_str();
                    PersonRow::new(&ctx, record, units.get(unit).cloned().unwrap_or_else(|| unit.to_owned()))
                })
                .collect();
            (rows, None)
        }
        Err(e) => (Vec::new(), Some(user_message(e))),
    };
    render(&Search { ctx, q: params.q, searched, people, error })
}

pub async fn person(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let record = state.services.person(&caller, PersonId(id)).await.map_err(|e| PageError::from_service(e, lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let unit = unit_label(&state, record.person.address_unit.as_str()).await;
    let qr_svg = qr_svg(&state, record.id(), 160).await.map_err(|e| PageError::from_service(e, lang))?;
    // Vaccination is shown to those who may read it; others see the page without it.
    let doses = match state.services.person_doses(&caller, record.id()).await {
        Ok(doses) => Some(super::vaccination::doses_view(&ctx, std::slice::from_ref(&doses))),
        Err(outbreak_services::ServiceError::Forbidden(_)) => None,
        Err(e) => return Err(PageError::from_service(e, lang)),
    };
    Ok(render(&PersonPage { p: PersonRow::new(&ctx, &record, unit), ctx, qr_svg, doses }))
}

/// Units a staff member is likely to type into a form: the communes where they hold
/// `permission` and what lies directly below them.
pub(super) async fn unit_choices_for(
    state: &AppState,
    caller: &Caller,
    permission: Permission,
) -> Vec<(String, String)> {
    let mut choices = Vec::new();
    for path in caller.principal.jurisdiction(permission).paths {
        let Some(code) = path.trim_end_matches('/').rsplit('/').next() else { continue };
        let Ok(unit) = state.services.unit(code).await else { continue };
        if unit.level >= outbreak_domain::UnitLevel::Commune {
            choices.push((unit.code.to_string(), unit.name.clone()));
            if let Ok(children) = state.services.child_units(code).await {
                choices.extend(children.into_iter().take(300).map(|u| (u.code.to_string(), u.name)));
            }
        }
    }
    choices
}

/// The person form, empty, filled from a record, or as typed with the error that stopped it.
async fn form_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    id: Option<PersonId>,
    form: PersonForm,
    error: Option<String>,
) -> Response {
    let unit_choices = unit_choices_for(state, caller, Permission::WritePeople).await;
    render(&PersonFormPage { ctx: ctx.with_caller(Some(caller)), id, form, unit_choices, error })
}

pub async fn new_form(State(state): State<AppState>, ctx: PageContext, StaffCaller(caller): StaffCaller) -> Response {
    form_page(&state, ctx, &caller, None, PersonForm { sex: "male".into(), ..PersonForm::default() }, None).await
}

pub async fn create(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    CsrfForm(form): CsrfForm<PersonForm>,
) -> Response {
    match state.services.register_person(&caller, &form.to_new_person()).await {
        Ok(record) => Redirect::to(&format!("/people/{}", record.id())).into_response(),
        Err(e) => form_page(&state, ctx, &caller, None, form, Some(user_message(e))).await,
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let record = state.services.person(&caller, PersonId(id)).await.map_err(|e| PageError::from_service(e, lang))?;
    Ok(form_page(&state, ctx, &caller, Some(record.id()), PersonForm::from_record(&record), None).await)
}

pub async fn update(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(form): CsrfForm<PersonForm>,
) -> Response {
    match state.services.update_person(&caller, PersonId(id), &form.to_new_person()).await {
        Ok(_) => Redirect::to(&format!("/people/{id}")).into_response(),
        Err(e) => form_page(&state, ctx, &caller, Some(PersonId(id)), form, Some(user_message(e))).await,
    }
}

pub async fn card(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    super::citizen::card_page(&state, ctx, &caller, PersonId(id)).await
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn reissue_qr(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    state.services.reissue_personal_qr(&caller, PersonId(id)).await.map_err(|e| PageError::from_service(e, lang))?;
    Ok(Redirect::to(&format!("/people/{id}")).into_response())
}

/// What a phone camera opens from a personal QR: in a venue's check-in mode, a check-in of
/// its holder there (staff, or the venue's owner); otherwise staff go to the person (if their
/// jurisdiction allows); anyone else learns what the code is, and nothing about the person.
pub async fn scan(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    PagePath(token): PagePath<String>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    if let Some(caller) = caller.as_ref().filter(|c| matches!(c.principal, Principal::Staff { .. }))
        && let Some(session) = super::testing::sampling_mode(&headers)
    {
        return Ok(super::testing::scan_in_sampling_mode(&state, ctx, caller, session, &token).await);
    }
    if caller.as_ref().is_some_and(|c| matches!(c.principal, Principal::Staff { .. }))
        && let Some(site) = super::vaccination::camera_mode(&headers)
    {
        return Ok(super::vaccination::scan_in_camera_mode(site, &token));
    }
    let checkin_mode = crate::cookies::get(&headers, crate::cookies::VENUE).filter(|c| !c.is_empty());
    if let (Some(caller), Some(code)) = (&caller, checkin_mode) {
        return Ok(super::venues::scan_checkin(&state, ctx, caller, &headers, code, &token, false).await);
    }
    match caller {
        Some(caller) if matches!(caller.principal, Principal::Staff { .. }) => {
            let record = state
                .services
                .resolve_personal_qr(&caller, &token)
                .await
                .map_err(|e| PageError::from_service(e, lang))?;
            Ok(Redirect::to(&format!("/people/{}", record.id())).into_response())
        }
        caller => Ok(render(&ScanDenied { ctx: ctx.with_caller(caller.as_ref()), token })),
    }
}
