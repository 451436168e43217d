//! The citizen's pages: the landing page, their home with their personal QR (kept for
//! offline use by the service worker) and, above it, what to do when they are being followed
//! up as a contact, self-registration, and a printable QR card.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_domain::{NewPerson, PersonId, Principal};
use outbreak_services::Caller;
use outbreak_services::tracing::{ContactNotice, Exposed};
use outbreak_store::PersonRecord;
use uuid::Uuid;

use super::tracing_pages::{day_text, status_word, stays_text};
use super::{PageContext, birth_text, date_text, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CitizenCaller, CsrfForm, MaybeCaller, PagePath};

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing {
    ctx: PageContext,
}

/// One person on the citizen's home: their name and QR.
pub struct QrPerson {
    pub id: PersonId,
    pub name: String,
    pub qr_svg: String,
}

#[derive(Template)]
#[template(path = "me.html")]
struct Home {
    ctx: PageContext,
    people: Vec<QrPerson>,
    form: PersonForm,
    unit_choices: Vec<(String, String)>,
    error: Option<String>,
    /// Each person's test results, for `results_list.html`.
    results: Vec<super::dashboard::ResultsOf>,
    /// Each person's doses and invitations, for `doses_list.html`.
    doses: Vec<super::vaccination::DosesOf>,
    /// Open follow-ups of the phone's people (a case's contacts, visitors of a venue declared
    /// exposed): what each must do.
    notices: Vec<NoticeView>,
}

/// A follow-up as its person reads it on their page.
struct NoticeView {
    name: String,
    /// What happened: exposed on a day (at a venue, at a time), or through a close contact.
    what: String,
    /// What to do, and until when.
    todo: String,
    test_days: String,
    status: &'static str,
    status_code: &'static str,
}

impl NoticeView {
    fn new(ctx: &PageContext, n: &ContactNotice) -> NoticeView {
        let until = day_text(n.quarantine_until);
        let how = ctx.t(match n.how {
            Exposed::CloseContact => "notice_close_contact",
            Exposed::ContactOfContact => "notice_contact_of_contact",
            Exposed::AtExposedVenue => "notice_exposed_venue",
        });
        let what = match (&n.venue, &n.stay) {
            (Some(venue), Some(stay)) => {
                format!("{how} — {venue} · {}", stays_text(&[(ctx.t("notice_you_were_there"), stay)]))
            }
            _ => format!("{how} {} {}", ctx.t("notice_on"), day_text(n.exposure_at)),
        };
        let todo = match n.how {
            Exposed::CloseContact | Exposed::AtExposedVenue => ctx.t("notice_isolate"),
            Exposed::ContactOfContact => ctx.t("notice_watch"),
        };
        NoticeView {
            name: n.full_name.clone(),
            what,
            todo: format!("{todo} {until}."),
            test_days: n.test_days.iter().map(|d| date_text(*d)).collect::<Vec<_>>().join(", "),
            status: status_word(ctx, n.status),
            status_code: n.status.as_str(),
        }
    }
}

#[derive(Template)]
#[template(path = "card.html")]
pub struct Card {
    pub ctx: PageContext,
    pub name: String,
    pub birth: String,
    pub qr_svg: String,
}

/// The person form's fields as typed, to show again after an error.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PersonForm {
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub date_of_birth: String,
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub cccd: String,
    #[serde(default)]
    pub insurance_number: String,
    #[serde(default)]
    pub address_unit: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub household: String,
    /// Staff forms only: a citizen registering themselves keeps the phone they signed in with.
    #[serde(default)]
    pub phone: String,
}

impl PersonForm {
    pub fn to_new_person(&self) -> NewPerson {
        NewPerson {
            full_name: self.full_name.clone(),
            date_of_birth: self.date_of_birth.clone(),
            sex: self.sex.clone(),
            phone: Some(self.phone.clone()),
            cccd: Some(self.cccd.clone()),
            insurance_number: Some(self.insurance_number.clone()),
            address_unit: self.address_unit.clone(),
            street: self.street.clone(),
            household: Some(self.household.clone()),
        }
    }

    pub fn from_record(record: &PersonRecord) -> PersonForm {
        let p = &record.person;
        PersonForm {
            full_name: p.full_name.clone(),
            date_of_birth: p.date_of_birth.to_string(),
            sex: p.sex.as_str().into(),
            cccd: p.cccd.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(),
            insurance_number: p.insurance_number.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default(),
            address_unit: p.address_unit.to_string(),
            street: p.street.clone(),
            household: p.household.as_ref().map(ToString::to_string).unwrap_or_default(),
            phone: p.phone.as_ref().map(|p| p.national()).unwrap_or_default(),
        }
    }
}

pub async fn landing(ctx: PageContext, MaybeCaller(caller): MaybeCaller) -> Response {
    match caller.map(|c| c.principal) {
        Some(Principal::Citizen { .. }) => Redirect::to("/me").into_response(),
        Some(Principal::Staff { .. }) => Redirect::to("/staff").into_response(),
        None => render(&Landing { ctx }),
    }
}

/// A person's QR drawing, issuing their token when they have none.
pub async fn qr_svg(state: &AppState, person: PersonId, size: u32) -> Result<String, outbreak_services::ServiceError> {
    let token = state.services.personal_qr_token(person).await?;
    outbreak_formats::qr::qr_svg(&state.services.personal_qr_url(&token), size)
        .map_err(|e| outbreak_services::ServiceError::Internal(format!("QR: {e}")))
}

async fn home_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    form: PersonForm,
    error: Option<String>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    // The page's sections read apart from each other, so they are read at once.
    let (records, results, doses, notices) = tokio::try_join!(
        state.services.my_people(caller),
        state.services.my_results(caller),
        state.services.my_doses(caller),
        state.services.my_contacts(caller),
    )
    .map_err(|e| PageError::from_service(e, lang))?;
    let mut people = Vec::with_capacity(records.len());
    for record in records {
        let qr_svg = qr_svg(state, record.id(), 260).await.map_err(|e| PageError::from_service(e, lang))?;
        people.push(QrPerson { id: record.id(), name: record.person.full_name, qr_svg });
    }
    let results = super::dashboard::results_view(&ctx, &results);
    let doses = super::vaccination::doses_view(&ctx, &doses);
    let notices = notices.iter().map(|n| NoticeView::new(&ctx, n)).collect();
    Ok(render(&Home {
        ctx: ctx.with_caller(Some(caller)),
        people,
        form,
        unit_choices: Vec::new(),
        error,
        results,
        doses,
        notices,
    }))
}

pub async fn home(
    State(state): State<AppState>,
    ctx: PageContext,
    CitizenCaller(caller): CitizenCaller,
) -> Result<Response, PageError> {
    home_page(&state, ctx, &caller, PersonForm { sex: "male".into(), ..PersonForm::default() }, None).await
}

pub async fn register(
    State(state): State<AppState>,
    ctx: PageContext,
    CitizenCaller(caller): CitizenCaller,
    CsrfForm(form): CsrfForm<PersonForm>,
) -> Result<Response, PageError> {
    match state.services.register_self(&caller, &form.to_new_person()).await {
        Ok(_) => Ok(Redirect::to("/me").into_response()),
        Err(e) => home_page(&state, ctx, &caller, form, Some(super::user_message(e))).await,
    }
}

pub async fn card(
    State(state): State<AppState>,
    ctx: PageContext,
    CitizenCaller(caller): CitizenCaller,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    card_page(&state, ctx, &caller, PersonId(id)).await
}

/// A printable QR card for a person the caller may open (their own, or in their
/// jurisdiction for staff).
pub(super) async fn card_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    id: PersonId,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let record = state.services.person(caller, id).await.map_err(|e| PageError::from_service(e, lang))?;
    let qr_svg = qr_svg(state, record.id(), 300).await.map_err(|e| PageError::from_service(e, lang))?;
    Ok(render(&Card {
        ctx: ctx.with_caller(Some(caller)),
        birth: birth_text(&record.person.date_of_birth.to_string()),
        name: record.person.full_name,
        qr_svg,
    }))
}
