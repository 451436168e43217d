//! How failures reach the caller. One domain error ([`ServiceError`]), two faces: the API
//! answers `{"error": {"code", "message", "field"}}` with the right status; the pages show
//! the message on a page, or send a signed-out visitor to sign in. Internal errors are
//! logged in full and shown only as a generic sentence.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_services::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `invalid_format`, `conflict`, `not_found`, `forbidden`, …
    pub code: String,
    /// For people: what was wrong and what to do.
    pub message: String,
    /// The input field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// On a conflict, the id of the record that already holds the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<String>,
}

/// An error answered as JSON.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: ErrorDetail,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>, field: Option<&str>) -> ApiError {
        ApiError {
            status,
            detail: ErrorDetail {
                code: code.into(),
                message: message.into(),
                field: field.map(Into::into),
                existing_id: None,
            },
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        let (status, code, message, field, existing_id) = match error {
            ServiceError::Invalid(invalid) => {
                (StatusCode::UNPROCESSABLE_ENTITY, invalid.code.to_owned(), invalid.message, Some(invalid.field), None)
            }
            ServiceError::Conflict { field, message, existing } => {
                (StatusCode::CONFLICT, "conflict".into(), message, Some(field), existing)
            }
            ServiceError::NotFound(what) => {
                (StatusCode::NOT_FOUND, "not_found".into(), format!("{what} not found"), None, None)
            }
            ServiceError::Unauthenticated(message) => {
                (StatusCode::UNAUTHORIZED, "unauthenticated".into(), message, None, None)
            }
            ServiceError::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden".into(), message, None, None),
            ServiceError::RateLimited { message, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into(), message, None, None)
            }
            ServiceError::Internal(message) => {
                tracing::error!(%message, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal".into(),
                    "something went wrong on our side; try again later".into(),
                    None,
                    None,
                )
            }
        };
        ApiError { status, detail: ErrorDetail { code, message, field, existing_id } }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.detail })).into_response()
    }
}

/// An error on a web page: a sign-in redirect, or a page that explains it.
#[derive(Debug)]
pub enum PageError {
    SignIn { staff: bool },
    Show { status: StatusCode, message: String, lang: crate::pages::Lang },
}

impl PageError {
    pub fn from_service(error: ServiceError, lang: crate::pages::Lang) -> PageError {
        let api = ApiError::from(error);
        if api.status == StatusCode::UNAUTHORIZED {
            return PageError::SignIn { staff: false };
        }
        PageError::Show { status: api.status, message: api.detail.message, lang }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { staff: true } => Redirect::to("/staff/signin").into_response(),
            PageError::SignIn { staff: false } => Redirect::to("/signin").into_response(),
            PageError::Show { status, message, lang } => {
                (status, crate::pages::error_page(lang, status, &message)).into_response()
            }
        }
    }
}

/// A handler panicked: answer 500 without taking the server down.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on our side; try again later",
        None,
    )
    .into_response()
}
