//! Admin pages: browse units and add neighbourhoods and households, import population,
//! manage accounts, read the audit log.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_domain::{Permission, Role, Unit};
use outbreak_services::accounts::{AccountRequest, GrantRequest};
use serde::Deserialize;

use super::{PageContext, local_time, render, user_message};
use crate::AppState;
use crate::api::AuditParams;
use crate::error::PageError;
use crate::extract::{CsrfForm, PagePath, StaffCaller};

#[derive(Template)]
#[template(path = "admin_units.html")]
struct Units {
    ctx: PageContext,
    unit: Unit,
    trail: Vec<(String, String)>,
    children: Vec<Unit>,
    can_add: bool,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct UnitParams {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

pub async fn units(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(params): Query<UnitParams>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let page_error = |e| PageError::from_service(e, lang);
    let code = params.code.unwrap_or_else(|| outbreak_domain::unit::COUNTRY_CODE.to_owned());
    let unit = state.services.unit(&code).await.map_err(page_error)?;
    let children = state.services.child_units(&code).await.map_err(page_error)?;
    let mut trail = Vec::new();
    for ancestor in unit.path.trim_matches('/').split('/').filter(|c| *c != unit.code.as_str()) {
        if let Ok(a) = state.services.unit(ancestor).await {
            trail.push((a.code.to_string(), a.name));
        }
    }
    let can_add = unit.level.child_level().is_some() && caller.principal.may(Permission::ManageUnits, &unit.path);
    Ok(render(&Units {
        ctx: ctx.with_caller(Some(&caller)),
        unit,
        trail,
        children,
        can_add,
        message: params.message,
        error: params.error,
    }))
}

/// Back to a unit's page with a notice or an error in the query.
fn back_to_unit(code: &str, outcome: Result<String, String>) -> Response {
    let (key, text) = match outcome {
        Ok(message) => ("message", message),
        Err(error) => ("error", error),
    };
    let query = serde_urlencoded::to_string([("code", code), (key, text.as_str())]).unwrap_or_default();
    Redirect::to(&format!("/admin/units?{query}")).into_response()
}

#[derive(Deserialize)]
pub struct NewUnitInput {
    code: String,
    name: String,
    #[serde(default)]
    division_type: String,
}

pub async fn add_unit(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(parent): PagePath<String>,
    CsrfForm(input): CsrfForm<NewUnitInput>,
) -> Response {
    let outcome = state.services.add_child_unit(&caller, &parent, &input.code, &input.name, &input.division_type).await;
    back_to_unit(
        &parent,
        outcome.map(|u| format!("{} ({}) — {}", u.name, u.code, ctx.t("created"))).map_err(user_message),
    )
}

#[derive(Deserialize)]
pub struct PopulationInput {
    csv: String,
    #[serde(default)]
    back: String,
}

pub async fn import_population(
    State(state): State<AppState>,
    StaffCaller(caller): StaffCaller,
    CsrfForm(input): CsrfForm<PopulationInput>,
) -> Response {
    let outcome = state.services.import_population(&caller, input.csv.as_bytes()).await;
    back_to_unit(&input.back, outcome.map(|n| format!("{n} ✓")).map_err(user_message))
}

/// An account as the accounts page lists it.
pub struct AccountRow {
    username: String,
    display_name: String,
    disabled: bool,
    system: bool,
    grants: Vec<(Role, String)>,
}

#[derive(Template)]
#[template(path = "admin_accounts.html")]
struct Accounts {
    ctx: PageContext,
    accounts: Vec<AccountRow>,
    roles: [Role; 8],
    message: Option<String>,
    error: Option<String>,
}

async fn accounts_page(
    state: &AppState,
    ctx: PageContext,
    caller: &outbreak_services::Caller,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let accounts = state.services.list_accounts(caller).await.map_err(|e| PageError::from_service(e, lang))?;
    let accounts = accounts
        .into_iter()
        .map(|a| AccountRow {
            system: a.kind == outbreak_store::AccountKind::System,
            username: a.username,
            display_name: a.display_name,
            disabled: a.disabled,
            grants: a.grants.into_iter().map(|g| (g.role, g.unit.to_string())).collect(),
        })
        .collect();
    Ok(render(&Accounts { ctx: ctx.with_caller(Some(caller)), accounts, roles: Role::ALL, message, error }))
}

pub async fn accounts(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
) -> Result<Response, PageError> {
    accounts_page(&state, ctx, &caller, None, None).await
}

#[derive(Deserialize)]
pub struct NewAccountInput {
    username: String,
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    system: Option<String>,
    role: String,
    unit: String,
}

pub async fn create_account(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    CsrfForm(input): CsrfForm<NewAccountInput>,
) -> Result<Response, PageError> {
    let system = input.system.is_some();
    let request = AccountRequest {
        username: input.username,
        display_name: input.display_name,
        password: (!system).then_some(input.password),
        system,
        grants: vec![GrantRequest { role: input.role, unit: input.unit }],
    };
    match state.services.create_account(&caller, &request).await {
        Ok(account) => {
            let message = format!("{} — {}", account.username, ctx.t("created"));
            accounts_page(&state, ctx, &caller, Some(message), None).await
        }
        Err(e) => accounts_page(&state, ctx, &caller, None, Some(user_message(e))).await,
    }
}

/// An audit entry as the page shows it.
pub struct AuditRow {
    when: String,
    actor: String,
    actor_kind: String,
    action: String,
    entity: String,
    entity_id: String,
    detail: String,
    client: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct Audit {
    ctx: PageContext,
    entries: Vec<AuditRow>,
    actor: String,
    action: String,
    entity_id: String,
    older: Option<i64>,
}

pub async fn audit(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(params): Query<AuditParams>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (actor, action, entity_id) = (
        params.actor.clone().unwrap_or_default(),
        params.action.clone().unwrap_or_default(),
        params.entity_id.clone().unwrap_or_default(),
    );
    let filter = params.filter();
    let limit = filter.limit;
    let entries = state.services.audit_entries(&caller, filter).await.map_err(|e| PageError::from_service(e, lang))?;
    let older = (entries.len() as u32 >= limit).then(|| entries.last().map(|e| e.id)).flatten();
    let entries = entries
        .into_iter()
        .map(|e| AuditRow {
            when: local_time(e.at),
            actor: e.actor,
            actor_kind: e.actor_kind,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            detail: e.detail,
            client: e.client,
        })
        .collect();
    Ok(render(&Audit { ctx: ctx.with_caller(Some(&caller)), entries, actor, action, entity_id, older }))
}
