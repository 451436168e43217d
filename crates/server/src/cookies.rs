//! The cookies Outbreak sets — session, CSRF token, language, and a venue's check-in mode —
//! read and written by hand (HttpOnly, SameSite=Lax, Secure behind TLS) rather than through another crate.

use axum::http::{HeaderMap, HeaderValue, header};

pub const SESSION: &str = "ob_session";
pub const CSRF: &str = "ob_csrf";
pub const LANG: &str = "ob_lang";
/// The venue whose check-in mode this phone is in: scanned personal QRs check in there.
pub const VENUE: &str = "ob_venue";
/// The sampling session this phone is in: scanned personal QRs offer to take a specimen.
pub const SAMPLING: &str = "ob_sampling";
/// The vaccination site this phone is in camera mode at: scanned personal QRs open the
/// vaccinator's screen for that person there.
pub const VACCINATING: &str = "ob_vaccinating";

/// The value of cookie `name` in the request, if present.
pub fn get<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value; `max_age` of zero deletes the cookie.
pub fn set(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}
