//! Contact-tracing pages for staff: the tracers' queue (contacts to call, their evidence and
//! due dates, one status change per row or several at once), a case's page (its status,
//! tracing on demand, its F1s and F2s, contacts it names), the transmission chain drawn as
//! an SVG graph, and the clusters of the jurisdiction by size and growth.
//!
//! Access checks and audit happen in the services; these handlers only shape the pages.

use std::collections::HashMap;
use std::fmt::Write as _;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use outbreak_domain::local_date;
use outbreak_domain::testing::{CaseId, CaseStatus};
use outbreak_domain::tracing::{ContactId, ContactKind, ContactStatus, Evidence, Stay};
use outbreak_services::checkins::VisitorId;
use outbreak_services::clusters::{CLUSTER_DAYS, Chain, ChainContact, ClusterOrder};
use outbreak_services::tracing::{NamedContact, TraceReport};
use outbreak_services::{Caller, ServiceError};
use outbreak_store::{CaseRow, Contact};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::checkin::problem;
use super::dashboard::number;
use super::i18n::Texts;
use super::{Lang, PageContext, date_text, local_time, phone_text, render, unit_label, unit_labels};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CsrfForm, PagePath, StaffCaller};

pub(super) const TEXTS: Texts = &[
    ("trace_queue_title", "Hàng đợi truy vết", "Tracers' queue"),
    (
        "trace_queue_intro",
        "Người tiếp xúc sống (hoặc gặp ca bệnh) trong phạm vi của bạn; ai hết cách ly sớm nhất ở trên.",
        "Contacts who live (or met the case) in your jurisdiction; the earliest quarantine end first.",
    ),
    ("trace_tab_open", "Đang theo dõi", "Open"),
    ("trace_no_contacts", "Không có người tiếp xúc nào ở đây.", "No contacts here."),
    ("trace_bulk_title", "Chuyển nhiều người cùng lúc", "Move several at once"),
    (
        "trace_bulk_help",
        "Đánh dấu người tiếp xúc trong bảng, chọn trạng thái rồi bấm Chuyển. Người nào không chuyển được sẽ được báo riêng.",
        "Tick contacts in the table, choose a status and press Move. Anyone who cannot be moved is reported by name.",
    ),
    ("trace_bulk_apply", "Chuyển", "Move"),
    ("trace_bulk_none", "Chưa đánh dấu người tiếp xúc nào.", "No contacts were ticked."),
    ("trace_moved", "Đã chuyển", "Moved"),
    ("trace_refused", "Không chuyển được", "Not moved"),
    ("trace_now", "Truy vết ngay", "Trace now"),
    (
        "trace_now_help",
        "Tìm lại F1 và F2 từ các lượt check-in và hộ gia đình; chỉ thêm người mới, không bao giờ trùng.",
        "Looks for F1 and F2 again in check-ins and households; only new people are added, never twice.",
    ),
    ("trace_report", "Kết quả truy vết", "Tracing report"),
    ("trace_window", "Thời gian lây nhiễm", "Infectious window"),
    ("trace_checkins", "Lượt check-in của ca bệnh", "The case's check-ins"),
    ("trace_new", "mới", "new"),
    ("trace_unlisted", "Gặp ở nơi đông người, chỉ đếm", "Met at busy venues, counted only"),
    ("trace_venue_visits", "Những nơi ca bệnh đã đến", "Where the case went"),
    ("trace_visitors", "Số người gặp", "People met"),
    ("trace_listed", "Đã liệt kê", "Listed"),
    (
        "trace_declare_exposed",
        "Công bố địa điểm có nguy cơ để liệt kê tất cả",
        "Declare the venue exposed to list everyone",
    ),
    ("trace_f2_truncated", "Danh sách F2 dừng ở giới hạn.", "The F2 list stopped at its limit."),
    ("trace_case_status", "Đổi trạng thái ca bệnh", "Change the case's status"),
    ("trace_onset", "Ngày khởi phát", "Onset"),
    ("trace_sample_date", "Ngày lấy mẫu", "Sampled"),
    ("trace_counts", "Người tiếp xúc theo trạng thái", "Contacts by status"),
    ("trace_total", "Tổng", "Total"),
    ("trace_f1_title", "F1: tiếp xúc gần với ca bệnh", "F1: close contacts of the case"),
    ("trace_f2_title", "F2: tiếp xúc với F1", "F2: contacts of an F1"),
    ("trace_none_yet", "Chưa có.", "None yet."),
    ("trace_name_title", "Thêm người ca bệnh kể tên", "Add a contact the case names"),
    ("trace_name_identifier", "CCCD, số BHYT hoặc quét QR cá nhân", "CCCD, insurance number or scanned personal QR"),
    (
        "trace_name_or",
        "Hoặc, với người chưa đăng ký: số điện thoại và họ tên.",
        "Or, for someone not registered: a phone number and a name.",
    ),
    ("trace_name_add", "Thêm người tiếp xúc", "Add the contact"),
    ("trace_name_done", "Đã thêm người tiếp xúc.", "The contact was added."),
    ("trace_status_saved", "Đã lưu trạng thái ca bệnh.", "The case's status was saved."),
    ("trace_chain_link", "Xem chuỗi lây nhiễm", "See the transmission chain"),
    ("contact_name", "Người tiếp xúc", "Contact"),
    ("contact_kind", "Hình thức", "How"),
    ("contact_evidence", "Bằng chứng", "Evidence"),
    ("contact_exposure", "Ngày tiếp xúc", "Exposed"),
    ("contact_quarantine_until", "Hết cách ly", "Quarantine ends"),
    ("contact_test_days", "Ngày xét nghiệm", "Test days"),
    ("contact_note", "Ghi chú", "Note"),
    ("contact_move", "Chuyển sang", "Move to"),
    ("contact_pick", "Chọn", "Pick"),
    ("contact_followed_in", "Theo dõi tại", "Followed up in"),
    ("contact_via", "qua", "through"),
    ("contact_final", "Đã kết thúc theo dõi.", "Follow-up is over."),
    ("contact_only_to", "chỉ có thể chuyển sang", "can only move to"),
    ("contact_status_identified", "Mới xác định", "Identified"),
    ("contact_status_notified", "Đã thông báo", "Notified"),
    ("contact_status_quarantining", "Đang cách ly", "Quarantining"),
    ("contact_status_tested", "Đã xét nghiệm", "Tested"),
    ("contact_status_released", "Hết cách ly", "Released"),
    ("contact_kind_venue", "Cùng địa điểm", "Same venue"),
    ("contact_kind_household", "Cùng hộ gia đình", "Same household"),
    ("contact_kind_named", "Được kể tên", "Named"),
    ("contact_kind_proximity", "Ở gần (Bluetooth)", "Nearby (Bluetooth)"),
    ("contact_ev_case", "ca bệnh", "the case"),
    ("contact_ev_f1", "F1", "the F1"),
    ("contact_ev_contact", "người này", "this contact"),
    ("contact_ev_together", "ở cùng lúc", "together for"),
    ("contact_ev_minutes", "phút", "minutes"),
    (
        "contact_ev_margin",
        "đến trong khoảng giãn cách sau khi người kia rời đi",
        "arrived within the venue's margin after the other had left",
    ),
    ("contact_ev_more", "lượt gặp khác", "more encounters"),
    ("contact_ev_household", "Sống cùng hộ", "Lives in household"),
    ("contact_ev_named", "Ca bệnh kể tên; ghi bởi", "Named by the case; recorded by"),
    ("chain_title", "Chuỗi lây nhiễm", "Transmission chain"),
    (
        "chain_intro",
        "Mỗi cột là một bậc: ca bệnh, F1, F2, …; trong mỗi cột, người tiếp xúc sớm nhất ở trên. Người tiếp xúc đã thành ca bệnh tô đỏ, và người họ tiếp xúc được vẽ tiếp.",
        "Each column is one step: the case, F1, F2, …; in each column the earliest exposed is on top. Contacts who became cases are red, and their own contacts are drawn too.",
    ),
    ("chain_case", "Ca bệnh (F0)", "Case (F0)"),
    ("chain_deeper", "F3 trở đi", "F3 and beyond"),
    ("chain_became_case", "Người tiếp xúc đã thành ca bệnh", "Contact who became a case"),
    ("chain_edge_venue", "Cùng địa điểm (tên trên đường nối)", "Same venue (its name on the line)"),
    ("chain_edge_household", "Cùng hộ gia đình", "Same household"),
    ("chain_edge_named", "Được kể tên", "Named"),
    ("chain_edge_again", "Gặp lại người đã vẽ", "Met someone drawn already"),
    ("chain_household", "hộ gia đình", "household"),
    ("chain_named", "được kể tên", "named"),
    ("chain_is_case", "ca bệnh", "case"),
    (
        "chain_left_out",
        "người tiếp xúc không được vẽ (giới hạn của hình); trang ca bệnh liệt kê đủ.",
        "contacts are not drawn (the drawing's limit); the case page lists them all.",
    ),
    (
        "chain_hidden",
        "ca bệnh liên quan ở ngoài phạm vi của bạn: người tiếp xúc của họ không được vẽ.",
        "linked cases lie outside your jurisdiction: their contacts are not drawn.",
    ),
    ("chain_empty", "Ca bệnh chưa có người tiếp xúc nào.", "The case has no contacts yet."),
    ("chain_legend", "Chú thích", "Legend"),
    ("cluster_title", "Các chùm ca bệnh", "Clusters of cases"),
    (
        "cluster_intro",
        "Các ca bệnh liên quan với nhau (người của ca này là người tiếp xúc của ca kia), xác nhận trong",
        "Cases linked to each other (one's person is another's contact), confirmed in the last",
    ),
    ("cluster_days", "ngày qua.", "days."),
    ("cluster_by_size", "Theo số ca", "By size"),
    ("cluster_by_growth", "Theo tốc độ tăng", "By growth"),
    ("cluster_start", "Ca đầu chuỗi", "First case"),
    ("cluster_size", "Số ca", "Cases"),
    ("cluster_last_7", "7 ngày qua", "Last 7 days"),
    ("cluster_previous_7", "7 ngày trước đó", "The 7 days before"),
    ("cluster_growth", "Tăng", "Growth"),
    ("cluster_members", "Các ca trong chùm", "Cases in it"),
    ("cluster_none", "Chưa có chùm ca bệnh nào trong phạm vi của bạn.", "No clusters in your jurisdiction."),
];

fn page_error(lang: Lang) -> impl Fn(ServiceError) -> PageError {
    move |e| PageError::from_service(e, lang)
}

/// A day in Vietnam as people write it: 15/08/2021.
pub(super) fn day_text(at: OffsetDateTime) -> String {
    date_text(local_date(at))
}

pub(super) fn status_word(ctx: &PageContext, status: ContactStatus) -> &'static str {
    ctx.t(&format!("contact_status_{}", status.as_str()))
}

fn kind_word(ctx: &PageContext, kind: ContactKind) -> &'static str {
    ctx.t(&format!("contact_kind_{}", kind.as_str()))
}

/// The code of the unit at the end of a path (`/VN/79/26740/` → `26740`).
fn unit_of(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}

/// Stays side by side, each after its owner's word. When every stay starts and ends on one
/// day in Vietnam, the day is said once and the stays as hours: "05/12/2026: ca bệnh
/// 10:02–10:59, người này 09:02–10:30".
pub(super) fn stays_text(stays: &[(&str, &Stay)]) -> String {
    let local = |at: OffsetDateTime| at.to_offset(outbreak_domain::VIETNAM);
    let hours = |at: OffsetDateTime| format!("{:02}:{:02}", local(at).hour(), local(at).minute());
    let days: Vec<time::Date> = stays.iter().flat_map(|(_, s)| [local(s.at).date(), local(s.until).date()]).collect();
    match days.first() {
        Some(day) if days.iter().all(|d| d == day) => {
            let spans: Vec<String> =
                stays.iter().map(|(who, s)| format!("{who} {}–{}", hours(s.at), hours(s.until))).collect();
            format!("{}: {}", date_text(*day), spans.join(", "))
        }
        _ => {
            let spans: Vec<String> =
                stays.iter().map(|(who, s)| format!("{who} {} – {}", local_time(s.at), local_time(s.until))).collect();
            spans.join(", ")
        }
    }
}

/// Why someone is a contact, in the page's words: one line per venue encounter.
fn evidence_lines(ctx: &PageContext, contact: &Contact) -> Vec<String> {
    match &contact.evidence {
        Evidence::Venue { encounters, count } => {
            let source = if contact.generation == 1 { ctx.t("contact_ev_case") } else { ctx.t("contact_ev_f1") };
            let mut lines: Vec<String> = encounters
                .iter()
                .map(|e| {
                    let together = if e.overlap_minutes > 0 {
                        format!(
                            "{} {} {}",
                            ctx.t("contact_ev_together"),
                            e.overlap_minutes,
                            ctx.t("contact_ev_minutes")
                        )
                    } else {
                        ctx.t("contact_ev_margin").to_owned()
                    };
                    format!(
                        "{} ({}) · {} · {together}",
                        e.name,
                        e.code,
                        stays_text(&[(source, &e.source), (ctx.t("contact_ev_contact"), &e.contact)]),
                    )
                })
                .collect();
            let more = (*count as usize).saturating_sub(encounters.len());
            if more > 0 {
                lines.push(format!("+{more} {}", ctx.t("contact_ev_more")));
            }
            lines
        }
        Evidence::Household { household } => vec![format!("{} {household}", ctx.t("contact_ev_household"))],
        Evidence::Named { by, note } if note.is_empty() => vec![format!("{} {by}", ctx.t("contact_ev_named"))],
        Evidence::Named { by, note } => vec![format!("{} {by}: {note}", ctx.t("contact_ev_named"))],
    }
}

/// A contact as the queue and the case page show it.
pub struct ContactRow {
    pub id: String,
    pub person: String,
    pub name: String,
    pub phone: String,
    /// The phone in E.164, for the `tel:` link.
    pub tel: String,
    pub generation: u8,
    pub kind: &'static str,
    pub kind_code: &'static str,
    pub evidence: Vec<String>,
    /// For an F2, the F1 through whom they were found.
    pub via: String,
    pub exposure: String,
    pub quarantine_until: String,
    pub test_days: String,
    pub followed_in: String,
    pub status: &'static str,
    pub status_code: &'static str,
    pub note: String,
    /// The statuses the contact may move to, `(code, word)`.
    pub next: Vec<(&'static str, &'static str)>,
}

impl ContactRow {
    /// `names` are the listed contacts' by id (an F2 names its F1), `units` the labels of
    /// the units they are followed up in.
    fn new(
        ctx: &PageContext,
        c: &Contact,
        names: &HashMap<ContactId, String>,
        units: &HashMap<String, String>,
    ) -> ContactRow {
        ContactRow {
            id: c.id.to_string(),
            person: c.person.map(|p| p.to_string()).unwrap_or_default(),
            name: c.name.clone(),
            phone: c.phone.as_ref().map(|p| p.national()).unwrap_or_default(),
            tel: c.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
            generation: c.generation,
            kind: kind_word(ctx, c.kind),
            kind_code: c.kind.as_str(),
            evidence: evidence_lines(ctx, c),
            via: c.via.and_then(|v| names.get(&v).cloned()).unwrap_or_default(),
            exposure: day_text(c.exposure_at),
            quarantine_until: day_text(c.quarantine_until),
            test_days: c.test_days.iter().map(|d| date_text(*d)).collect::<Vec<_>>().join(", "),
            followed_in: units.get(unit_of(&c.unit_path)).cloned().unwrap_or_else(|| unit_of(&c.unit_path).to_owned()),
            status: status_word(ctx, c.status),
            status_code: c.status.as_str(),
            note: c.note.clone(),
            next: c.status.next().iter().map(|s| (s.as_str(), status_word(ctx, *s))).collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The tracers' queue.

#[derive(Template)]
#[template(path = "tracing_queue.html")]
struct QueuePage {
    ctx: PageContext,
    /// The status shown, empty for every open one.
    tab: String,
    tabs: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<ContactRow>,
    moved: Vec<String>,
    refused: Vec<String>,
    error: Option<String>,
}

/// What the last change on the queue left to report.
#[derive(Default)]
struct Outcome {
    moved: Vec<String>,
    refused: Vec<String>,
    error: Option<String>,
    status: Option<StatusCode>,
}

#[derive(Deserialize)]
pub struct QueueParams {
    #[serde(default)]
    status: String,
}

async fn queue_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    tab: &str,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let tab = tab.trim();
    let shown = Some(tab).filter(|t| !t.is_empty());
    let queue = state.services.contact_queue(caller, shown).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(caller));
    let names = HashMap::new();
    let units = unit_labels(state, queue.iter().map(|c| unit_of(&c.unit_path)).collect()).await;
    let statuses: Vec<(&'static str, &'static str)> =
        ContactStatus::ALL.iter().map(|s| (s.as_str(), status_word(&ctx, *s))).collect();
    let mut tabs = vec![("", ctx.t("trace_tab_open"))];
    tabs.extend(statuses.iter().copied());
    let page = QueuePage {
        tab: tab.to_owned(),
        tabs,
        statuses,
        rows: queue.iter().map(|c| ContactRow::new(&ctx, c, &names, &units)).collect(),
        moved: outcome.moved,
        refused: outcome.refused,
        error: outcome.error,
        ctx,
    };
    Ok((outcome.status.unwrap_or(StatusCode::OK), render(&page)).into_response())
}

/// The queue of the caller's jurisdiction, every open status or one.
pub async fn queue(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(params): Query<QueueParams>,
) -> Result<Response, PageError> {
    queue_page(&state, ctx, &caller, &params.status, Outcome::default()).await
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
    /// The tab to come back to.
    #[serde(default)]
    tab: String,
}

/// One contact moved on from its row.
pub async fn move_contact(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<Response, PageError> {
    let mut outcome = Outcome::default();
    match state.services.update_contact(&caller, ContactId(id), &form.status, &form.note).await {
        Ok(contact) => outcome.moved.push(format!("{}: {}", contact.name, status_word(&ctx, contact.status))),
        Err(e) => {
            let problem = problem(&ctx, e);
            outcome.status = Some(problem.status);
            outcome.error = Some(problem.message);
        }
    }
    queue_page(&state, ctx, &caller, &form.tab, outcome).await
}

/// Several contacts moved to one status: each refusal is reported with the contact's name,
/// the others are applied.
pub async fn move_many(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let (status, note, tab) = (field("status"), field("note"), field("tab"));
    let picked: Vec<&str> = fields.iter().filter(|(k, _)| k == "contact").map(|(_, v)| v.as_str()).collect();
    let mut outcome = Outcome::default();
    if picked.is_empty() {
        outcome.error = Some(ctx.t("trace_bulk_none").to_owned());
        outcome.status = Some(StatusCode::UNPROCESSABLE_ENTITY);
        return queue_page(&state, ctx, &caller, tab, outcome).await;
    }
    // Names for the report, from the contacts the caller follows up.
    let open = state.services.contact_queue(&caller, None).await.map_err(page_error(ctx.lang))?;
    let known: HashMap<String, (String, ContactStatus)> =
        open.into_iter().map(|c| (c.id.to_string(), (c.name, c.status))).collect();
    for picked in picked {
        let (name, from) = match known.get(picked) {
            Some((name, from)) => (name.clone(), Some(*from)),
            None => (picked.to_owned(), None),
        };
        let Ok(id) = Uuid::parse_str(picked) else {
            let why = user_message_for(&ctx, ServiceError::NotFound("contact".into()));
            outcome.refused.push(format!("{name}: {why}"));
            continue;
        };
        match state.services.update_contact(&caller, ContactId(id), status, note).await {
            Ok(contact) => outcome.moved.push(format!("{}: {}", contact.name, status_word(&ctx, contact.status))),
            Err(e) => outcome.refused.push(format!("{name}: {}", refusal(&ctx, from, e))),
        }
    }
    if outcome.moved.is_empty() {
        outcome.status = Some(StatusCode::UNPROCESSABLE_ENTITY);
    }
    queue_page(&state, ctx, &caller, tab, outcome).await
}

fn user_message_for(ctx: &PageContext, error: ServiceError) -> String {
    problem(ctx, error).message
}

/// Why a contact could not move, in the page's language when it is a move out of order:
/// where they stand and where they may go.
fn refusal(ctx: &PageContext, from: Option<ContactStatus>, error: ServiceError) -> String {
    match (&error, from) {
        (ServiceError::Invalid(invalid), Some(from)) if invalid.code == "bad_transition" => {
            let next: Vec<&str> = from.next().iter().map(|s| status_word(ctx, *s)).collect();
            if next.is_empty() {
                format!("{} — {}", status_word(ctx, from), ctx.t("contact_final"))
            } else {
                format!("{} — {} {}", status_word(ctx, from), ctx.t("contact_only_to"), next.join(", "))
            }
        }
        _ => user_message_for(ctx, error),
    }
}

/// A language switch or a reload after a form: back to the page the form was on.
pub async fn back_to_queue() -> Redirect {
    Redirect::to("/tracing")
}

// ---------------------------------------------------------------------------------------
// A case's page.

/// The case as its page shows it.
pub struct CaseFacts {
    pub id: String,
    pub name: String,
    pub phone: String,
    /// The phone in E.164, for the `tel:` link.
    pub tel: String,
    pub unit: String,
    pub source: &'static str,
    pub confirmed_at: String,
    pub onset: String,
    pub sample_date: String,
    pub status: &'static str,
    pub status_code: &'static str,
    pub note: String,
}

/// A line of the counts table: a status and its F1 and F2 contacts.
pub struct CountRow {
    pub status: &'static str,
    pub status_code: &'static str,
    pub f1: u64,
    pub f2: u64,
}

/// A venue visit of the case in the tracing report.
pub struct VisitRow {
    pub name: String,
    pub code: String,
    pub stay: String,
    /// Everyone whose stay met the case's, and how many of them the trace listed.
    pub visitors: String,
    pub listed: String,
    /// At a hub (more visitors than listed): the zoning page, proposing the venue exposed
    /// for the case's stay so that everyone there becomes a contact.
    pub declare: Option<String>,
}

/// The tracing report as the case page shows it.
pub struct ReportView {
    pub summary: String,
    pub window: String,
    pub checkins: String,
    pub f1: String,
    pub new_f1: String,
    pub f2: String,
    pub new_f2: String,
    pub unlisted: String,
    pub f2_truncated: bool,
    pub venues: Vec<VisitRow>,
}

impl ReportView {
    fn new(lang: Lang, report: &TraceReport) -> ReportView {
        let n = |v: u64| number(lang, v as i64);
        ReportView {
            summary: report.summary.clone(),
            window: format!("{} – {}", local_time(report.window.from), local_time(report.window.until)),
            checkins: n(report.checkins),
            f1: n(report.f1),
            new_f1: n(report.new_f1),
            f2: n(report.f2),
            new_f2: n(report.new_f2),
            unlisted: n(report.unlisted_f1 + report.unlisted_f2),
            f2_truncated: report.f2_truncated,
            venues: report
                .venues
                .iter()
                .map(|v| VisitRow {
                    name: v.name.clone(),
                    code: v.code.clone(),
                    stay: format!("{} – {}", local_time(v.stay.at), local_time(v.stay.until)),
                    visitors: n(v.visitors),
                    listed: n(v.listed),
                    declare: (v.visitors > v.listed).then(|| {
                        format!(
                            "/zoning?venue={}&from={}&until={}#exposure-form",
                            v.code,
                            super::zoning::input_value(v.stay.at),
                            super::zoning::input_value(v.stay.until)
                        )
                    }),
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "case_page.html")]
struct CasePage {
    ctx: PageContext,
    case: CaseFacts,
    /// Statuses the case may be set to, `(code, word)`.
    case_statuses: Vec<(&'static str, &'static str)>,
    f1: Vec<ContactRow>,
    f2: Vec<ContactRow>,
    f1_total: u64,
    f2_total: u64,
    counts: Vec<CountRow>,
    report: Option<ReportView>,
    message: Option<String>,
    error: Option<String>,
    named: NameForm,
}

/// What the last action on the case page left to show.
#[derive(Default)]
struct CaseOutcome {
    report: Option<ReportView>,
    message: Option<String>,
    error: Option<String>,
    status: Option<StatusCode>,
    named: NameForm,
}

async fn case_page(
    state: &AppState,
    ctx: PageContext,
    caller: &Caller,
    id: CaseId,
    outcome: CaseOutcome,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let row: CaseRow = state.services.case(caller, id).await.map_err(page_error(lang))?;
    let contacts = state.services.contacts(caller, id).await.map_err(page_error(lang))?;
    let unit = unit_label(state, row.case.unit.as_str()).await;
    let units = unit_labels(state, contacts.contacts.iter().map(|c| unit_of(&c.unit_path)).collect()).await;
    let ctx = ctx.with_caller(Some(caller));
    let c = &row.case;
    let case = CaseFacts {
        id: c.id.to_string(),
        name: row.full_name.clone(),
        phone: row.phone.as_deref().map(phone_text).unwrap_or_default(),
        tel: row.phone.clone().unwrap_or_default(),
        unit,
        source: ctx.t(&format!("case_source_{}", c.source)),
        confirmed_at: local_time(c.confirmed_at),
        onset: c.onset_date.map(date_text).unwrap_or_default(),
        sample_date: c.sample_date.map(date_text).unwrap_or_default(),
        status: ctx.t(&format!("case_{}", c.status.as_str())),
        status_code: c.status.as_str(),
        note: c.note.clone(),
    };
    let case_statuses = CaseStatus::ALL
        .iter()
        .filter(|s| **s != c.status)
        .map(|s| (s.as_str(), ctx.t(&format!("case_{}", s.as_str()))))
        .collect();
    let names: HashMap<ContactId, String> = contacts.contacts.iter().map(|c| (c.id, c.name.clone())).collect();
    let rows = |generation: u8| -> Vec<ContactRow> {
        contacts
            .contacts
            .iter()
            .filter(|c| c.generation == generation)
            .map(|c| ContactRow::new(&ctx, c, &names, &units))
            .collect()
    };
    let (f1, f2) = (rows(1), rows(2));
    let count = |generation: u8, status: ContactStatus| {
        contacts.counts.iter().filter(|k| k.generation == generation && k.status == status).map(|k| k.contacts).sum()
    };
    let counts = ContactStatus::ALL
        .iter()
        .map(|s| CountRow {
            status: status_word(&ctx, *s),
            status_code: s.as_str(),
            f1: count(1, *s),
            f2: count(2, *s),
        })
        .collect();
    let page = CasePage {
        case,
        case_statuses,
        f1,
        f2,
        f1_total: contacts.f1,
        f2_total: contacts.f2,
        counts,
        report: outcome.report,
        message: outcome.message,
        error: outcome.error,
        named: outcome.named,
        ctx,
    };
    Ok((outcome.status.unwrap_or(StatusCode::OK), render(&page)).into_response())
}

#[derive(Deserialize)]
pub struct CaseParams {
    /// Set after a contact was named: says so.
    #[serde(default)]
    named: Option<String>,
    /// Set after the case's status was saved.
    #[serde(default)]
    saved: Option<String>,
}

pub async fn case(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    Query(params): Query<CaseParams>,
) -> Result<Response, PageError> {
    let message = match (&params.named, &params.saved) {
        (Some(_), _) => Some(ctx.t("trace_name_done").to_owned()),
        (None, Some(_)) => Some(ctx.t("trace_status_saved").to_owned()),
        (None, None) => None,
    };
    case_page(&state, ctx, &caller, CaseId(id), CaseOutcome { message, ..CaseOutcome::default() }).await
}

#[derive(Deserialize)]
pub struct Empty {}

/// "Trace now": runs tracing and shows its report above the contacts.
pub async fn trace(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let mut outcome = CaseOutcome::default();
    match state.services.trace_case(&caller, CaseId(id)).await {
        Ok(report) => outcome.report = Some(ReportView::new(ctx.lang, &report)),
        Err(e) => {
            let problem = problem(&ctx, e);
            outcome.status = Some(problem.status);
            outcome.error = Some(problem.message);
        }
    }
    case_page(&state, ctx, &caller, CaseId(id), outcome).await
}

#[derive(Deserialize)]
pub struct CaseStatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

pub async fn set_case_status(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(form): CsrfForm<CaseStatusForm>,
) -> Result<Response, PageError> {
    match state.services.set_case_status(&caller, CaseId(id), &form.status, &form.note).await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{id}?saved=1")).into_response()),
        Err(e) => {
            let problem = problem(&ctx, e);
            let outcome =
                CaseOutcome { status: Some(problem.status), error: Some(problem.message), ..CaseOutcome::default() };
            case_page(&state, ctx, &caller, CaseId(id), outcome).await
        }
    }
}

/// The form for a contact the case names: an identifier of a registered person, or a phone
/// and a name.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NameForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    note: String,
}

impl NameForm {
    fn visitor(&self) -> VisitorId {
        if !self.identifier.trim().is_empty() {
            return VisitorId::from_typed(&self.identifier);
        }
        let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        VisitorId { phone: given(&self.phone), name: given(&self.name), ..VisitorId::default() }
    }
}

pub async fn name_contact(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<Response, PageError> {
    let named = NamedContact { visitor: form.visitor(), exposed_at: None, note: form.note.clone() };
    match state.services.name_contact(&caller, CaseId(id), &named).await {
        Ok(contact) => Ok(Redirect::to(&format!("/cases/{id}?named={}", contact.id)).into_response()),
        Err(e) => {
            let problem = problem(&ctx, e);
            let outcome = CaseOutcome {
                status: Some(problem.status),
                error: Some(problem.message),
                named: form,
                ..CaseOutcome::default()
            };
            case_page(&state, ctx, &caller, CaseId(id), outcome).await
        }
    }
}

/// A language switch or a reload after a form on the case page: back to the case.
pub async fn back_to_case(PagePath(id): PagePath<Uuid>) -> Redirect {
    Redirect::to(&format!("/cases/{id}"))
}

// ---------------------------------------------------------------------------------------
// The chain: a layered drawing, one column per step, computed here and sent as inline SVG.

/// Column width, row height and margins of the drawing, in SVG units (pixels).
const COLUMN: f64 = 250.0;
const ROW: f64 = 46.0;
const TOP: f64 = 40.0;
/// Where the case's column sits: room left of it for half the case's name.
const ORIGIN: f64 = 90.0;
/// Room right of the last column for its names.
const LABEL_ROOM: f64 = 210.0;
/// Rows of the drawing a screen shows at once.
const SCREEN_ROWS: usize = 12;

const RED: &str = "#c62828";
const DARK_RED: &str = "#7f0000";
const F1_FILL: &str = "#ef8a17";
const F2_FILL: &str = "#f2c94c";
const DEEPER_FILL: &str = "#b0bec5";
const LINE: &str = "#546e7a";
const MUTED: &str = "#5f6b76";
/// A white outline under text, so that names stay legible where edges cross them.
const HALO: &str = " stroke=\"#fff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\"";

/// Text made safe inside SVG (element text and attribute values alike).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn fill_for(depth: u8) -> &'static str {
    match depth {
        1 => F1_FILL,
        2 => F2_FILL,
        _ => DEEPER_FILL,
    }
}

/// The dash pattern of an edge by how the two met: venues solid, households dashed, named
/// contacts dotted.
fn dash_for(kind: ContactKind) -> &'static str {
    match kind {
        ContactKind::Household => " stroke-dasharray=\"8 4\"",
        ContactKind::Named => " stroke-dasharray=\"2 4\"",
        ContactKind::Venue | ContactKind::Proximity => "",
    }
}

/// How two met, as an edge's label: the venue's name, or the kind of contact.
fn edge_label(ctx: &PageContext, contact: &Contact) -> String {
    match &contact.evidence {
        Evidence::Venue { encounters, .. } => {
            encounters.first().map(|e| e.name.clone()).unwrap_or_else(|| kind_word(ctx, contact.kind).to_owned())
        }
        Evidence::Household { .. } => ctx.t("chain_household").to_owned(),
        Evidence::Named { .. } => ctx.t("chain_named").to_owned(),
    }
}

/// Where each node sits: `None` is the chain's case.
type Positions = HashMap<Option<ContactId>, (f64, f64)>;

/// Lays the nodes out: one column per depth, each column sorted by exposure then name.
fn layout(contacts: &[ChainContact]) -> (Positions, usize, u8) {
    let mut columns: Vec<Vec<&ChainContact>> = Vec::new();
    for c in contacts {
        let depth = usize::from(c.depth.max(1));
        if columns.len() < depth {
            columns.resize(depth, Vec::new());
        }
        columns[depth - 1].push(c);
    }
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0).max(1);
    // Short columns are centred on the first screenful of the tallest, not on all of it: in
    // a chain of hundreds of F2s the case and its F1s stay where the page opens.
    let centred_on = tallest.min(SCREEN_ROWS);
    let mut at = Positions::new();
    let middle = TOP + ROW * (centred_on as f64 - 1.0) / 2.0;
    at.insert(None, (ORIGIN, middle));
    for (i, column) in columns.iter_mut().enumerate() {
        column.sort_by(|a, b| {
            a.contact.exposure_at.cmp(&b.contact.exposure_at).then(a.contact.name.cmp(&b.contact.name))
        });
        let x = ORIGIN + COLUMN * (i as f64 + 1.0);
        let offset = ROW * centred_on.saturating_sub(column.len()) as f64 / 2.0;
        for (j, c) in column.iter().enumerate() {
            at.insert(Some(c.contact.id), (x, TOP + offset + ROW * j as f64));
        }
    }
    (at, tallest, columns.len() as u8)
}

/// The chain as an SVG graph: nodes `node-case` and `node-<contact id>`, edges labelled by
/// how each contact met the node they hang from.
fn chain_svg(ctx: &PageContext, chain: &Chain) -> String {
    let (at, tallest, depth) = layout(&chain.contacts);
    let width = ORIGIN + COLUMN * f64::from(depth) + LABEL_ROOM;
    let height = TOP + ROW * tallest as f64 + 10.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"chain-svg\" class=\"chain-svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-labelledby=\"chain-svg-title\" font-family=\"system-ui, sans-serif\">"
    );
    let _ = write!(svg, "<title id=\"chain-svg-title\">{}</title>", esc(ctx.t("chain_title")));
    // Column headings: F0, F1, F2, …
    for d in 0..=depth {
        let x = ORIGIN + COLUMN * f64::from(d);
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"16\" font-size=\"13\" font-weight=\"700\" fill=\"{MUTED}\" text-anchor=\"middle\">F{d}</text>"
        );
    }
    // Edges first, so nodes sit on top.
    svg.push_str("<g class=\"edges\">");
    for c in &chain.contacts {
        let (Some(from), Some(to)) = (at.get(&c.from), at.get(&Some(c.contact.id))) else { continue };
        let label = edge_label(ctx, &c.contact);
        edge(&mut svg, *from, *to, c.contact.kind, LINE, &label, &format!("edge-{}", c.contact.id));
    }
    for link in &chain.links {
        let (Some(from), Some(to)) = (at.get(&Some(link.from)), at.get(&link.to)) else { continue };
        let label = edge_label(ctx, &link.contact);
        edge(&mut svg, *from, *to, ContactKind::Named, DEEPER_FILL, &label, &format!("link-{}", link.contact.id));
    }
    svg.push_str("</g><g class=\"nodes\">");
    // The case.
    if let Some((x, y)) = at.get(&None) {
        let name = esc(&chain.case.full_name);
        let _ = write!(
            svg,
            "<g id=\"node-case\" class=\"node case\" data-case=\"{}\"><title>{} — {}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"14\" fill=\"{RED}\" stroke=\"{DARK_RED}\" stroke-width=\"2\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" font-weight=\"700\" fill=\"#fff\" text-anchor=\"middle\">F0</text><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"700\" fill=\"#1b1b1b\"{HALO} text-anchor=\"middle\">{}</text></g>",
            chain.case.case.id,
            esc(ctx.t("chain_case")),
            name,
            y + 3.5,
            y + 30.0,
            esc(&clip(&chain.case.full_name, 28)),
        );
    }
    for c in &chain.contacts {
        let Some((x, y)) = at.get(&Some(c.contact.id)) else { continue };
        let status = status_word(ctx, c.contact.status);
        let (fill, stroke, width) = match &c.case {
            Some(_) => (RED, DARK_RED, 3),
            None => (fill_for(c.depth), LINE, 1),
        };
        let mut title = format!("F{} · {} · {} · {}", c.depth, c.contact.name, kind_word(ctx, c.contact.kind), status);
        if let Some(case) = &c.case {
            let _ = write!(title, " · {} {}", ctx.t("chain_is_case"), local_time(case.confirmed_at));
        }
        let link = c.case.as_ref().filter(|k| k.visible).map(|k| format!("/cases/{}/chain", k.id));
        if let Some(href) = &link {
            let _ = write!(svg, "<a href=\"{}\">", esc(href));
        }
        let _ = write!(
            svg,
            "<g id=\"node-{}\" class=\"node\" data-depth=\"{}\" data-kind=\"{}\" data-status=\"{}\" data-case=\"{}\"><title>{}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"9\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1b1b1b\"{HALO}>{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{MUTED}\"{HALO}>{}</text></g>",
            c.contact.id,
            c.depth,
            c.contact.kind.as_str(),
            c.contact.status.as_str(),
            c.case.as_ref().map(|k| k.id.to_string()).unwrap_or_default(),
            esc(&title),
            x + 14.0,
            y + 1.0,
            esc(&clip(&c.contact.name, 26)),
            x + 14.0,
            y + 14.0,
            esc(&match &c.case {
                Some(_) => format!("{} · {}", ctx.t("chain_is_case"), status),
                None => status.to_owned(),
            }),
        );
        if link.is_some() {
            svg.push_str("</a>");
        }
    }
    svg.push_str("</g></svg>");
    svg
}

/// An edge from one node to another: a curve, its dash by kind, and its label above the
/// end, right before the node it leads to.
fn edge(svg: &mut String, from: (f64, f64), to: (f64, f64), kind: ContactKind, colour: &str, label: &str, id: &str) {
    let (x1, y1) = (from.0 + 10.0, from.1);
    let (x2, y2) = (to.0 - 10.0, to.1);
    let bend = (x2 - x1).abs() / 2.0;
    let _ = write!(
        svg,
        "<g id=\"{}\" class=\"edge\" data-kind=\"{}\"><path d=\"M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"{}/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{MUTED}\"{HALO} text-anchor=\"end\">{}</text></g>",
        esc(id),
        kind.as_str(),
        x1 + bend,
        x2 - bend,
        dash_for(kind),
        x2 - 4.0,
        y2 - 6.0,
        esc(&clip(label, 30)),
    );
}

/// One entry of the legend: a small drawing and its words.
pub struct LegendItem {
    pub svg: String,
    pub text: &'static str,
}

fn legend(ctx: &PageContext) -> Vec<LegendItem> {
    let dot = |fill: &str, stroke: &str, width: u8, r: u8| {
        format!(
            "<svg width=\"24\" height=\"20\" viewBox=\"0 0 24 20\" aria-hidden=\"true\"><circle cx=\"12\" cy=\"10\" r=\"{r}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/></svg>"
        )
    };
    let line = |kind: ContactKind, colour: &str| {
        format!(
            "<svg width=\"36\" height=\"20\" viewBox=\"0 0 36 20\" aria-hidden=\"true\"><path d=\"M2,10 L34,10\" stroke=\"{colour}\" stroke-width=\"2\"{}/></svg>",
            dash_for(kind)
        )
    };
    vec![
        LegendItem { svg: dot(RED, DARK_RED, 2, 8), text: ctx.t("chain_case") },
        LegendItem { svg: dot(F1_FILL, LINE, 1, 7), text: "F1" },
        LegendItem { svg: dot(F2_FILL, LINE, 1, 7), text: "F2" },
        LegendItem { svg: dot(DEEPER_FILL, LINE, 1, 7), text: ctx.t("chain_deeper") },
        LegendItem { svg: dot(RED, DARK_RED, 3, 7), text: ctx.t("chain_became_case") },
        LegendItem { svg: line(ContactKind::Venue, LINE), text: ctx.t("chain_edge_venue") },
        LegendItem { svg: line(ContactKind::Household, LINE), text: ctx.t("chain_edge_household") },
        LegendItem { svg: line(ContactKind::Named, LINE), text: ctx.t("chain_edge_named") },
        LegendItem { svg: line(ContactKind::Named, DEEPER_FILL), text: ctx.t("chain_edge_again") },
    ]
}

/// A case of the chain besides its own, listed under the drawing.
pub struct LinkedRow {
    pub id: String,
    pub name: String,
    pub confirmed_at: String,
    pub status: &'static str,
    pub visible: bool,
}

#[derive(Template)]
#[template(path = "chain.html")]
struct ChainPage {
    ctx: PageContext,
    case_id: String,
    case_name: String,
    svg: String,
    legend: Vec<LegendItem>,
    contacts: usize,
    linked: Vec<LinkedRow>,
    left_out: u64,
    hidden_cases: u64,
}

pub async fn chain(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    let chain = state.services.chain(&caller, CaseId(id)).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let linked = chain
        .contacts
        .iter()
        .filter_map(|c| {
            c.case.as_ref().map(|k| LinkedRow {
                id: k.id.to_string(),
                name: c.contact.name.clone(),
                confirmed_at: local_time(k.confirmed_at),
                status: ctx.t(&format!("case_{}", k.status.as_str())),
                visible: k.visible,
            })
        })
        .collect();
    let page = ChainPage {
        case_id: chain.case.case.id.to_string(),
        case_name: chain.case.full_name.clone(),
        svg: chain_svg(&ctx, &chain),
        legend: legend(&ctx),
        contacts: chain.contacts.len(),
        linked,
        left_out: chain.left_out,
        hidden_cases: chain.hidden_cases,
        ctx,
    };
    Ok(render(&page))
}

// ---------------------------------------------------------------------------------------
// Clusters.

/// A cluster as its list shows it.
pub struct ClusterRow {
    pub root: String,
    pub root_name: String,
    pub size: usize,
    pub last_7: u64,
    pub previous_7: u64,
    pub growth: String,
    pub members: String,
    pub first: String,
    pub latest: String,
}

#[derive(Template)]
#[template(path = "clusters.html")]
struct ClustersPage {
    ctx: PageContext,
    by_growth: bool,
    days: i64,
    clusters: Vec<ClusterRow>,
}

#[derive(Deserialize)]
pub struct ClusterParams {
    #[serde(default)]
    sort: String,
}

pub async fn clusters(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(params): Query<ClusterParams>,
) -> Result<Response, PageError> {
    let by_growth = params.sort == "growth";
    let order = if by_growth { ClusterOrder::Growth } else { ClusterOrder::Size };
    let found = state.services.clusters(&caller, order).await.map_err(page_error(ctx.lang))?;
    let ctx = ctx.with_caller(Some(&caller));
    let clusters = found
        .iter()
        .map(|k| {
            let root = k.cases.iter().find(|c| c.id == k.root);
            let growth = k.growth();
            ClusterRow {
                root: k.root.to_string(),
                root_name: root.map(|c| c.name.clone()).unwrap_or_default(),
                size: k.size(),
                last_7: k.last_7_days,
                previous_7: k.previous_7_days,
                growth: if growth > 0 { format!("+{growth}") } else { growth.to_string() },
                members: k.cases.iter().map(|c| format!("{} ({})", c.name, c.unit)).collect::<Vec<_>>().join(", "),
                first: k.cases.first().map(|c| day_text(c.confirmed_at)).unwrap_or_default(),
                latest: k.cases.last().map(|c| day_text(c.confirmed_at)).unwrap_or_default(),
            }
        })
        .collect();
    Ok(render(&ClustersPage { ctx, by_growth, days: CLUSTER_DAYS, clusters }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use outbreak_domain::tracing::{Stay, VenueEncounter};
    use outbreak_domain::venue::VenueId;
    use outbreak_domain::{PersonId, UnitCode};
    use outbreak_services::clusters::LinkedCase;
    use outbreak_store::Case;
    use time::macros::datetime;

    fn ctx(lang: Lang) -> PageContext {
        PageContext { lang, csrf: String::new(), signed_in: None, is_staff: true, is_admin: false }
    }

    fn contact(n: u128, generation: u8, via: Option<u128>, evidence: Evidence, hours: i64) -> Contact {
        let at = datetime!(2026-05-10 01:00 UTC) + time::Duration::hours(hours);
        Contact {
            id: ContactId(Uuid::from_u128(n)),
            case: CaseId(Uuid::nil()),
            generation,
            via: via.map(|v| ContactId(Uuid::from_u128(v))),
            person: Some(PersonId(Uuid::from_u128(100 + n))),
            visitor: format!("v{n}"),
            name: format!("Người <{n}>"),
            phone: None,
            kind: evidence.kind(),
            evidence,
            exposure_at: at,
            unit_path: "/VN/01/00070/".into(),
            status: ContactStatus::Identified,
            note: String::new(),
            quarantine_until: at + time::Duration::days(14),
            test_days: vec![],
            created_at: at,
            updated_at: at,
        }
    }

    fn market() -> Evidence {
        let stay = |h: i64, m: i64| Stay {
            at: datetime!(2026-05-10 01:00 UTC) + time::Duration::hours(h),
            until: datetime!(2026-05-10 01:00 UTC) + time::Duration::hours(h) + time::Duration::minutes(m),
        };
        Evidence::Venue {
            encounters: vec![VenueEncounter {
                venue: VenueId(Uuid::nil()),
                code: "V1".into(),
                name: "Chợ Hàng Da".into(),
                source: stay(0, 60),
                contact: stay(0, 30),
                overlap_minutes: 30,
            }],
            count: 3,
        }
    }

    #[test]
    fn stays_over_midnight_keep_their_days() {
        // 23:30 to 00:30 in Vietnam.
        let late = Stay { at: datetime!(2026-05-10 16:30 UTC), until: datetime!(2026-05-10 17:30 UTC) };
        assert_eq!(stays_text(&[("ca bệnh", &late)]), "ca bệnh 10/05/2026 23:30 – 11/05/2026 00:30");
    }

    #[test]
    fn evidence_reads_in_words_with_both_stays() {
        let c = contact(1, 1, None, market(), 0);
        let lines = evidence_lines(&ctx(Lang::Vi), &c);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "Chợ Hàng Da (V1) · 10/05/2026: ca bệnh 08:00–09:00, người này 08:00–08:30 · ở cùng lúc 30 phút"
        );
        assert_eq!(lines[1], "+2 lượt gặp khác");
        let home = contact(2, 1, None, Evidence::Household { household: UnitCode::country() }, 0);
        assert_eq!(evidence_lines(&ctx(Lang::En), &home), ["Lives in household VN"]);
    }

    #[test]
    fn a_long_column_leaves_the_case_where_the_page_opens() {
        let mut contacts = vec![contact(1, 1, None, market(), 0)];
        contacts.extend((2..40).map(|n| contact(n, 2, Some(1), market(), 1)));
        let drawn: Vec<ChainContact> = contacts
            .into_iter()
            .map(|c| ChainContact { depth: c.generation, from: c.via, case: None, contact: c })
            .collect();
        let (at, tallest, _) = layout(&drawn);
        assert_eq!(tallest, 38);
        let first_screen = TOP + ROW * SCREEN_ROWS as f64;
        assert!(at[&None].1 < first_screen, "the case");
        assert!(at[&Some(ContactId(Uuid::from_u128(1)))].1 < first_screen, "its F1");
    }

    #[test]
    fn the_chain_draws_one_node_per_contact_in_columns_by_exposure() {
        let contacts = vec![
            contact(1, 1, None, market(), 2),
            contact(2, 1, None, Evidence::Household { household: UnitCode::country() }, 1),
            contact(3, 2, Some(1), market(), 3),
        ];
        let drawn: Vec<ChainContact> = contacts
            .into_iter()
            .map(|c| ChainContact {
                depth: c.generation,
                from: c.via,
                case: (c.generation == 2).then(|| LinkedCase {
                    id: CaseId(Uuid::from_u128(9)),
                    status: CaseStatus::Confirmed,
                    confirmed_at: c.exposure_at,
                    visible: true,
                }),
                contact: c,
            })
            .collect();
        let (at, tallest, depth) = layout(&drawn);
        assert_eq!((tallest, depth), (2, 2));
        let y = |n: u128| at[&Some(ContactId(Uuid::from_u128(n)))].1;
        assert!(y(2) < y(1), "the earlier exposure is on top");
        assert_eq!(y(3), (y(1) + y(2)) / 2.0, "a short column is centred");
        let chain = Chain {
            case: CaseRow {
                case: Case {
                    id: CaseId(Uuid::nil()),
                    person: PersonId(Uuid::nil()),
                    unit: UnitCode::country(),
                    unit_path: "/VN/".into(),
                    source: "test".into(),
                    specimen: None,
                    sample_date: None,
                    onset_date: None,
                    confirmed_at: datetime!(2026-05-11 01:00 UTC),
                    status: CaseStatus::Confirmed,
                    note: String::new(),
                },
                full_name: "Ca & <bệnh>".into(),
                phone: None,
            },
            contacts: drawn,
            links: vec![],
            left_out: 0,
            hidden_cases: 0,
        };
        let svg = chain_svg(&ctx(Lang::Vi), &chain);
        assert_eq!(svg.matches("<g id=\"node-").count(), 4);
        assert!(svg.contains("id=\"node-case\""));
        assert!(svg.contains("Ca &amp; &lt;bệnh&gt;") && !svg.contains("<bệnh>"), "names are escaped");
        assert!(svg.contains(">Chợ Hàng Da</text>") && svg.contains(">hộ gia đình</text>"), "edges say how");
        assert!(svg.contains("href=\"/cases/00000000-0000-0000-0000-000000000009/chain\""));
        assert_eq!(svg.matches("class=\"edge\"").count(), 3);
    }

    #[test]
    fn a_hub_visit_offers_to_declare_the_venue_exposed() {
        let stay = Stay { at: datetime!(2026-05-10 01:00 UTC), until: datetime!(2026-05-10 02:30 UTC) };
        let visit = |code: &str, visitors: u64, listed: u64| outbreak_services::tracing::VisitReport {
            venue: VenueId(Uuid::nil()),
            code: code.into(),
            name: "Chợ".into(),
            stay,
            visitors,
            listed,
        };
        let report = TraceReport {
            case: CaseId(Uuid::nil()),
            window: outbreak_domain::tracing::InfectiousWindow { from: stay.at, until: stay.until },
            checkins: 2,
            f1: 212,
            f2: 0,
            new_f1: 212,
            new_f2: 0,
            venues: vec![visit("MARKET01", 3400, 200), visit("SHOP0001", 12, 12)],
            unlisted_f1: 3200,
            unlisted_f2: 0,
            f2_truncated: false,
            summary: String::new(),
        };
        let view = ReportView::new(Lang::Vi, &report);
        // The case's stay, in Vietnam's time, as the zoning form's fields take it.
        assert_eq!(
            view.venues[0].declare.as_deref(),
            Some("/zoning?venue=MARKET01&from=2026-05-10T08:00&until=2026-05-10T09:30#exposure-form")
        );
        assert_eq!(view.venues[1].declare, None, "everyone at the shop was listed");
    }

    #[test]
    fn long_names_are_clipped() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(unit_of("/VN/79/26740/"), "26740");
    }
}
