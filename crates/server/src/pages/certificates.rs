//! Certificate pages: a dose's EU Digital COVID Certificate as a printable QR with what it
//! states in Vietnamese and English (it travels abroad), and the public verifier, where
//! anyone pastes or scans an `HC1:` text and reads whether it holds and why not.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use outbreak_domain::vaccination::DoseId;
use outbreak_services::ServiceError;
use outbreak_services::certificates::{COUNTRY, DISEASE_COVID_19, ISSUER, Verification};
use serde::Deserialize;
use uuid::Uuid;

use super::i18n::Texts;
use super::{Lang, PageContext, local_time, private, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CsrfForm, MaybeCaller, PagePath};

pub(super) const TEXTS: Texts = &[
    ("cert_title", "Chứng nhận tiêm chủng COVID-19", "COVID-19 vaccination certificate"),
    ("cert_link", "Chứng nhận", "Certificate"),
    ("cert_name", "Họ và tên", "Name"),
    ("cert_birth", "Ngày sinh", "Date of birth"),
    ("cert_disease", "Bệnh phòng ngừa", "Disease targeted"),
    ("cert_vaccine", "Vắc xin", "Vaccine"),
    ("cert_manufacturer", "Nhà sản xuất", "Manufacturer"),
    ("cert_dose", "Mũi tiêm", "Dose"),
    ("cert_date", "Ngày tiêm", "Date of vaccination"),
    ("cert_country", "Quốc gia tiêm", "Country of vaccination"),
    ("cert_issuer", "Đơn vị cấp", "Issuer"),
    ("cert_id", "Mã chứng nhận", "Certificate identifier"),
    ("cert_expires", "Hiệu lực chữ ký đến", "Signature valid until"),
    ("cert_text", "Nội dung mã QR", "The QR code's text"),
    ("cert_check", "Kiểm tra chứng nhận này", "Check this certificate"),
    ("verify_title", "Kiểm tra chứng nhận COVID-19", "Check a COVID-19 certificate"),
    (
        "verify_intro",
        "Dán nội dung mã QR (bắt đầu bằng HC1:) của một chứng nhận COVID số theo chuẩn EU. Chữ ký được kiểm tra với danh sách khóa tin cậy của máy chủ này.",
        "Paste the text of an EU Digital COVID Certificate's QR code (it starts with HC1:). The signature is checked against this server's trust list.",
    ),
    ("verify_input", "Nội dung mã QR", "QR code text"),
    ("verify_submit", "Kiểm tra", "Check"),
    ("verify_valid", "HỢP LỆ", "VALID"),
    ("verify_invalid", "KHÔNG HỢP LỆ", "NOT VALID"),
    ("verify_malformed", "Đây không phải là một chứng nhận đọc được", "This is not a readable certificate"),
    ("verify_no_kid", "Chứng nhận không ghi khóa ký", "The certificate names no signing key"),
    ("verify_unknown_key", "Khóa ký không có trong danh sách tin cậy", "The signing key is not in the trust list"),
    ("verify_retired_key", "Khóa ký đã bị thu hồi", "The signing key was retired"),
    (
        "verify_bad_signature",
        "Chữ ký không khớp: chứng nhận đã bị sửa",
        "The signature does not match: the certificate was altered",
    ),
    (
        "verify_not_valid_now",
        "Chứng nhận không còn (hoặc chưa) có hiệu lực",
        "The certificate is expired or not yet valid",
    ),
    ("verify_revoked", "Chứng nhận đã bị thu hồi", "The certificate was revoked"),
    ("verify_issued", "Ngày cấp", "Issued"),
    ("verify_statement", "Nội dung", "States"),
    ("verify_test", "Xét nghiệm", "Test"),
    ("verify_recovery", "Đã khỏi bệnh, hiệu lực", "Recovery, valid"),
    ("verify_another", "Kiểm tra chứng nhận khác", "Check another certificate"),
];

/// One line of a certificate, labelled in both languages.
pub struct Line {
    pub vi: &'static str,
    pub en: &'static str,
    pub value: String,
    pub id: &'static str,
}

#[derive(Template)]
#[template(path = "certificate.html")]
struct CertificatePage {
    ctx: PageContext,
    vi: PageContext,
    en: PageContext,
    name: String,
    lines: Vec<Line>,
    hc1: String,
    qr_svg: String,
}

/// A dose's certificate, for its holder or staff who may open their record; no-store, as
/// it is personal.
pub async fn dose_certificate(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let caller = caller.ok_or(PageError::SignIn { staff: false })?;
    let certificate =
        state.services.dose_certificate(&caller, DoseId(id)).await.map_err(|e| PageError::from_service(e, lang))?;
    let (issued, facts) = (certificate.issued, certificate.facts);
    let qr_svg = outbreak_formats::qr::qr_svg(&issued.hc1, 480)
        .map_err(|e| PageError::from_service(ServiceError::Internal(format!("QR: {e}")), lang))?;
    let (vi, en) = (PageContext::texts_only(Lang::Vi), PageContext::texts_only(Lang::En));
    let product = outbreak_domain::vaccination::PRODUCTS.iter().find(|p| p.eu_product == facts.product);
    let transliterated = outbreak_formats::hcert::names::dcc_name(&facts.family_name, &facts.given_name);
    let line = |key: &'static str, id: &'static str, value: String| Line { vi: vi.t(key), en: en.t(key), value, id };
    let lines = vec![
        line("cert_birth", "cert-birth", facts.date_of_birth.clone()),
        line("cert_disease", "cert-disease", format!("COVID-19 (SNOMED {DISEASE_COVID_19})")),
        line("cert_vaccine", "cert-vaccine", product.map_or(facts.product.clone(), |p| p.name.to_owned())),
        line(
            "cert_manufacturer",
            "cert-manufacturer",
            product.map_or(facts.manufacturer.clone(), |p| p.manufacturer.to_owned()),
        ),
        line("cert_dose", "cert-dose", format!("{}/{}", facts.dose_number, facts.total_doses)),
        line("cert_date", "cert-date", facts.date.to_string()),
        line("cert_country", "cert-country", format!("Việt Nam / Viet Nam ({COUNTRY})")),
        line("cert_issuer", "cert-issuer", ISSUER.to_owned()),
        line("cert_id", "cert-uvci", issued.uvci.clone()),
        line("cert_expires", "cert-expires", local_time(issued.expires_at)),
    ];
    let name = format!(
        "{} {} ({}<<{})",
        facts.family_name,
        facts.given_name,
        transliterated["fnt"].as_str().unwrap_or_default(),
        transliterated["gnt"].as_str().unwrap_or_default()
    );
    Ok(private(render(&CertificatePage {
        ctx: ctx.with_caller(Some(&caller)),
        vi,
        en,
        name,
        lines,
        hc1: issued.hc1,
        qr_svg,
    })))
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    ctx: PageContext,
    hc1: String,
    error: Option<String>,
    verdict: Option<VerdictView>,
}

/// A verifier's answer as the page shows it.
pub struct VerdictView {
    pub valid: bool,
    /// Translated failures, each with the server's detail.
    pub reasons: Vec<(String, String)>,
    pub name: String,
    pub birth: String,
    pub statements: Vec<String>,
    pub uvci: String,
    pub issued_at: String,
    pub expires_at: String,
}

impl VerdictView {
    fn new(ctx: &PageContext, verdict: &Verification) -> VerdictView {
        let content = &verdict.content;
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
        let name = &content["nam"];
        let statements = ["v", "t", "r"]
            .iter()
            .flat_map(|kind| content[*kind].as_array().into_iter().flatten().map(move |s| (kind, s)))
            .map(|(kind, s)| match *kind {
                "v" => format!(
                    "{} {}/{} · {} · {}",
                    ctx.t("cert_dose"),
                    s["dn"],
                    s["sd"],
                    product_label(&text(&s["mp"])),
                    text(&s["dt"])
                ),
                "t" => format!("{} · {} · {}", ctx.t("verify_test"), text(&s["tt"]), text(&s["sc"])),
                _ => format!("{} · {} – {}", ctx.t("verify_recovery"), text(&s["df"]), text(&s["du"])),
            })
            .collect();
        VerdictView {
            valid: verdict.valid,
            reasons: verdict
                .reasons
                .iter()
                .map(|r| (ctx.t(&format!("verify_{}", r.code)).to_owned(), r.reason.clone()))
                .collect(),
            name: [text(&name["fn"]), text(&name["gn"])].join(" ").trim().to_owned(),
            birth: text(&content["dob"]),
            statements,
            uvci: verdict.uvci().unwrap_or_default().to_owned(),
            issued_at: verdict.issued_at.map(local_time).unwrap_or_default(),
            expires_at: verdict.expires_at.map(local_time).unwrap_or_default(),
        }
    }
}

/// A product's name from its EU code, or the code when it is not one Vietnam used.
fn product_label(eu_code: &str) -> String {
    outbreak_domain::vaccination::PRODUCTS
        .iter()
        .find(|p| p.eu_product == eu_code)
        .map_or_else(|| eu_code.to_owned(), |p| p.name.to_owned())
}

pub async fn verify_form(ctx: PageContext, MaybeCaller(caller): MaybeCaller) -> Response {
    render(&VerifyPage { ctx: ctx.with_caller(caller.as_ref()), hc1: String::new(), error: None, verdict: None })
}

#[derive(Deserialize)]
pub struct VerifyInput {
    #[serde(default)]
    hc1: String,
}

/// Checks the pasted text; a text that is no certificate at all gets a message, not an
/// error page, so the verifier can paste again.
pub async fn verify(
    State(state): State<AppState>,
    ctx: PageContext,
    MaybeCaller(caller): MaybeCaller,
    CsrfForm(input): CsrfForm<VerifyInput>,
) -> Result<Response, PageError> {
    let ctx = ctx.with_caller(caller.as_ref());
    let hc1 = input.hc1.trim().to_owned();
    let mut page = VerifyPage { ctx, hc1, error: None, verdict: None };
    match state.services.verify_certificate(&page.hc1).await {
        Ok(verdict) => page.verdict = Some(VerdictView::new(&page.ctx, &verdict)),
        Err(ServiceError::Invalid(invalid)) => {
            page.error = Some(format!("{}: {}", page.ctx.t("verify_malformed"), invalid.message));
        }
        Err(e) => return Err(PageError::from_service(e, page.ctx.lang)),
    }
    Ok(private(render(&page)))
}
