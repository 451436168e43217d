//! Extractors: who is calling (an API token, a session cookie, or nobody), from where, and
//! request bodies parsed with errors a person can act on. Authentication lives here and
//! only here; authorisation lives in the services.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use outbreak_domain::Principal;
use outbreak_services::Caller;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::cookies;
use crate::error::{ApiError, PageError};
use crate::pages::{Lang, PageContext};

/// The client's address: the connection's, or the first `X-Forwarded-For` hop behind a
/// trusted proxy.
pub fn client_address(parts: &Parts, state: &AppState) -> String {
    if state.trust_proxy
        && let Some(forwarded) = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(first) = forwarded.split(',').next().map(str::trim).filter(|s| !s.is_empty())
    {
        return first.to_owned();
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The caller of an API endpoint: a system by `Authorization: Bearer`, or a signed-in
/// browser by its session cookie — which, for changes, must also send the CSRF token in
/// `X-CSRF-Token`, so another site cannot make the browser act.
pub struct ApiCaller(pub Caller);

impl<S> FromRequestParts<S> for ApiCaller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let client = client_address(parts, &state);
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "use Authorization: Bearer <API token>",
                    None,
                )
            })?;
            return Ok(ApiCaller(state.services.token_caller(token.trim(), &client).await?));
        }
        let unauthenticated =
            || ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in, or send an API token", None);
        let token = cookies::get(&parts.headers, cookies::SESSION).ok_or_else(unauthenticated)?;
        let caller = state.services.session_caller(token, &client).await?.ok_or_else(unauthenticated)?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let expected = cookies::get(&parts.headers, cookies::CSRF);
            let sent = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
            if expected.is_none() || expected != sent {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "send the X-CSRF-Token header with the ob_csrf cookie's value",
                    None,
                ));
            }
        }
        Ok(ApiCaller(caller))
    }
}

/// An API route's path parameters. One that does not parse names nothing: the answer is
/// the API's JSON not-found error, saying which parameter was wrong, not axum's plain text.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("nothing at this address: {}", rejection.body_text()),
                None,
            )),
        }
    }
}

/// A JSON body, refused with a message that says what was wrong with it.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde names the path of the field at fault: "full_name: invalid type …".
            let text = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.body_text());
            let field = text.split_once(": ").map(|(path, _)| path.to_owned()).filter(|p| !p.contains(' '));
            let missing =
                text.split("missing field `").nth(1).and_then(|rest| rest.split('`').next()).map(str::to_owned);
            let field = missing.or(field);
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the JSON does not fit: {text}"),
                field.as_deref(),
            )
        }
        JsonRejection::JsonSyntaxError(e) => {
            let text = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.body_text());
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON (UTF-8): {text}"),
                None,
            )
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
            None,
        ),
        other => {
            let status = other.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid_body" };
            ApiError::new(status, code, other.body_text(), None)
        }
    }
}

/// A page's path parameters. One that does not parse (an id cut short when a link was
/// copied, say) names no page: the visitor gets the not-found page in their language, not
/// the parser's words.
pub struct PagePath<T>(pub T);

impl<T, S> FromRequestParts<S> for PagePath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PagePath(value)),
            Err(_) => {
                let lang = Lang::from_parts(parts);
                let message = PageContext::texts_only(lang).t("bad_link").to_owned();
                Err(PageError::Show { status: StatusCode::NOT_FOUND, message, lang })
            }
        }
    }
}

/// Whoever is signed in on a web page, if anyone.
pub struct MaybeCaller(pub Option<Caller>);

impl<S> FromRequestParts<S> for MaybeCaller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let Some(token) = cookies::get(&parts.headers, cookies::SESSION) else { return Ok(MaybeCaller(None)) };
        let client = client_address(parts, &state);
        let lang = Lang::from_parts(parts);
        let caller =
            state.services.session_caller(token, &client).await.map_err(|e| PageError::from_service(e, lang))?;
        Ok(MaybeCaller(caller))
    }
}

/// A signed-in staff member; anyone else is sent to the staff sign-in page.
pub struct StaffCaller(pub Caller);

impl<S> FromRequestParts<S> for StaffCaller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match MaybeCaller::from_request_parts(parts, state).await?.0 {
            Some(caller) if matches!(caller.principal, Principal::Staff { .. }) => Ok(StaffCaller(caller)),
            _ => Err(PageError::SignIn { staff: true }),
        }
    }
}

/// A signed-in citizen; anyone else is sent to the citizen sign-in page.
pub struct CitizenCaller(pub Caller);

impl<S> FromRequestParts<S> for CitizenCaller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match MaybeCaller::from_request_parts(parts, state).await?.0 {
            Some(caller) if matches!(caller.principal, Principal::Citizen { .. }) => Ok(CitizenCaller(caller)),
            _ => Err(PageError::SignIn { staff: false }),
        }
    }
}

/// A submitted page form whose `csrf` field matches the visitor's CSRF cookie.
pub struct CsrfForm<T>(pub T);

impl<T, S> FromRequest<S> for CsrfForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let context = PageContext::from_parts(&parts);
        let refuse = |status: StatusCode, message: &str| PageError::Show {
            status,
            message: message.to_owned(),
            lang: context.lang,
        };
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"))?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| refuse(StatusCode::BAD_REQUEST, "the form could not be read"))?;
        let sent = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
        if context.csrf.is_empty() || sent != Some(context.csrf.as_str()) {
            return Err(refuse(StatusCode::FORBIDDEN, "this form has expired; go back, reload the page and try again"));
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|e| refuse(StatusCode::UNPROCESSABLE_ENTITY, &format!("the form could not be read: {e}")))
    }
}

/// The API caller when the request carries credentials, `None` when it carries none;
/// credentials that do not check out are still refused.
pub struct MaybeApiCaller(pub Option<Caller>);

impl<S> FromRequestParts<S> for MaybeApiCaller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.headers.get(header::AUTHORIZATION).is_none()
            && cookies::get(&parts.headers, cookies::SESSION).is_none()
        {
            return Ok(MaybeApiCaller(None));
        }
        ApiCaller::from_request_parts(parts, state).await.map(|ApiCaller(caller)| MaybeApiCaller(Some(caller)))
    }
}
