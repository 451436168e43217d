//! The web pages: server-rendered HTML for cheap phones and weak networks, Vietnamese first
//! and English on request (`?lang=en`, remembered in a cookie). Every form carries the CSRF
//! token of the visitor's `ob_csrf` cookie, checked by [`crate::extract::CsrfForm`].

mod admin;
mod assets;
mod certificates;
mod checkin;
mod citizen;
mod dashboard;
mod diary;
mod i18n;
mod signin;
mod staff;
mod testing;
mod tracing_pages;
mod vaccination;
mod venues;
mod zoning;

use askama::Template;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use outbreak_domain::Principal;
use outbreak_services::Caller;

use crate::AppState;
use crate::cookies;

pub use i18n::Lang;

pub fn router(state: AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(citizen::landing))
        .route("/signin", get(signin::phone_form).post(signin::send_code))
        .route("/signin/code", get(signin::code_form).post(signin::check_code))
        .route("/staff/signin", get(signin::staff_form).post(signin::staff_check))
        .route("/signout", post(signin::sign_out))
        .route("/me", get(citizen::home))
        .route("/me/register", post(citizen::register))
        .route("/me/card/{id}", get(citizen::card))
        .route("/me/invitations/{id}/answer", post(vaccination::answer))
        .route("/doses/{id}/certificate", get(certificates::dose_certificate))
        .route("/verify", get(certificates::verify_form).post(certificates::verify))
        .route("/vaccination", get(vaccination::home))
        .route("/vaccination/coverage", get(vaccination::coverage))
        .route("/vaccination/sessions/{id}", get(vaccination::session))
        .route("/vaccination/sessions/{id}/allocate", post(vaccination::allocate))
        .route("/vaccination/sites/{id}", get(vaccination::vaccinate))
        .route("/vaccination/sites/{id}/doses", post(vaccination::record_dose))
        .route("/vaccination/sites/{id}/camera-mode", post(vaccination::start_camera_mode))
        .route("/camera-mode/leave", post(vaccination::leave_camera_mode))
        .route("/staff", get(staff::home))
        .route("/people", get(staff::search))
        .route("/people/new", get(staff::new_form).post(staff::create))
        .route("/people/{id}", get(staff::person))
        .route("/people/{id}/edit", get(staff::edit_form).post(staff::update))
        .route("/people/{id}/card", get(staff::card))
        .route("/people/{id}/qr/reissue", post(staff::reissue_qr))
        .route("/q/{token}", get(staff::scan))
        .route("/q/{token}/checkin", post(venues::scan_confirm))
        .route("/venues", get(venues::list))
        .route("/venues/new", get(venues::new_form).post(venues::create))
        .route("/venues/{code}", get(venues::page))
        .route("/venues/{code}/active", post(venues::set_active))
        .route("/venues/{code}/checkin", post(venues::check_in_visitor))
        .route("/venues/{code}/checkin-mode", post(venues::start_checkin_mode))
        .route("/venues/{code}/poster", get(venues::poster))
        .route("/venues/{code}/visitors", get(venues::visitors))
        .route("/checkin-mode/leave", post(venues::leave_checkin_mode))
        .route("/v/{code}", get(checkin::page))
        .route("/v/{code}/checkin", post(checkin::check_in))
        .route("/v/{code}/declare", post(checkin::declare_at))
        .route("/declare", get(checkin::declare_form).post(checkin::declare))
        .route("/me/diary", get(diary::diary))
        .route("/me/diary/checkout", post(diary::check_out))
        .route("/declarations", get(diary::flagged))
        .route("/testing", get(testing::home))
        .route("/testing/sessions", post(testing::open_session))
        .route("/testing/sessions/{id}", get(testing::session))
        .route("/testing/sessions/{id}/specimens", post(testing::take_specimen))
        .route("/testing/sessions/{id}/sampling-mode", post(testing::start_sampling_mode))
        .route("/testing/sessions/{id}/close", post(testing::close_session))
        .route("/testing/pools/{barcode}/close", post(testing::close_pool))
        .route("/testing/labels/{barcode}", get(testing::label))
        .route("/sampling-mode/leave", post(testing::leave_sampling_mode))
        .route("/q/{token}/specimen", post(testing::scan_take))
        .route("/lab", get(testing::lab))
        .route("/lab/tubes/{barcode}", get(testing::tube))
        .route("/lab/tubes/{barcode}/steps", post(testing::tube_step))
        .route("/lab/tubes/{barcode}/result", post(testing::tube_result))
        .route("/cases", get(testing::cases))
        .route("/cases/{id}", get(tracing_pages::case))
        .route("/cases/{id}/trace", get(tracing_pages::back_to_case).post(tracing_pages::trace))
        .route("/cases/{id}/status", get(tracing_pages::back_to_case).post(tracing_pages::set_case_status))
        .route("/cases/{id}/contacts", get(tracing_pages::back_to_case).post(tracing_pages::name_contact))
        .route("/cases/{id}/chain", get(tracing_pages::chain))
        .route("/clusters", get(tracing_pages::clusters))
        .route("/tracing", get(tracing_pages::queue))
        .route("/zoning", get(zoning::home))
        .route("/zoning/exposures", get(zoning::back_home).post(zoning::declare_exposure))
        .route("/zoning/exposures/{id}", get(zoning::exposure))
        .route("/zoning/exposures/{id}/contacts/{contact}", post(zoning::move_contact))
        .route("/zoning/restrictions", get(zoning::back_home).post(zoning::declare_restriction))
        .route("/zoning/restrictions/{id}", get(zoning::restriction))
        .route("/zoning/restrictions/{id}/lift", post(zoning::lift))
        .route("/tracing/bulk", get(tracing_pages::back_to_queue).post(tracing_pages::move_many))
        .route("/tracing/contacts/{id}", get(tracing_pages::back_to_queue).post(tracing_pages::move_contact))
        .route("/testing/dashboard", get(dashboard::dashboard))
        .route("/lookup", get(dashboard::lookup_form))
        // A language switch on an answer page reloads with GET: it starts the look-up again.
        .route("/lookup/code", get(dashboard::lookup_form).post(dashboard::lookup_code))
        .route("/lookup/results", get(dashboard::lookup_form).post(dashboard::lookup_results))
        .route("/admin/units", get(admin::units))
        .route("/admin/units/{code}/children", post(admin::add_unit))
        .route("/admin/units/population", post(admin::import_population))
        .route("/admin/accounts", get(admin::accounts).post(admin::create_account))
        .route("/admin/audit", get(admin::audit))
        .merge(assets::router())
        .layer(axum::middleware::from_fn_with_state(state, page_cookies))
}

/// The CSRF token and language chosen for this request, when the middleware set them now.
#[derive(Clone)]
struct Chosen {
    csrf: Option<String>,
    lang: Option<Lang>,
}

/// Gives every visitor a CSRF cookie, and remembers `?lang=` in a cookie.
async fn page_cookies(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let secure = state.secure_cookies;
    let csrf =
        cookies::get(request.headers(), cookies::CSRF).is_none().then(|| outbreak_services::auth::random_token(24));
    let lang = request.uri().query().and_then(|q| {
        q.split('&').find_map(|pair| match pair {
            "lang=en" => Some(Lang::En),
            "lang=vi" => Some(Lang::Vi),
            _ => None,
        })
    });
    request.extensions_mut().insert(Chosen { csrf: csrf.clone(), lang });
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(csrf) = csrf {
        headers.append(header::SET_COOKIE, cookies::set(cookies::CSRF, &csrf, 30 * 86_400, secure));
    }
    if let Some(lang) = lang {
        headers.append(header::SET_COOKIE, cookies::set(cookies::LANG, lang.code(), 365 * 86_400, secure));
    }
    response
}

/// What every page template needs: the language, the CSRF token for forms, and who is
/// signed in (for the header).
pub struct PageContext {
    pub lang: Lang,
    pub csrf: String,
    /// The staff username or citizen phone, when signed in.
    pub signed_in: Option<String>,
    pub is_staff: bool,
    pub is_admin: bool,
}

impl PageContext {
    pub fn from_parts(parts: &Parts) -> PageContext {
        let chosen = parts.extensions.get::<Chosen>();
        let csrf = chosen
            .and_then(|c| c.csrf.clone())
            .or_else(|| cookies::get(&parts.headers, cookies::CSRF).map(str::to_owned))
            .unwrap_or_default();
        PageContext { lang: Lang::from_parts(parts), csrf, signed_in: None, is_staff: false, is_admin: false }
    }

    /// A context that only speaks a language: the other column of a bilingual page.
    pub fn texts_only(lang: Lang) -> PageContext {
        PageContext { lang, csrf: String::new(), signed_in: None, is_staff: false, is_admin: false }
    }

    pub fn with_caller(mut self, caller: Option<&Caller>) -> PageContext {
        if let Some(caller) = caller {
            self.signed_in = Some(match &caller.principal {
                Principal::Citizen { phone } => phone.national(),
                Principal::Staff { username, .. } => username.clone(),
            });
            self.is_staff = matches!(caller.principal, Principal::Staff { .. });
            self.is_admin = !caller.principal.jurisdiction(outbreak_domain::Permission::ManageAccounts).is_empty();
        }
        self
    }

    /// The text for `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        i18n::text(self.lang, key)
    }

    /// A role's name in the page's language.
    pub fn role(&self, role: &outbreak_domain::Role) -> &'static str {
        i18n::text(self.lang, &format!("role_{}", role.as_str()))
    }

    /// The other language, for the switch in the header.
    pub fn other_lang(&self) -> &'static str {
        match self.lang {
            Lang::Vi => "en",
            Lang::En => "vi",
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageContext::from_parts(parts))
    }
}

/// Renders a template into a response; a template that fails to render is a bug, logged.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page failed to render").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ctx: PageContext,
    status: u16,
    /// What kind of problem it is and what to do, in the page's language.
    summary: &'static str,
    message: &'a str,
}

pub fn error_page(lang: Lang, status: StatusCode, message: &str) -> Response {
    let ctx = PageContext { lang, csrf: String::new(), signed_in: None, is_staff: false, is_admin: false };
    // Services explain a refusal in English; the page leads with its kind in the visitor's
    // language, then gives those words.
    let summary = match status.as_u16() {
        403 => ctx.t("error_403"),
        404 => ctx.t("error_404"),
        409 => ctx.t("error_409"),
        429 => ctx.t("error_429"),
        500.. => ctx.t("error_500"),
        _ => ctx.t("error_400"),
    };
    render(&ErrorPage { ctx, status: status.as_u16(), summary, message })
}

/// Dates and times as pages show them: in Vietnam's time zone (UTC+7, no daylight saving).
pub fn local_time(at: time::OffsetDateTime) -> String {
    let local = at.to_offset(time::macros::offset!(+7));
    format!(
        "{:02}/{:02}/{} {:02}:{:02}",
        local.day(),
        u8::from(local.month()),
        local.year(),
        local.hour(),
        local.minute()
    )
}

/// A stored phone number as people write it at home (`0912345678`); anything else as it is.
pub(super) fn phone_text(stored: &str) -> String {
    outbreak_domain::Phone::parse("phone", stored).map(|p| p.national()).unwrap_or_else(|_| stored.to_owned())
}

/// A unit as staff pages name it: "Khu phố 1 (26740.KP1)", the code telling apart the many
/// units of one name; the code alone when no unit has it (the page still shows the rest).
pub(super) async fn unit_label(state: &AppState, code: &str) -> String {
    match state.services.unit(code).await {
        Ok(unit) => format!("{} ({})", unit.name, unit.code),
        Err(_) => code.to_owned(),
    }
}

/// The labels of the units a list mentions, each looked up once.
pub(super) async fn unit_labels(state: &AppState, codes: Vec<&str>) -> std::collections::HashMap<String, String> {
    let mut labels = std::collections::HashMap::new();
    for code in codes {
        if !labels.contains_key(code) {
            labels.insert(code.to_owned(), unit_label(state, code).await);
        }
    }
    labels
}

/// A day as people in Vietnam write it: 15/08/2021.
pub(super) fn date_text(day: time::Date) -> String {
    format!("{:02}/{:02}/{}", day.day(), u8::from(day.month()), day.year())
}

/// A date of birth as people write it: the day (12/05/1990) for a stored `1990-05-12`, the
/// year alone when only the year is known.
pub(super) fn birth_text(stored: &str) -> String {
    let iso = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(stored, iso).map(date_text).unwrap_or_else(|_| stored.to_owned())
}

/// A page with personal data: browsers and proxies must not keep it.
pub(super) fn private(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What a person is told about a failed action: the API's message, which hides internals.
pub fn user_message(error: outbreak_services::ServiceError) -> String {
    crate::error::ApiError::from(error).detail.message
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn dates_phones_and_births_read_as_people_write_them() {
        assert_eq!(date_text(date!(2021 - 08 - 15)), "15/08/2021");
        assert_eq!(birth_text("1990-05-12"), "12/05/1990");
        assert_eq!(birth_text("1950"), "1950");
        assert_eq!(phone_text("+84912345678"), "0912345678");
        assert_eq!(phone_text("not a phone"), "not a phone");
    }
}
