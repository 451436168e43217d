//! Sign-in pages: citizens by phone and one-time code, staff by username and password.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_services::ServiceError;
use serde::Deserialize;

use super::checkin::problem;
use super::{PageContext, render};
use crate::AppState;
use crate::api_session::session_cookies;
use crate::cookies;
use crate::extract::{CsrfForm, client_address};

#[derive(Template)]
#[template(path = "signin_phone.html")]
struct PhoneForm {
    ctx: PageContext,
    phone: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "signin_code.html")]
struct CodeForm {
    ctx: PageContext,
    phone: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "staff_signin.html")]
struct StaffForm {
    ctx: PageContext,
    username: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct PhoneInput {
    phone: String,
}

#[derive(Deserialize)]
pub struct CodeInput {
    phone: String,
    code: String,
}

#[derive(Deserialize)]
pub struct StaffInput {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct NextParam {
    #[serde(default)]
    next: String,
    #[serde(default)]
    phone: String,
}

pub async fn phone_form(ctx: PageContext) -> Response {
    render(&PhoneForm { ctx, phone: String::new(), error: None })
}

pub async fn send_code(
    State(state): State<AppState>,
    ctx: PageContext,
    parts: Parts,
    CsrfForm(input): CsrfForm<PhoneInput>,
) -> Response {
    let client = client_address(&parts, &state);
    match state.services.request_otp(&input.phone, &client).await {
        Ok(phone) => Redirect::to(&format!("/signin/code?phone={}", phone.national())).into_response(),
        Err(e) => {
            let error = Some(problem(&ctx, e).message);
            render(&PhoneForm { ctx, phone: input.phone, error })
        }
    }
}

pub async fn code_form(ctx: PageContext, Query(params): Query<NextParam>) -> Response {
    render(&CodeForm { ctx, phone: params.phone, error: None })
}

pub async fn check_code(
    State(state): State<AppState>,
    ctx: PageContext,
    CsrfForm(input): CsrfForm<CodeInput>,
) -> Response {
    match state.services.verify_otp(&input.phone, &input.code).await {
        Ok(signed_in) => {
            let mut response = Redirect::to("/me").into_response();
            session_cookies(&state, &signed_in, response.headers_mut());
            response
        }
        // A wrong or expired code is the one refusal here; say it in the page's language.
        Err(ServiceError::Unauthenticated(_)) => {
            let error = Some(ctx.t("signin_code_wrong").to_owned());
            render(&CodeForm { ctx, phone: input.phone, error })
        }
        Err(e) => {
            let error = Some(problem(&ctx, e).message);
            render(&CodeForm { ctx, phone: input.phone, error })
        }
    }
}

pub async fn staff_form(ctx: PageContext, Query(params): Query<NextParam>) -> Response {
    render(&StaffForm { ctx, username: String::new(), next: params.next, error: None })
}

/// A local path to return to after sign-in; anything else (another site) is ignored.
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next } else { "/staff" }
}

pub async fn staff_check(
    State(state): State<AppState>,
    ctx: PageContext,
    CsrfForm(input): CsrfForm<StaffInput>,
) -> Response {
    match state.services.staff_sign_in(&input.username, &input.password).await {
        Ok(signed_in) => {
            let mut response = Redirect::to(local_path(&input.next)).into_response();
            session_cookies(&state, &signed_in, response.headers_mut());
            response
        }
        Err(e) => {
            render(&StaffForm { ctx, username: input.username, next: input.next, error: Some(super::user_message(e)) })
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn sign_out(State(state): State<AppState>, parts: Parts, CsrfForm(_): CsrfForm<Empty>) -> Response {
    if let Some(token) = cookies::get(&parts.headers, cookies::SESSION)
        && let Err(e) = state.services.sign_out(token).await
    {
        tracing::warn!(error = %e, "sign-out failed");
    }
    let mut response = Redirect::to("/").into_response();
    for name in [cookies::SESSION, cookies::VENUE] {
        response.headers_mut().append(header::SET_COOKIE, cookies::set(name, "", 0, state.secure_cookies));
    }
    response
}
