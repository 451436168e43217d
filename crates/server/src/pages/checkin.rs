//! What a phone camera opens from a venue's poster (`/v/{code}`): check in with one tap when
//! signed in, or with phone and name when not, then declare one's health; and the health
//! declaration on its own (`/declare`) for domestic travel. No sign-in is needed to view.
//!
//! Also the helpers the venue and diary pages share: translated kinds and symptoms, errors
//! that name the field at fault, and units typed by name or by code.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use outbreak_domain::venue::{NewDeclaration, NewMovement, Symptom, VenueKind};
use outbreak_domain::{Invalid, PersonId, Principal};
use outbreak_services::{Caller, ServiceError};
use outbreak_store::Venue;
use serde::Deserialize;
use uuid::Uuid;

use super::venues::VenueView;
use super::{Lang, PageContext, local_time, render};
use crate::AppState;
use crate::error::{ApiError, PageError};
use crate::extract::{CsrfForm, MaybeCaller, PagePath};

/// A venue kind's name in the page's language.
pub fn kind_label(ctx: &PageContext, kind: VenueKind) -> &'static str {
    ctx.t(&format!("kind_{}", kind.as_str()))
}

/// A stored symptom's name in the page's language (the stored word if it is not known).
pub fn symptom_label(ctx: &PageContext, symptom: &str) -> String {
    match Symptom::parse("symptom", symptom) {
        Ok(known) => ctx.t(&format!("symptom_{}", known.as_str())).to_owned(),
        Err(_) => symptom.to_owned(),
    }
}

pub fn symptom_labels(ctx: &PageContext, symptoms: &[String]) -> String {
    symptoms.iter().map(|s| symptom_label(ctx, s)).collect::<Vec<_>>().join(", ")
}

/// A failed action as a page tells it: the status, the message led by the name of the field
/// at fault in the page's language, and that field as the form names it.
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
    pub field: String,
}

fn field_key(field: &str) -> Option<&'static str> {
    let key = match field {
        "name" | "visitor.name" => "name",
        "kind" => "venue_kind",
        "plate" => "plate_short",
        "unit" => "unit",
        "address" => "address",
        "contact_phone" => "contact_phone",
        "phone" | "visitor.phone" => "phone",
        "places_visited" => "places_visited",
        "movement" => "movement",
        "movement.from_unit" => "from_unit",
        "movement.to_unit" => "to_unit",
        "movement.date" => "travel_date",
        "movement.vehicle" => "vehicle",
        "visitor.cccd" => "cccd",
        "visitor.insurance_number" => "insurance_number",
        "visitor.qr" => "my_qr",
        "visitor" => "visitor_id",
        "venue" => "venue",
        f if f.starts_with("symptoms") => "symptoms",
        _ => return None,
    };
    Some(key)
}

/// The commonest refusals, said in Vietnamese on Vietnamese pages. Elsewhere the services'
/// own words stay: they say more (which limit, which value), in English.
fn reason_key(code: &str, field: &str) -> Option<&'static str> {
    let key = match (code, field) {
        ("invalid_format", "phone" | "visitor.phone" | "contact_phone") => "why_phone",
        ("required", _) => "why_required",
        ("too_long", _) => "why_too_long",
        ("in_future", _) => "why_in_future",
        ("too_old", _) => "why_too_old",
        ("rate_limited", _) => "why_rate_limited",
        _ => return None,
    };
    Some(key)
}

pub fn problem(ctx: &PageContext, error: ServiceError) -> Problem {
    let api = ApiError::from(error);
    let field = api.detail.field.unwrap_or_default();
    let reason = match reason_key(&api.detail.code, &field) {
        Some(key) if ctx.lang == Lang::Vi => ctx.t(key).to_owned(),
        _ => api.detail.message,
    };
    let message = match field_key(&field) {
        Some(key) => format!("{}: {reason}", ctx.t(key)),
        None => reason,
    };
    Problem { status: api.status, message, field }
}

/// A unit typed by its code or by its name (diacritics optional). An unknown entry is passed
/// on for the services to refuse; a name that fits several units is refused here with them.
pub async fn resolve_unit(state: &AppState, field: &str, typed: &str) -> Result<String, ServiceError> {
    let typed = typed.trim();
    if typed.is_empty() || state.services.unit(typed).await.is_ok() {
        return Ok(typed.to_owned());
    }
    let found = state.services.find_units(typed, 6).await.unwrap_or_default();
    let folded = outbreak_domain::text::fold(typed);
    let exact: Vec<_> = found.iter().filter(|u| outbreak_domain::text::fold(&u.name) == folded).cloned().collect();
    match (found.as_slice(), exact.as_slice()) {
        ([only], _) | (_, [only]) => Ok(only.code.to_string()),
        ([], _) => Ok(typed.to_owned()),
        (many, _) => {
            let names: Vec<String> = many.iter().map(|u| format!("{} ({})", u.name, u.code)).collect();
            Err(Invalid::new(
                field,
                "ambiguous_unit",
                format!("several units match \"{typed}\": {}; type the code", names.join(", ")),
            )
            .into())
        }
    }
}

/// One symptom's checkbox.
pub struct SymptomChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// The declaration form's fields as typed. Checkboxes repeat the `symptoms` name, which
/// the form decoder gives as pairs.
#[derive(Debug, Clone, Default)]
pub struct DeclarationForm {
    pub symptoms: Vec<String>,
    pub f0_contact: bool,
    pub places_visited: String,
    pub from_unit: String,
    pub to_unit: String,
    pub date: String,
    pub vehicle: String,
    pub phone: String,
}

impl DeclarationForm {
    pub fn from_pairs(pairs: &[(String, String)]) -> DeclarationForm {
        let one = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        DeclarationForm {
            symptoms: pairs.iter().filter(|(k, _)| k == "symptoms").map(|(_, v)| v.clone()).collect(),
            f0_contact: matches!(one("f0_contact").as_str(), "true" | "on"),
            places_visited: one("places_visited"),
            from_unit: one("from_unit"),
            to_unit: one("to_unit"),
            date: one("date"),
            vehicle: one("vehicle"),
            phone: one("phone"),
        }
    }

    pub fn has_movement(&self) -> bool {
        [&self.from_unit, &self.to_unit, &self.date, &self.vehicle].iter().any(|v| !v.trim().is_empty())
    }

    pub fn choices(&self, ctx: &PageContext) -> Vec<SymptomChoice> {
        Symptom::ALL
            .iter()
            .map(|s| SymptomChoice {
                value: s.as_str(),
                label: ctx.t(&format!("symptom_{}", s.as_str())),
                checked: self.symptoms.iter().any(|c| c == s.as_str()),
            })
            .collect()
    }

    /// The declaration for the services, with units typed by name resolved to codes.
    async fn to_new(&self, state: &AppState) -> Result<NewDeclaration, ServiceError> {
        let movement = if self.has_movement() {
            Some(NewMovement {
                from_unit: resolve_unit(state, "movement.from_unit", &self.from_unit).await?,
                to_unit: resolve_unit(state, "movement.to_unit", &self.to_unit).await?,
                date: self.date.clone(),
                vehicle: self.vehicle.clone(),
            })
        } else {
            None
        };
        Ok(NewDeclaration {
            symptoms: self.symptoms.clone(),
            f0_contact: self.f0_contact,
            places_visited: self.places_visited.clone(),
            movement,
        })
    }
}

fn is_citizen(caller: Option<&Caller>) -> bool {
    matches!(caller.map(|c| &c.principal), Some(Principal::Citizen { .. }))
}

#[derive(Template)]
#[template(path = "checkin_page.html")]
struct CheckinPage {
    ctx: PageContext,
    venue: VenueView,
    citizen: bool,
    /// The people registered with a signed-in citizen's phone: one button each.
    people: Vec<(PersonId, String)>,
    phone: String,
    name: String,
    error: Option<String>,
    decl: DeclarationForm,
    symptom_choices: Vec<SymptomChoice>,
    ask_phone: bool,
    open_movement: bool,
}

#[derive(Template)]
#[template(path = "checkin_closed.html")]
struct Closed {
    ctx: PageContext,
    code: String,
    venue_name: Option<String>,
}

#[derive(Template)]
#[template(path = "checkin_done.html")]
struct Done {
    ctx: PageContext,
    venue: VenueView,
    at: String,
    new_visit: bool,
    citizen: bool,
    phone: String,
    decl: DeclarationForm,
    symptom_choices: Vec<SymptomChoice>,
    ask_phone: bool,
    open_movement: bool,
}

#[derive(Template)]
#[template(path = "declare.html")]
struct DeclarePage {
    ctx: PageContext,
    venue: Option<VenueView>,
    action: String,
    error: Option<String>,
    decl: DeclarationForm,
    symptom_choices: Vec<SymptomChoice>,
    ask_phone: bool,
    open_movement: bool,
}

#[derive(Template)]
#[template(path = "declared.html")]
struct Declared {
    ctx: PageContext,
    venue: Option<VenueView>,
    flagged: bool,
    at: String,
    symptoms: String,
    f0_contact: bool,
    citizen: bool,
}

/// The clear refusal for an unknown code (404) or a deactivated venue (410).
fn closed(ctx: PageContext, caller: Option<&Caller>, code: &str, venue: Option<&Venue>) -> Response {
    let status = if venue.is_some() { StatusCode::GONE } else { StatusCode::NOT_FOUND };
    let page = Closed {
        ctx: ctx.with_caller(caller),
        code: code.trim().to_uppercase(),
        venue_name: venue.map(|v| v.name.clone()),
    };
    (status, render(&page)).into_response()
}

/// The venue behind a poster when it takes check-ins; otherwise the page that says why not.
async fn open_venue(
    state: &AppState,
    ctx: PageContext,
    caller: Option<&Caller>,
    code: &str,
) -> Result<(Venue, PageContext), Response> {
    match state.services.venue_by_code(code).await {
        Ok(venue) if venue.active => Ok((venue, ctx)),
        Ok(venue) => Err(closed(ctx, caller, code, Some(&venue))),
        Err(ServiceError::NotFound(_)) => Err(closed(ctx, caller, code, None)),
        Err(e) => Err(PageError::from_service(e, ctx.lang).into_response()),
    }
}

/// A refusal from a check-in or declaration: the closed page when the venue went away
/// meanwhile, `None` for errors the form shows.
async fn refusal(
    state: &AppState,
    ctx: PageContext,
    caller: Option<&Caller>,
    code: &str,
    error: ServiceError,
) -> Result<(PageContext, Problem), Response> {
    match &error {
        ServiceError::NotFound(what) if what.starts_with("venue") => Err(closed(ctx, caller, code, None)),
        ServiceError::Invalid(i) if i.code == "venue_inactive" => {
            let venue = state.services.venue_by_code(code).await.ok();
            Err(closed(ctx, caller, code, venue.as_ref()))
        }
        ServiceError::Invalid(_) | ServiceError::Conflict { .. } | ServiceError::Forbidden(_) => {
            let problem = problem(&ctx, error);
            Ok((ctx, problem))
        }
        _ => Err(PageError::from_service(error, ctx.lang).into_response()),
    }
}

async fn checkin_page(
    state: &AppState,
    ctx: PageContext,
    caller: Option<&Caller>,
    venue: &Venue,
    phone: String,
    name: String,
    error: Option<Problem>,
) -> Response {
    let citizen = is_citizen(caller);
    let people = match caller {
        Some(c) if citizen => match state.services.my_people(c).await {
            Ok(records) => records.into_iter().map(|r| (r.id(), r.person.full_name)).collect(),
            Err(e) => return PageError::from_service(e, ctx.lang).into_response(),
        },
        _ => Vec::new(),
    };
    let ctx = ctx.with_caller(caller);
    let decl = DeclarationForm { phone: phone.clone(), ..DeclarationForm::default() };
    let status = error.as_ref().map(|p| p.status).unwrap_or(StatusCode::OK);
    let page = CheckinPage {
        venue: VenueView::new(&ctx, venue),
        citizen,
        people,
        phone,
        name,
        error: error.map(|p| p.message),
        symptom_choices: decl.choices(&ctx),
        decl,
        ask_phone: !citizen,
        open_movement: false,
        ctx,
    };
    (status, render(&page)).into_response()
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    PagePath(code): PagePath<String>,
) -> Response {
    match open_venue(&state, ctx, caller.as_ref(), &code).await {
        Ok((venue, ctx)) => {
            checkin_page(&state, ctx, caller.as_ref(), &venue, String::new(), String::new(), None).await
        }
        Err(refused) => refused,
    }
}

#[derive(Deserialize)]
pub struct CheckinInput {
    /// For a signed-in citizen: which person on their phone checks in (empty: the phone).
    #[serde(default)]
    person: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
}

pub async fn check_in(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    PagePath(code): PagePath<String>,
    CsrfForm(input): CsrfForm<CheckinInput>,
) -> Response {
    let caller = caller.as_ref();
    let citizen = is_citizen(caller);
    let recorded = match caller {
        Some(c) if citizen => {
            let person = match input.person.trim() {
                "" => None,
                id => match Uuid::parse_str(id) {
                    Ok(id) => Some(PersonId(id)),
                    Err(_) => {
                        let message = "the chosen person is not valid; reload the page".to_owned();
                        return PageError::Show { status: StatusCode::BAD_REQUEST, message, lang: ctx.lang }
                            .into_response();
                    }
                },
            };
            state.services.check_in_self(c, &code, person).await
        }
        _ => state.services.check_in_with_phone(&code, &input.phone, &input.name).await,
    };
    match recorded {
        Ok(receipt) => {
            let venue = match state.services.venue_by_code(&code).await {
                Ok(venue) => venue,
                Err(e) => return PageError::from_service(e, ctx.lang).into_response(),
            };
            let ctx = ctx.with_caller(caller);
            let decl = DeclarationForm { phone: input.phone.trim().to_owned(), ..DeclarationForm::default() };
            render(&Done {
                venue: VenueView::new(&ctx, &venue),
                at: local_time(receipt.at),
                new_visit: receipt.new_visit,
                citizen,
                phone: input.phone.trim().to_owned(),
                symptom_choices: decl.choices(&ctx),
                decl,
                ask_phone: !citizen,
                open_movement: false,
                ctx,
            })
        }
        Err(e) => match refusal(&state, ctx, caller, &code, e).await {
            Ok((ctx, problem)) => match state.services.venue_by_code(&code).await {
                Ok(venue) => checkin_page(&state, ctx, caller, &venue, input.phone, input.name, Some(problem)).await,
                Err(e) => PageError::from_service(e, ctx.lang).into_response(),
            },
            Err(refused) => refused,
        },
    }
}

/// Records a declaration and shows the outcome; on a mistake, the form again with the error.
async fn record_declaration(
    state: &AppState,
    ctx: PageContext,
    caller: Option<&Caller>,
    venue: Option<Venue>,
    form: DeclarationForm,
) -> Response {
    let citizen = is_citizen(caller);
    let code = venue.as_ref().map(|v| v.code.clone());
    let declared = match form.to_new(state).await {
        Ok(input) => state.services.declare(caller, code.as_deref(), Some(&form.phone), &input).await,
        Err(e) => Err(e),
    };
    match declared {
        Ok(flagged) => {
            let ctx = ctx.with_caller(caller);
            let valid: Vec<String> = form.symptoms.iter().filter(|s| Symptom::parse("s", s).is_ok()).cloned().collect();
            render(&Declared {
                venue: venue.as_ref().map(|v| VenueView::new(&ctx, v)),
                flagged,
                at: local_time(outbreak_domain::now()),
                symptoms: symptom_labels(&ctx, &valid),
                f0_contact: form.f0_contact,
                citizen,
                ctx,
            })
        }
        Err(e) => {
            let (ctx, problem) = match &code {
                Some(code) => match refusal(state, ctx, caller, code, e).await {
                    Ok(shown) => shown,
                    Err(refused) => return refused,
                },
                None => {
                    let problem = problem(&ctx, e);
                    (ctx, problem)
                }
            };
            let ctx = ctx.with_caller(caller);
            let page = DeclarePage {
                action: match &code {
                    Some(code) => format!("/v/{code}/declare"),
                    None => "/declare".into(),
                },
                venue: venue.as_ref().map(|v| VenueView::new(&ctx, v)),
                error: Some(problem.message),
                symptom_choices: form.choices(&ctx),
                open_movement: code.is_none() || form.has_movement(),
                decl: form,
                ask_phone: !citizen,
                ctx,
            };
            (problem.status, render(&page)).into_response()
        }
    }
}

pub async fn declare_at(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    PagePath(code): PagePath<String>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    match open_venue(&state, ctx, caller.as_ref(), &code).await {
        Ok((venue, ctx)) => {
            record_declaration(&state, ctx, caller.as_ref(), Some(venue), DeclarationForm::from_pairs(&pairs)).await
        }
        Err(refused) => refused,
    }
}

/// The declaration on its own, chiefly for domestic travel.
pub async fn declare_form(ctx: PageContext, MaybeCaller(caller): MaybeCaller) -> Response {
    let ctx = ctx.with_caller(caller.as_ref());
    let decl = DeclarationForm::default();
    render(&DeclarePage {
        venue: None,
        action: "/declare".into(),
        error: None,
        symptom_choices: decl.choices(&ctx),
        decl,
        ask_phone: !is_citizen(caller.as_ref()),
        open_movement: true,
        ctx,
    })
}

pub async fn declare(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    record_declaration(&state, ctx, caller.as_ref(), None, DeclarationForm::from_pairs(&pairs)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::Lang;

    fn ctx(lang: Lang) -> PageContext {
        PageContext { lang, csrf: String::new(), signed_in: None, is_staff: false, is_admin: false }
    }

    /// Kinds and symptoms are named by keys built at run time; every one must exist.
    #[test]
    fn every_kind_and_symptom_has_a_name() {
        for lang in [Lang::Vi, Lang::En] {
            let ctx = ctx(lang);
            for kind in VenueKind::ALL {
                assert_ne!(kind_label(&ctx, kind), "?", "{kind:?}");
            }
            for symptom in Symptom::ALL {
                assert_ne!(symptom_label(&ctx, symptom.as_str()), "?", "{symptom:?}");
            }
            for key in ["source_poster", "source_staff", "source_api"] {
                assert_ne!(ctx.t(key), "?", "{key}");
            }
        }
    }

    #[test]
    fn errors_name_the_field_in_the_page_language() {
        let invalid = Invalid::new("plate", "invalid_format", "plate must look like 51B-123.45");
        let shown = problem(&ctx(Lang::Vi), invalid.into());
        assert_eq!(shown.field, "plate");
        assert!(shown.message.starts_with("Biển số: "), "{}", shown.message);
        assert_eq!(shown.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn declaration_forms_read_repeated_checkboxes() {
        let pairs: Vec<(String, String)> = [("symptoms", "fever"), ("symptoms", "cough"), ("f0_contact", "true")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let form = DeclarationForm::from_pairs(&pairs);
        assert_eq!(form.symptoms, ["fever", "cough"]);
        assert!(form.f0_contact);
        assert!(!form.has_movement());
        assert!(form.choices(&ctx(Lang::En)).iter().any(|c| c.value == "fever" && c.checked));
    }
}
