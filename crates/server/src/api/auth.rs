//! Signing in and out through the API: staff by password, citizens by one-time code. A
//! successful sign-in sets the session and CSRF cookies and returns the CSRF token too.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use outbreak_domain::{Grant, Principal};
use outbreak_services::auth::SignedIn;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ErrorBody;
use crate::AppState;
use crate::api_session::session_cookies;
use crate::cookies;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, client_address};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(staff_sign_in))
        .routes(routes!(request_code))
        .routes(routes!(verify_code))
        .routes(routes!(sign_out))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
pub struct StaffCredentials {
    username: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// A Vietnamese phone number, `0912345678` or `+84912345678`.
    phone: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CodeAnswer {
    phone: String,
    /// The six digits from the SMS.
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct CodeSent {
    /// The phone the code went to, normalised.
    phone: String,
    expires_in_seconds: u32,
}

#[derive(Serialize, ToSchema)]
pub struct SessionStarted {
    #[serde(with = "time::serde::rfc3339")]
    expires_at: time::OffsetDateTime,
    /// Send this in `X-CSRF-Token` with every change made with the session cookie.
    csrf_token: String,
    me: Me,
}

/// Who the caller is.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// `staff` or `citizen`.
    kind: String,
    /// The staff username, or the citizen's phone.
    name: String,
    grants: Vec<Grant>,
}

impl From<&Principal> for Me {
    fn from(principal: &Principal) -> Me {
        match principal {
            Principal::Citizen { phone } => Me { kind: "citizen".into(), name: phone.as_str().into(), grants: vec![] },
            Principal::Staff { username, grants, .. } => {
                Me { kind: "staff".into(), name: username.clone(), grants: grants.clone() }
            }
        }
    }
}

/// The answer to a sign-in: the session and a fresh CSRF token as cookies, and in the body.
fn session_response(state: &AppState, signed_in: SignedIn) -> Response {
    let mut headers = HeaderMap::new();
    let csrf = session_cookies(state, &signed_in, &mut headers);
    let body =
        SessionStarted { expires_at: signed_in.expires_at, csrf_token: csrf, me: Me::from(&signed_in.principal) };
    (headers, Json(body)).into_response()
}

/// Signs a staff member in with username and password.
#[utoipa::path(post, path = "/auth/staff", tag = "auth", request_body = StaffCredentials,
    responses((status = 200, body = SessionStarted), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn staff_sign_in(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StaffCredentials>,
) -> Result<Response, ApiError> {
    let signed_in = state.services.staff_sign_in(&body.username, &body.password).await?;
    Ok(session_response(&state, signed_in))
}

/// Sends a one-time sign-in code to a citizen's phone by SMS.
#[utoipa::path(post, path = "/auth/code", tag = "auth", request_body = CodeRequest,
    responses((status = 202, body = CodeSent), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn request_code(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<(StatusCode, Json<CodeSent>), ApiError> {
    let client = client_address(&parts, &state);
    let phone = state.services.request_otp(&body.phone, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(CodeSent { phone: phone.as_str().into(), expires_in_seconds: 300 })))
}

/// Signs a citizen in with the code they received.
#[utoipa::path(post, path = "/auth/code/verify", tag = "auth", request_body = CodeAnswer,
    responses((status = 200, body = SessionStarted), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn verify_code(State(state): State<AppState>, ApiJson(body): ApiJson<CodeAnswer>) -> Result<Response, ApiError> {
    let signed_in = state.services.verify_otp(&body.phone, &body.code).await?;
    Ok(session_response(&state, signed_in))
}

/// Ends the browser session.
#[utoipa::path(post, path = "/auth/signout", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn sign_out(State(state): State<AppState>, headers: HeaderMap, _caller: ApiCaller) -> Result<Response, ApiError> {
    if let Some(token) = cookies::get(&headers, cookies::SESSION) {
        state.services.sign_out(token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().append(header::SET_COOKIE, cookies::set(cookies::SESSION, "", 0, state.secure_cookies));
    Ok(response)
}

/// The signed-in caller and their roles.
#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn me(ApiCaller(caller): ApiCaller) -> Json<Me> {
    Json(Me::from(&caller.principal))
}
