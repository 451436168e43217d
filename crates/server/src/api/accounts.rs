//! Staff and system accounts, their roles, and API tokens (admins, within jurisdiction).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use outbreak_domain::Grant;
use outbreak_services::accounts::{AccountRequest, GrantRequest};
use outbreak_store::{Account, ApiToken};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ErrorBody;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiCaller, ApiJson, ApiPath};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(set_grants))
        .routes(routes!(set_disabled))
        .routes(routes!(tokens, issue_token))
        .routes(routes!(revoke_token))
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    id: Uuid,
    /// `user` (signs in with a password) or `system` (uses API tokens).
    kind: String,
    username: String,
    display_name: String,
    disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    grants: Vec<Grant>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            id: a.id,
            kind: a.kind.as_str().into(),
            username: a.username,
            display_name: a.display_name,
            disabled: a.disabled,
            created_at: a.created_at,
            grants: a.grants,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewAccountBody {
    username: String,
    display_name: String,
    /// At least 10 characters; omit for a system account.
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    system: bool,
    grants: Vec<GrantBody>,
}

#[derive(Deserialize, ToSchema)]
pub struct GrantBody {
    /// `admin`, `health_officer`, `tracer`, `sampler`, `lab_technician`, `vaccinator`,
    /// `organisation_manager` or `venue_owner`.
    role: String,
    /// The unit code the role covers, with everything below it.
    unit: String,
}

#[derive(Deserialize, ToSchema)]
pub struct DisabledBody {
    disabled: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct NewTokenBody {
    /// What the token is for (`gate system, market 3`).
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    id: Uuid,
    name: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<OffsetDateTime>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView { id: t.id, name: t.name, created_at: t.created_at, revoked_at: t.revoked_at }
    }
}

#[derive(Serialize, ToSchema)]
pub struct IssuedTokenView {
    id: Uuid,
    /// Shown once: keep it safe. Send it as `Authorization: Bearer <secret>`.
    secret: String,
}

fn grants(body: Vec<GrantBody>) -> Vec<GrantRequest> {
    body.into_iter().map(|g| GrantRequest { role: g.role, unit: g.unit }).collect()
}

/// Accounts holding roles inside the caller's jurisdiction.
#[utoipa::path(get, path = "/accounts", tag = "accounts",
    responses((status = 200, body = [AccountView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn list(State(state): State<AppState>, ApiCaller(caller): ApiCaller) -> Result<Json<Vec<AccountView>>, ApiError> {
    Ok(Json(state.services.list_accounts(&caller).await?.into_iter().map(Into::into).collect()))
}

/// Creates a staff or system account with roles inside the caller's jurisdiction.
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = NewAccountBody,
    responses((status = 201, body = AccountView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn create(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<NewAccountBody>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let request = AccountRequest {
        username: body.username,
        display_name: body.display_name,
        password: body.password,
        system: body.system,
        grants: grants(body.grants),
    };
    Ok((StatusCode::CREATED, Json(state.services.create_account(&caller, &request).await?.into())))
}

/// Replaces an account's roles.
#[utoipa::path(put, path = "/accounts/{id}/grants", tag = "accounts", params(("id" = Uuid, Path)), request_body = [GrantBody],
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn set_grants(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Vec<GrantBody>>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(state.services.set_grants(&caller, id, &grants(body)).await?.into()))
}

/// Disables or re-enables an account; a disabled account's sessions and tokens stop working.
#[utoipa::path(put, path = "/accounts/{id}/disabled", tag = "accounts", params(("id" = Uuid, Path)), request_body = DisabledBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn set_disabled(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<DisabledBody>,
) -> Result<StatusCode, ApiError> {
    state.services.set_account_disabled(&caller, id, body.disabled).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A system account's API tokens (secrets are never shown again).
#[utoipa::path(get, path = "/accounts/{id}/tokens", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 200, body = [TokenView]), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn tokens(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    Ok(Json(state.services.api_tokens(&caller, id).await?.into_iter().map(Into::into).collect()))
}

/// Issues an API token for a system account; the secret is in this answer only.
#[utoipa::path(post, path = "/accounts/{id}/tokens", tag = "accounts", params(("id" = Uuid, Path)), request_body = NewTokenBody,
    responses((status = 201, body = IssuedTokenView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn issue_token(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<(StatusCode, Json<IssuedTokenView>), ApiError> {
    let issued = state.services.issue_api_token(&caller, id, &body.name).await?;
    Ok((StatusCode::CREATED, Json(IssuedTokenView { id: issued.id, secret: issued.secret })))
}

/// Revokes an API token at once.
#[utoipa::path(delete, path = "/accounts/{id}/tokens/{token_id}", tag = "accounts",
    params(("id" = Uuid, Path), ("token_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn revoke_token(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, token_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state.services.revoke_api_token(&caller, id, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
