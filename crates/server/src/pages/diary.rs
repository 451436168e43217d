//! The citizen's diary (their check-ins and declarations of the last 21 days, with
//! check-out) and the commune health station's list of flagged declarations.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_store::Declaration;
use serde::Deserialize;

use super::checkin::symptom_labels;
use super::{PageContext, local_time, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CitizenCaller, CsrfForm, StaffCaller};

/// How far back the health station's list reaches.
const STATION_DAYS: i64 = 3;

pub struct VisitRow {
    pub id: i64,
    pub venue_name: String,
    pub venue_code: String,
    pub who: String,
    pub at: String,
    pub until: String,
    /// The visit's end is still ahead, so the visitor can check out.
    pub open: bool,
}

pub struct DeclarationRow {
    pub at: String,
    pub venue: String,
    pub symptoms: String,
    pub f0_contact: bool,
    pub flagged: bool,
    pub places: String,
    pub movement: String,
    pub phone: String,
}

impl DeclarationRow {
    fn new(ctx: &PageContext, d: &Declaration) -> DeclarationRow {
        let r = &d.record;
        let movement = match (&r.move_from, &r.move_to) {
            (Some(from), Some(to)) => {
                let date = r.move_date.map(|d| d.to_string()).unwrap_or_default();
                format!("{from} → {to} {date} {}", r.vehicle).trim().to_owned()
            }
            _ => String::new(),
        };
        DeclarationRow {
            at: local_time(r.at),
            venue: d.venue_name.clone().unwrap_or_default(),
            symptoms: symptom_labels(ctx, &r.symptoms),
            f0_contact: r.f0_contact,
            flagged: r.flagged,
            places: r.places_visited.clone(),
            movement,
            phone: r.phone.as_ref().map(|p| p.national()).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "diary.html")]
struct Diary {
    ctx: PageContext,
    visits: Vec<VisitRow>,
    declarations: Vec<DeclarationRow>,
}

#[derive(Template)]
#[template(path = "declarations.html")]
struct Station {
    ctx: PageContext,
    rows: Vec<DeclarationRow>,
}

pub async fn diary(
    State(state): State<AppState>,
    ctx: PageContext,
    CitizenCaller(caller): CitizenCaller,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (mut checkins, declarations) =
        state.services.diary(&caller).await.map_err(|e| PageError::from_service(e, lang))?;
    checkins.sort_by_key(|c| std::cmp::Reverse(c.at));
    let now = outbreak_domain::now();
    let ctx = ctx.with_caller(Some(&caller));
    let visits = checkins
        .iter()
        .map(|c| VisitRow {
            id: c.id,
            venue_name: c.venue_name.clone(),
            venue_code: c.venue_code.clone(),
            who: c.name.clone(),
            at: local_time(c.at),
            until: local_time(c.until),
            open: c.until > now,
        })
        .collect();
    let declarations = declarations.iter().map(|d| DeclarationRow::new(&ctx, d)).collect();
    Ok(render(&Diary { ctx, visits, declarations }))
}

#[derive(Deserialize)]
pub struct CheckOutInput {
    checkin: i64,
}

pub async fn check_out(
    State(state): State<AppState>,
    ctx: PageContext,
    CitizenCaller(caller): CitizenCaller,
    CsrfForm(input): CsrfForm<CheckOutInput>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    state.services.check_out(&caller, input.checkin).await.map_err(|e| PageError::from_service(e, lang))?;
    Ok(Redirect::to("/me/diary").into_response())
}

/// Flagged declarations in the staff member's units, newest first (audited by the services).
pub async fn flagged(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let since = outbreak_domain::now() - time::Duration::days(STATION_DAYS);
    let mut found =
        state.services.flagged_declarations(&caller, since).await.map_err(|e| PageError::from_service(e, lang))?;
    found.sort_by(|a, b| b.record.at.cmp(&a.record.at).then(b.id.cmp(&a.id)));
    let ctx = ctx.with_caller(Some(&caller));
    let rows = found.iter().map(|d| DeclarationRow::new(&ctx, d)).collect();
    Ok(render(&Station { ctx, rows }))
}
