//! The JSON API under `/api/v1`. Each resource has its own module; the router and the
//! OpenAPI document are built together from the same handler list, so one cannot drift
//! from the other.

mod accounts;
mod audit;
mod auth;
mod certificates;
mod people;
mod testing;
mod tracing;
mod units;
mod vaccination;
mod venues;
mod zoning;

pub use audit::AuditParams;

use axum::Json;
use axum::http::StatusCode;
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::error::ApiError;

/// Largest API request body: people and accounts are small; population files are not huge.
const BODY_LIMIT: usize = 8 * 1024 * 1024;
/// Largest uploaded results or registration file (and a little room around it).
const UPLOAD_LIMIT: usize = outbreak_services::testing::MAX_UPLOAD_BYTES + 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Outbreak API", version = "1", description = "Epidemic response: people, units, accounts. \
        Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`. Systems authenticate with \
        `Authorization: Bearer <API token>`; browsers with the session cookie plus `X-CSRF-Token` on changes."),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Signing in and out"),
        (name = "people", description = "People and their personal QR"),
        (name = "units", description = "Administrative units"),
        (name = "accounts", description = "Staff and system accounts, API tokens"),
        (name = "audit", description = "The audit log"),
        (name = "venues", description = "Venues, check-ins and health declarations"),
        (name = "testing", description = "Sampling, pools, lab results, cases, results online, dashboards"),
        (name = "tracing", description = "Contact tracing: a case's F1 and F2 contacts, the tracers' queue and follow-up"),
        (name = "certificates", description = "EU Digital COVID Certificates: the trust list and a verifier"),
        (name = "zoning", description = "Narrow zoning: venues declared exposed for a time window and their contacts; units under restriction and the residents and venues inside them"),
        (name = "vaccination", description = "Vaccination: organisations and registrations, sessions and invitations, doses, coverage"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("ob_session"))));
    }
}

fn documented() -> OpenApiRouter<AppState> {
    let ordinary = OpenApiRouter::new()
        .merge(auth::router())
        .merge(people::router())
        .merge(units::router())
        .merge(accounts::router())
        .merge(audit::router())
        .merge(venues::router())
        .merge(testing::router())
        .merge(tracing::router())
        .merge(zoning::router())
        .merge(certificates::router())
        .merge(vaccination::router())
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    let uploads =
        testing::upload_router().merge(vaccination::upload_router()).layer(RequestBodyLimitLayer::new(UPLOAD_LIMIT));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(ordinary).merge(uploads)
}

/// The OpenAPI document of the API, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut openapi) = documented().split_for_parts();
    openapi.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    openapi
}

pub fn router() -> axum::Router<AppState> {
    let (router, _) = documented().split_for_parts();
    let document = openapi();
    router
        .route("/openapi.json", get(move || async move { Json(document) }))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such API endpoint; see /api/v1/openapi.json", None)
        })
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// Documented error answers, shared by the handlers' `responses(...)`.
pub(crate) type ErrorBody = crate::error::ErrorBody;
