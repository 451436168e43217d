//! Starting a browser session, shared by the API's and the pages' sign-in: the session
//! cookie and a fresh CSRF token (a new session never inherits an old token).

use axum::http::{HeaderMap, header};
use outbreak_services::auth::SignedIn;

use crate::AppState;
use crate::cookies;

/// Adds the session and CSRF cookies to `headers`; returns the CSRF token.
pub fn session_cookies(state: &AppState, signed_in: &SignedIn, headers: &mut HeaderMap) -> String {
    let csrf = outbreak_services::auth::random_token(24);
    let max_age = (signed_in.expires_at - outbreak_domain::now()).whole_seconds();
    headers.append(header::SET_COOKIE, cookies::set(cookies::SESSION, &signed_in.token, max_age, state.secure_cookies));
    headers.append(header::SET_COOKIE, cookies::set(cookies::CSRF, &csrf, max_age, state.secure_cookies));
    csrf
}
