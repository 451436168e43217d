//! The testing dashboard (figures rendered on the server, then kept live by
//! `static/dashboard.js` from the API's event stream), the result look-up without an
//! account, and the list of a person's results that the citizen's home shares with it.
//!
//! Access checks and rate limits live in the services; these handlers only choose the page.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use outbreak_domain::Permission;
use outbreak_domain::testing::{Conclusion, SpecimenStatus, TestType};
use outbreak_services::ServiceError;
use outbreak_services::testing::{Dashboard, PersonResults};
use outbreak_store::{DailyTotals, Specimen, Totals};
use serde::Deserialize;
use time::Date;

use super::{Lang, PageContext, date_text, local_time, private, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CsrfForm, StaffCaller, client_address};

pub(super) const TEXTS: super::i18n::Texts = &[
    ("dash_title", "Theo dõi xét nghiệm", "Testing dashboard"),
    ("dash_period", "Giai đoạn", "Period"),
    ("dash_days_label", "Số ngày", "Days"),
    ("dash_show", "Xem", "Show"),
    ("dash_tests", "Số xét nghiệm", "Tests"),
    ("dash_positive", "Dương tính", "Positive"),
    ("dash_positivity", "Tỷ lệ dương tính", "Positivity"),
    ("dash_pending", "Đang chờ kết quả", "Awaiting results"),
    ("dash_tat_median", "Thời gian trả kết quả (trung vị)", "Turnaround (median)"),
    ("dash_tat_p90", "Thời gian trả kết quả (90%)", "Turnaround (90th percentile)"),
    ("dash_hours", "giờ", "hours"),
    ("dash_positivity_help", "Trên tổng số kết quả dương tính và âm tính.", "Of positive and negative results."),
    (
        "dash_pending_help",
        "Mẫu đã lấy (ở mọi thời điểm) chưa có kết luận.",
        "Specimens taken (at any time) with no conclusion yet.",
    ),
    ("dash_tat_help", "Từ lúc lấy mẫu đến khi có kết quả.", "From swab to result."),
    (
        "dash_chart_title",
        "Số xét nghiệm mỗi ngày theo loại, và tỷ lệ dương tính",
        "Tests per day by type, and positivity",
    ),
    ("dash_rt_pcr", "RT-PCR", "RT-PCR"),
    ("dash_rapid", "Test nhanh kháng nguyên", "Rapid antigen"),
    ("dash_by_day", "Theo ngày", "By day"),
    ("dash_date", "Ngày", "Date"),
    ("dash_no_days", "Chưa có xét nghiệm nào trong giai đoạn này.", "No tests in this period."),
    ("dash_units_below", "Các đơn vị trực thuộc", "Units below"),
    ("dash_unit", "Đơn vị", "Unit"),
    ("dash_no_children", "Không có đơn vị trực thuộc có số liệu riêng.", "No units below with figures of their own."),
    ("dash_up", "Lên cấp trên:", "Up to:"),
    ("dash_live", "Đang cập nhật trực tiếp", "Updating live"),
    ("dash_not_live", "Số liệu tại thời điểm tải trang", "Figures as of page load"),
    ("lookup_title", "Tra cứu kết quả xét nghiệm", "Look up test results"),
    ("lookup_link", "Tra cứu kết quả xét nghiệm (không cần tài khoản)", "Look up test results (no account needed)"),
    (
        "lookup_intro",
        "Nhập số CCCD và ngày sinh. Nếu thông tin khớp với một người đã đăng ký, mã tra cứu sẽ được gửi qua SMS tới số điện thoại đã đăng ký của người đó.",
        "Enter the CCCD number and date of birth. If they match a registered person, a look-up code is sent by SMS to that person's registered phone.",
    ),
    (
        "lookup_birth",
        "Ngày sinh (YYYY-MM-DD, dd/mm/yyyy hoặc năm sinh)",
        "Date of birth (YYYY-MM-DD, dd/mm/yyyy or year)",
    ),
    ("lookup_send_code", "Gửi mã tra cứu", "Send a look-up code"),
    (
        "lookup_code_sent",
        "Nếu các thông tin này khớp với một người đã đăng ký, mã tra cứu đã được gửi tới số điện thoại của người đó.",
        "If these details match a registered person, a code was sent to their phone.",
    ),
    ("lookup_show", "Xem kết quả", "Show results"),
    ("lookup_resend", "Gửi lại mã", "Send a new code"),
    ("lookup_start_over", "Nhập thông tin khác", "Enter other details"),
    (
        "lookup_wrong",
        "Thông tin hoặc mã không khớp. Hãy kiểm tra lại, hoặc yêu cầu mã mới.",
        "These details and this code do not match. Check them, or ask for a new code.",
    ),
    (
        "lookup_rate_limited",
        "Có quá nhiều lượt tra cứu từ mạng này. Vui lòng thử lại sau",
        "Too many look-ups from this network. Please try again in",
    ),
    ("lookup_minutes", "phút.", "minutes."),
    (
        "lookup_cccd_invalid",
        "Số CCCD gồm đúng 12 chữ số, bắt đầu bằng mã tỉnh (001–096).",
        "A CCCD number is exactly 12 digits, starting with a province code (001–096).",
    ),
    (
        "lookup_birth_invalid",
        "Ghi ngày sinh dạng YYYY-MM-DD (ví dụ 1990-05-12), dd/mm/yyyy hoặc chỉ năm sinh, từ năm 1900 đến hôm nay.",
        "Write the date of birth as YYYY-MM-DD (for example 1990-05-12), dd/mm/yyyy or the year alone, between 1900 and today.",
    ),
    (
        "lookup_privacy",
        "Kết quả chỉ hiện khi nhập đúng mã gửi tới điện thoại đã đăng ký. Số lượt tra cứu có giới hạn.",
        "Results show only with the code sent to the registered phone. Look-ups are limited.",
    ),
    ("lookup_again", "Tra cứu cho người khác", "Look up someone else"),
    ("results_title", "Kết quả xét nghiệm", "Test results"),
    ("results_none", "Chưa có xét nghiệm nào.", "No tests yet."),
    ("results_collected", "Lấy mẫu", "Sampled"),
    ("results_resulted", "Có kết quả", "Resulted"),
    ("results_status", "Trạng thái", "Status"),
    ("results_tube", "Mã ống", "Tube"),
    ("results_pooled", "mẫu gộp", "pooled sample"),
    ("results_rt_pcr", "RT-PCR", "RT-PCR"),
    ("results_rapid", "Test nhanh kháng nguyên", "Rapid antigen test"),
    ("results_positive", "Dương tính", "Positive"),
    ("results_negative", "Âm tính", "Negative"),
    ("results_invalid", "Không xác định, cần lấy mẫu lại", "Invalid, please test again"),
    ("results_retest", "cần xét nghiệm lại riêng (mẫu gộp)", "individual retest needed (pooled sample)"),
    ("results_pending", "Đang chờ kết quả", "Waiting for the result"),
    (
        "results_rejected",
        "Mẫu không xét nghiệm được, cần lấy mẫu lại",
        "The sample could not be tested, please test again",
    ),
    ("results_status_collected", "Đã lấy mẫu", "Sample taken"),
    ("results_status_in_transit", "Đang chuyển tới phòng xét nghiệm", "On its way to the lab"),
    ("results_status_received", "Phòng xét nghiệm đã nhận mẫu", "Received by the lab"),
    ("results_status_resulted", "Đã có kết quả", "Resulted"),
    ("results_status_rejected", "Mẫu bị từ chối", "Sample rejected"),
    ("results_positive_title", "Việc cần làm ngay", "What to do now"),
    (
        "results_positive_isolate",
        "Tự cách ly tại nhà ngay: ở riêng một phòng, đeo khẩu trang, không tiếp xúc với người khác.",
        "Isolate at home now: stay in a room of your own, wear a mask, and meet no one.",
    ),
    (
        "results_positive_call",
        "Trạm y tế xã/phường sẽ gọi điện để hướng dẫn bạn và hỏi những người bạn đã tiếp xúc. Hãy luôn giữ điện thoại bên mình.",
        "Your commune health station will call you with instructions and ask who you have been in contact with. Keep your phone with you.",
    ),
    (
        "results_positive_urgent",
        "Nếu khó thở, đau tức ngực hoặc SpO2 dưới 96%, hãy gọi ngay 115.",
        "If you are short of breath, have chest pain or an SpO2 below 96%, call 115 at once.",
    ),
    (
        "results_retest_next",
        "Mẫu của bạn được xét nghiệm chung với mẫu của người khác và cần xét nghiệm lại riêng. Hãy hạn chế tiếp xúc và đến điểm lấy mẫu sớm nhất; trạm y tế xã/phường sẽ báo địa điểm.",
        "Your swab was tested together with other people's and needs an individual retest. Limit your contacts and go to a sampling site soon; your commune health station will tell you where.",
    ),
    ("results_again_next", "Hãy đến điểm lấy mẫu để lấy mẫu lại.", "Please go to a sampling site for a new sample."),
    (
        "results_pending_next",
        "Bạn sẽ nhận tin nhắn SMS khi có kết quả.",
        "You will get an SMS when the result is ready.",
    ),
];

/// Period lengths offered on the dashboard, in days.
const DAY_CHOICES: [i64; 4] = [7, 14, 30, 90];

/// A whole number as the page's language writes it: `1.234` in Vietnamese, `1,234` in
/// English. `dashboard.js` writes numbers the same way.
pub(super) fn number(lang: Lang, n: i64) -> String {
    let separator = match lang {
        Lang::Vi => '.',
        Lang::En => ',',
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// A share as a percentage with one decimal (`12,5%`, `12.5%`), or a dash when unknown.
/// Rounded through whole tenths of a percent so that the script's figures match.
fn percent(lang: Lang, share: Option<f64>) -> String {
    let Some(share) = share.filter(|s| s.is_finite()) else { return "—".into() };
    let tenths = (share * 1000.0).round() as i64;
    let point = match lang {
        Lang::Vi => ',',
        Lang::En => '.',
    };
    format!("{}{point}{}%", number(lang, tenths / 10), tenths % 10)
}

fn hours(lang: Lang, hours: Option<i64>) -> String {
    hours.map(|h| number(lang, h)).unwrap_or_else(|| "—".into())
}

fn share(t: &Totals) -> Option<f64> {
    let conclusive = t.positive + t.negative;
    (conclusive > 0).then(|| t.positive as f64 / conclusive as f64)
}

/// One row of the table by day.
pub struct DayRow {
    pub date: String,
    pub rt_pcr: String,
    pub rapid: String,
    pub positive: String,
    pub positivity: String,
}

/// One row of the drill-down table.
pub struct ChildRow {
    pub code: String,
    pub name: String,
    pub tests: String,
    pub positive: String,
    pub positivity: String,
}

/// Days with tests, newest first, both test types on one row.
fn day_rows(lang: Lang, days: &[DailyTotals]) -> Vec<DayRow> {
    let mut by_day: BTreeMap<Date, (i64, i64, Totals)> = BTreeMap::new();
    for d in days {
        let entry = by_day.entry(d.day).or_default();
        match d.test_type {
            TestType::RtPcr => entry.0 += d.totals.collected,
            TestType::RapidAntigen => entry.1 += d.totals.collected,
        }
        entry.2.add(&d.totals);
    }
    by_day
        .into_iter()
        .rev()
        .map(|(date, (rt_pcr, rapid, totals))| DayRow {
            date: date_text(date),
            rt_pcr: number(lang, rt_pcr),
            rapid: number(lang, rapid),
            positive: number(lang, totals.positive),
            positivity: percent(lang, share(&totals)),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "testing_dashboard.html")]
struct DashboardPage {
    ctx: PageContext,
    unit: String,
    unit_name: String,
    period: String,
    days: i64,
    day_choices: Vec<(i64, bool)>,
    /// The unit above, `(code, name)`, when the caller may see its dashboard.
    parent: Option<(String, String)>,
    tests: String,
    positive: String,
    positivity: String,
    pending: String,
    tat_median: String,
    tat_p90: String,
    rows: Vec<DayRow>,
    children: Vec<ChildRow>,
    /// The dashboard as the API sends it, made safe to sit inside a `<script>` element.
    data: String,
    stream: String,
}

#[derive(Deserialize)]
pub struct DashboardParams {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    days: String,
}

/// The code and path of the unit above the one at `path` (`/VN/01/00070/` → `01`).
fn parent_of(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    let above = parts.len().checked_sub(1).filter(|n| *n > 0)?;
    Some((parts[above - 1].to_owned(), format!("/{}/", parts[..above].join("/"))))
}

/// JSON that can sit inside `<script type="application/json">`: no `<`, `>` or `&` in it
/// (they only occur inside strings, where the escapes mean the same).
fn script_json(dashboard: &Dashboard) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string(dashboard)?.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026"))
}

pub async fn dashboard(
    State(state): State<AppState>,
    ctx: PageContext,
    StaffCaller(caller): StaffCaller,
    Query(params): Query<DashboardParams>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let unit = Some(params.unit.trim()).filter(|u| !u.is_empty());
    let days = params.days.trim().parse::<i64>().ok();
    let d =
        state.services.testing_dashboard(&caller, unit, days).await.map_err(|e| PageError::from_service(e, lang))?;
    let data = script_json(&d)
        .map_err(|e| PageError::from_service(ServiceError::Internal(format!("dashboard JSON: {e}")), lang))?;
    let days = (d.to - d.from).whole_days() + 1;
    let mut choices: Vec<i64> = DAY_CHOICES.to_vec();
    if !choices.contains(&days) {
        choices.push(days);
        choices.sort_unstable();
    }
    let mut parent = None;
    if let Some((code, path)) = parent_of(&d.unit_path)
        && caller.principal.may(Permission::ReadTesting, &path)
    {
        let name = state.services.unit(&code).await.map(|u| u.name).unwrap_or_else(|_| code.clone());
        parent = Some((code, name));
    }
    let children = d
        .children
        .iter()
        .map(|c| ChildRow {
            code: c.code.clone(),
            name: c.name.clone(),
            tests: number(lang, c.totals.collected),
            positive: number(lang, c.totals.positive),
            positivity: percent(lang, c.positivity),
        })
        .collect();
    let page = DashboardPage {
        stream: format!("/api/v1/testing/dashboard/stream?unit={}&days={days}", d.unit),
        unit: d.unit.clone(),
        unit_name: d.unit_name.clone(),
        period: format!("{} – {}", date_text(d.from), date_text(d.to)),
        days,
        day_choices: choices.into_iter().map(|n| (n, n == days)).collect(),
        parent,
        tests: number(lang, d.totals.collected),
        positive: number(lang, d.totals.positive),
        positivity: percent(lang, d.positivity),
        pending: number(lang, d.pending),
        tat_median: hours(lang, d.turnaround.median_hours),
        tat_p90: hours(lang, d.turnaround.p90_hours),
        rows: day_rows(lang, &d.days),
        children,
        data,
        ctx: ctx.with_caller(Some(&caller)),
    };
    Ok(render(&page))
}

/// One specimen as its person sees it.
pub struct ResultRow {
    pub barcode: String,
    pub test_type: &'static str,
    pub collected: String,
    pub resulted: Option<String>,
    pub status: &'static str,
    /// `positive`, `negative`, `invalid`, `retest_individually`, `pending`, or `rejected`
    /// for a specimen the lab could not test.
    pub conclusion: &'static str,
    /// The conclusion in words.
    pub word: &'static str,
    pub pooled: bool,
}

/// A person's results, for `results_list.html`.
pub struct ResultsOf {
    pub name: String,
    pub rows: Vec<ResultRow>,
}

fn result_row(ctx: &PageContext, s: &Specimen) -> ResultRow {
    let (conclusion, word) = match (s.conclusion, s.status) {
        (Some(Conclusion::Positive), _) => ("positive", "results_positive"),
        (Some(Conclusion::Negative), _) => ("negative", "results_negative"),
        (Some(Conclusion::Invalid), _) => ("invalid", "results_invalid"),
        // A pool that was positive says nothing yet about each swab in it.
        (Some(Conclusion::RetestIndividually), _) => ("retest_individually", "results_retest"),
        (None, SpecimenStatus::Rejected) => ("rejected", "results_rejected"),
        (None, _) => ("pending", "results_pending"),
    };
    let status = match s.status {
        SpecimenStatus::Collected => "results_status_collected",
        SpecimenStatus::InTransit => "results_status_in_transit",
        SpecimenStatus::Received => "results_status_received",
        SpecimenStatus::Resulted => "results_status_resulted",
        SpecimenStatus::Rejected => "results_status_rejected",
    };
    let test_type = match s.test_type {
        TestType::RtPcr => "results_rt_pcr",
        TestType::RapidAntigen => "results_rapid",
    };
    ResultRow {
        barcode: s.barcode.as_str().to_owned(),
        test_type: ctx.t(test_type),
        collected: local_time(s.collected_at),
        resulted: s.resulted_at.map(local_time),
        status: ctx.t(status),
        conclusion,
        word: ctx.t(word),
        pooled: s.pool.is_some(),
    }
}

/// People's results, ready for `results_list.html`.
pub(super) fn results_view(ctx: &PageContext, people: &[PersonResults]) -> Vec<ResultsOf> {
    people
        .iter()
        .map(|p| ResultsOf {
            name: p.full_name.clone(),
            rows: p.specimens.iter().map(|s| result_row(ctx, s)).collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "lookup.html")]
struct LookupPage {
    ctx: PageContext,
    /// 1: CCCD and date of birth; 2: the code; 3: the results.
    step: u8,
    cccd: String,
    birth: String,
    error: Option<String>,
    cccd_error: Option<&'static str>,
    birth_error: Option<&'static str>,
    results: Vec<ResultsOf>,
}

impl LookupPage {
    fn new(ctx: PageContext, step: u8, input: &LookupInput) -> LookupPage {
        LookupPage {
            ctx,
            step,
            cccd: input.cccd.trim().to_owned(),
            birth: birth_date(&input.date_of_birth),
            error: None,
            cccd_error: None,
            birth_error: None,
            results: Vec::new(),
        }
    }

    /// Shows what went wrong: a field's message beside it, the rest above the form.
    fn with_error(mut self, error: ServiceError) -> Response {
        let mut status = StatusCode::OK;
        match error {
            ServiceError::Invalid(invalid) if invalid.field == "cccd" => {
                self.step = 1;
                self.cccd_error = Some(self.ctx.t("lookup_cccd_invalid"));
            }
            ServiceError::Invalid(invalid) if invalid.field == "date_of_birth" => {
                self.step = 1;
                self.birth_error = Some(self.ctx.t("lookup_birth_invalid"));
            }
            ServiceError::Unauthenticated(_) => self.error = Some(self.ctx.t("lookup_wrong").to_owned()),
            ServiceError::RateLimited { retry_after_secs, .. } => {
                status = StatusCode::TOO_MANY_REQUESTS;
                self.error = Some(format!(
                    "{} {} {}",
                    self.ctx.t("lookup_rate_limited"),
                    retry_after_secs.div_ceil(60).max(1),
                    self.ctx.t("lookup_minutes")
                ));
            }
            other => {
                let api = crate::error::ApiError::from(other);
                status = api.status;
                self.error = Some(api.detail.message);
            }
        }
        (status, render(&self)).into_response()
    }
}

#[derive(Deserialize, Default)]
pub struct LookupInput {
    #[serde(default)]
    cccd: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    code: String,
}

/// A date of birth as the services read it: `dd/mm/yyyy` (how Vietnamese write dates)
/// becomes `yyyy-mm-dd`; anything else is passed on as typed, for the services to judge.
fn birth_date(typed: &str) -> String {
    let typed = typed.trim();
    let parts: Vec<&str> = typed.split(['/', '.', '-']).collect();
    if let [d, m, y] = parts.as_slice()
        && y.len() == 4
        && (1..=2).contains(&d.len())
        && (1..=2).contains(&m.len())
        && [d, m, y].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return format!("{y}-{m:0>2}-{d:0>2}");
    }
    typed.to_owned()
}

/// Answers that hold personal data are not kept by browsers or proxies.
pub async fn lookup_form(ctx: PageContext) -> Response {
    render(&LookupPage::new(ctx, 1, &LookupInput::default()))
}

/// Step 1 → 2: asks for a code, and says the same whether or not the details matched.
pub async fn lookup_code(
    State(state): State<AppState>,
    ctx: PageContext,
    parts: Parts,
    CsrfForm(input): CsrfForm<LookupInput>,
) -> Response {
    let client = client_address(&parts, &state);
    let page = LookupPage::new(ctx, 2, &input);
    match state.services.request_lookup_code(&page.cccd, &page.birth, &client).await {
        Ok(()) => private(render(&page)),
        Err(e) => private(LookupPage { step: 1, ..page }.with_error(e)),
    }
}

/// Step 2 → 3: the results when the details and the code match; otherwise the code form
/// again, with a message that does not say which part was wrong.
pub async fn lookup_results(
    State(state): State<AppState>,
    ctx: PageContext,
    parts: Parts,
    CsrfForm(input): CsrfForm<LookupInput>,
) -> Response {
    let client = client_address(&parts, &state);
    let mut page = LookupPage::new(ctx, 2, &input);
    match state.services.lookup_results(&page.cccd, &page.birth, &input.code, &client).await {
        Ok(found) => {
            page.step = 3;
            page.results = results_view(&page.ctx, std::slice::from_ref(&found));
            private(render(&page))
        }
        Err(e) => private(page.with_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_language() {
        assert_eq!(number(Lang::Vi, 1234567), "1.234.567");
        assert_eq!(number(Lang::En, 1234567), "1,234,567");
        assert_eq!(number(Lang::Vi, 999), "999");
        assert_eq!(number(Lang::En, -1000), "-1,000");
        assert_eq!(percent(Lang::Vi, Some(0.125)), "12,5%");
        assert_eq!(percent(Lang::En, Some(1.0)), "100.0%");
        assert_eq!(percent(Lang::En, None), "—");
    }

    #[test]
    fn parents_come_from_the_path() {
        assert_eq!(parent_of("/VN/01/00070/"), Some(("01".into(), "/VN/01/".into())));
        assert_eq!(parent_of("/VN/01/"), Some(("VN".into(), "/VN/".into())));
        assert_eq!(parent_of("/VN/"), None);
    }

    fn specimen(conclusion: Option<Conclusion>, pooled: bool) -> Specimen {
        let at = time::macros::datetime!(2025-08-01 02:30 UTC);
        Specimen {
            id: outbreak_domain::testing::SpecimenId(uuid::Uuid::nil()),
            barcode: outbreak_domain::testing::Barcode::new(outbreak_domain::testing::BarcodeKind::Specimen, 42),
            session: outbreak_domain::testing::SessionId(uuid::Uuid::nil()),
            person: outbreak_domain::PersonId(uuid::Uuid::nil()),
            test_type: TestType::RtPcr,
            site_path: "/VN/01/00070/".into(),
            home_path: "/VN/01/00070/".into(),
            collected_at: at,
            pool: pooled.then(|| outbreak_store::PoolRef {
                id: outbreak_domain::testing::PoolId(uuid::Uuid::nil()),
                barcode: outbreak_domain::testing::Barcode::new(outbreak_domain::testing::BarcodeKind::Pool, 7),
            }),
            status: if conclusion.is_some() { SpecimenStatus::Resulted } else { SpecimenStatus::Received },
            conclusion,
            ct: None,
            resulted_at: conclusion.map(|_| at + time::Duration::hours(5)),
            reject_reason: None,
            retest_of: None,
        }
    }

    fn lookup_html(specimens: Vec<Specimen>) -> String {
        let ctx =
            PageContext { lang: Lang::Vi, csrf: String::new(), signed_in: None, is_staff: false, is_admin: false };
        let people = [PersonResults {
            person: outbreak_domain::PersonId(uuid::Uuid::nil()),
            full_name: "Phạm Thị Mai".into(),
            specimens,
        }];
        let results = results_view(&ctx, &people);
        let page = LookupPage { results, step: 3, ..LookupPage::new(ctx, 3, &LookupInput::default()) };
        page.render().unwrap()
    }

    /// A pool that tested positive asks its members for a retest: never "positive" for them.
    #[test]
    fn a_positive_pool_reads_as_a_retest() {
        let html = lookup_html(vec![specimen(Some(Conclusion::RetestIndividually), true)]);
        assert!(html.contains(r#"data-conclusion="retest_individually""#), "{html}");
        assert!(html.contains("cần xét nghiệm lại riêng (mẫu gộp)"), "{html}");
        assert!(!html.contains("Dương tính") && !html.contains("dương tính"), "{html}");
        assert!(html.contains("09:30"), "times in Vietnam's zone: {html}");
    }

    #[test]
    fn a_positive_result_says_what_to_do() {
        let html = lookup_html(vec![specimen(Some(Conclusion::Positive), false), specimen(None, false)]);
        assert!(html.contains(r#"data-conclusion="positive""#) && html.contains(r#"data-conclusion="pending""#));
        assert!(html.contains("Tự cách ly tại nhà") && html.contains("Trạm y tế xã/phường sẽ gọi"), "{html}");
    }

    #[test]
    fn vietnamese_dates_of_birth_are_read() {
        assert_eq!(birth_date(" 12/5/1990 "), "1990-05-12");
        assert_eq!(birth_date("1990-05-12"), "1990-05-12");
        assert_eq!(birth_date("1990"), "1990");
        assert_eq!(birth_date("12/5/90"), "12/5/90");
    }
}
