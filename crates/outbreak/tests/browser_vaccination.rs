//! Vaccination in a real headless Chromium: an organisation's manager uploads a list with
//! good, bad and duplicate rows and reads the report; the planner's session invites the
//! next in line; the citizen confirms on their page; the vaccinator scans the personal QR
//! (a hand scanner types it; then the phone's camera in camera mode), screens and records
//! the dose; the citizen sees it and downloads its certificate; the verifier page accepts
//! it and refuses a tampered copy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use fantoccini::Locator;
use outbreak_domain::vaccination::{OrganisationStatus, Slot};
use outbreak_domain::{NewPerson, local_date, now};
use outbreak_services::vaccination::{
    LotInput, OrganisationApplication, OrganisationDecision, SessionInput, SiteInput,
};
use outbreak_testkit::browser::Browser;
use support::pages::{attr, citizen_sign_in, click, fill, goto, screenshot, sign_out, staff_sign_in, text, wait_text};
use support::{TestServer, root};

#[tokio::test]
async fn a_list_uploaded_a_session_planned_a_dose_recorded_and_seen() {
    let server = TestServer::start().await;
    let elder = NewPerson {
        full_name: "Nguyễn Thị Thọ".into(),
        date_of_birth: "1950-02-02".into(),
        sex: "female".into(),
        phone: Some("0912444555".into()),
        cccd: Some("001150000031".into()),
        address_unit: "00070".into(),
        street: "3 Hàng Đào".into(),
        ..NewPerson::default()
    };
    let elder = server.services.register_person(&root(), &elder).await.unwrap().id();
    let manager = server.staff("org.manager", "organisation_manager", "00070").await;
    let planner = server.staff("planner", "health_officer", "00070").await;
    let vaccinator = server.staff("vaccinator", "vaccinator", "00070").await;

    let organisation = server
        .services
        .apply_organisation(&OrganisationApplication {
            name: "Chợ Đồng Xuân".into(),
            kind: "market".into(),
            unit: "00070".into(),
            address: "Đồng Xuân".into(),
            contact_phone: "0912000111".into(),
        })
        .await
        .unwrap();
    let decision = OrganisationDecision { approve: true, manager: Some("org.manager".into()), note: String::new() };
    let approved = server.services.decide_organisation(&root(), organisation.id, &decision).await.unwrap();
    assert_eq!(approved.status, OrganisationStatus::Approved);
    let lot = LotInput {
        lot: "AZ7001".into(),
        product: "vaxzevria".into(),
        expires_on: "2030-12-31".into(),
        unit: "00070".into(),
    };
    server.services.add_lot(&root(), &lot).await.unwrap();
    let site =
        SiteInput { name: "Trạm Y tế Hoàn Kiếm".into(), unit: "00070".into(), address: "2 Hàng Bài".into() };
    let site = server.services.create_site(&root(), &site).await.unwrap();
    let start = time::Time::from_hms(7, 30, 0).unwrap();
    let session = SessionInput {
        site: site.id,
        date: local_date(now()).to_string(),
        product: "vaxzevria".into(),
        lot: "AZ7001".into(),
        slots: vec![Slot { start, end: start + time::Duration::hours(2), capacity: 1 }],
    };
    let session = server.services.create_session(&root(), &session).await.unwrap();

    let browser = Browser::start().await;
    let c = &browser.client;

    // The market's manager uploads its list: the elder (already known), a new trader, the
    // new trader again, and a row with a date that does not exist.
    let file = server.dir.join("danh-sach-cho.csv");
    std::fs::write(
        &file,
        "Họ và tên,Ngày sinh,Số CCCD,Số điện thoại,Nhóm ưu tiên\n\
         Nguyễn Thị Thọ,02/02/1950,001150000031,0912444555,5\n\
         Trần Văn Hàng,1985-06-01,001085000032,+84913444666,5\n\
         Trần Văn Hàng,01/06/1985,001085000032,0913444666,5\n\
         Lê Thị Sai,31/02/1990,001190000033,0914444777,5\n",
    )
    .unwrap();
    staff_sign_in(c, &server, "org.manager", &manager).await;
    goto(c, &format!("{}/vaccination", server.url)).await;
    let input = c.wait().for_element(Locator::Css("#registrations-file")).await.unwrap();
    input.send_keys(file.to_str().unwrap()).await.unwrap();
    click(c, "#upload-registrations").await;
    let summary = wait_text(c, "#registration-summary", |t| !t.is_empty()).await;
    assert!(summary.starts_with("1 đã đăng ký mới, 1 trùng người đã có"), "{summary}");
    let rows = c.find_all(Locator::Css("#registration-rows tr[data-status]")).await.unwrap();
    let mut statuses = Vec::new();
    for row in &rows {
        statuses.push(row.attr("data-status").await.unwrap().unwrap_or_default());
    }
    assert_eq!(statuses, ["matched", "registered", "already_registered", "refused"]);
    assert!(text(c, "#registration-rows").await.contains("31/02/1990"));
    screenshot(c, "vaccination-upload-report").await;
    sign_out(c, &server).await;

    // The planner runs the allocator: one place, and the elder comes first.
    staff_sign_in(c, &server, "planner", &planner).await;
    goto(c, &format!("{}/vaccination/sessions/{}", server.url, session.id)).await;
    click(c, "#allocate").await;
    let invited = wait_text(c, "#invitations", |t| t.contains("Nguyễn Thị Thọ")).await;
    assert!(invited.contains("Đã gửi lời mời"), "{invited}");
    sign_out(c, &server).await;
    server.services.notify_pending().await.unwrap();
    assert!(server.messages("+84912444555").iter().any(|m| m.contains("moi tiem")));

    // The elder confirms on their page.
    citizen_sign_in(c, &server, "0912 444 555", "+84912444555").await;
    click(c, ".confirm-invitation").await;
    let invitation = wait_text(c, "#my-doses", |t| t.contains("Đã xác nhận")).await;
    assert!(invitation.contains("Chưa tiêm mũi nào"), "{invitation}");
    sign_out(c, &server).await;

    // The vaccinator's hand scanner types the personal QR; screening; the dose.
    let qr = server.services.personal_qr_url(&server.services.personal_qr_token(elder).await.unwrap());
    staff_sign_in(c, &server, "vaccinator", &vaccinator).await;
    goto(c, &format!("{}/vaccination/sites/{}", server.url, site.id)).await;
    fill(c, "#scanned", &qr).await;
    click(c, "#find-person").await;
    assert_eq!(text(c, "#vaccinee-name").await, "Nguyễn Thị Thọ");
    assert_eq!(text(c, "#next-dose").await, "1");
    screenshot(c, "vaccination-screening").await;

    // On a phone without a hand scanner: camera mode, then the camera opens the QR's URL.
    click(c, "#start-camera-mode").await;
    c.wait().for_element(Locator::Css("#camera-mode-on")).await.unwrap();
    goto(c, &qr).await;
    assert_eq!(text(c, "#vaccinee-name").await, "Nguyễn Thị Thọ");
    click(c, "#record-dose").await;
    let recorded = text(c, "#dose-recorded").await;
    assert!(recorded.contains("Đã ghi nhận mũi tiêm 1"), "{recorded}");
    // The person's record shows the dose to staff who may read vaccination.
    goto(c, &format!("{}/people/{elder}", server.url)).await;
    let history = text(c, "#person-doses").await;
    assert!(history.contains("Mũi 1") && history.contains("Chứng nhận"), "{history}");
    sign_out(c, &server).await;

    // The citizen sees the dose.
    citizen_sign_in(c, &server, "0912 444 555", "+84912444555").await;
    let doses = wait_text(c, "#my-doses", |t| t.contains("Mũi 1")).await;
    assert!(doses.contains("Vaxzevria") && doses.contains("Trạm Y tế Hoàn Kiếm"), "{doses}");
    screenshot(c, "vaccination-citizen-doses").await;
    let (_, invitations) = server.services.vaccination_session(&root(), session.id).await.unwrap();
    assert_eq!(invitations[0].status.as_str(), "attended");

    // The certificate: a QR with what it states in both languages, the same one again on
    // a second download.
    click(c, ".certificate-link").await;
    assert_eq!(text(c, "#cert-dose").await, "1/2");
    assert!(text(c, "#cert-vaccine").await.starts_with("Vaxzevria"));
    assert!(text(c, "#cert-name").await.contains("NGUYEN<<THI<THO"));
    assert!(c.find(Locator::Css("#certificate-qr svg")).await.is_ok());
    let hc1 = c.find(Locator::Css("#certificate-hc1")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(hc1.starts_with("HC1:"), "{hc1}");
    let uvci = text(c, "#cert-uvci").await;
    screenshot(c, "vaccination-certificate").await;
    c.refresh().await.unwrap();
    assert_eq!(text(c, "#cert-uvci").await, uvci);

    // The verifier (no account needed) accepts it and says what it states.
    sign_out(c, &server).await;
    goto(c, &format!("{}/verify", server.url)).await;
    fill(c, "#verify-hc1", &hc1).await;
    click(c, "#verify-submit").await;
    assert_eq!(attr(c, "#verdict", "data-valid").await, "true");
    assert_eq!(text(c, "#verdict-uvci").await, uvci);
    assert!(text(c, "#verdict-name").await.contains("Nguyễn"));
    screenshot(c, "verify-valid").await;

    // One character changed inside the signed content: refused, saying it was altered.
    let tampered = support::tampered_hc1(&hc1, "NGUYEN");
    goto(c, &format!("{}/verify", server.url)).await;
    fill(c, "#verify-hc1", &tampered).await;
    click(c, "#verify-submit").await;
    let verdict = text(c, "#verdict").await;
    assert!(verdict.contains("KHÔNG HỢP LỆ") && verdict.contains("đã bị sửa"), "{verdict}");
    screenshot(c, "verify-tampered").await;

    // Text that is not a certificate at all gets a message and the form again.
    goto(c, &format!("{}/verify", server.url)).await;
    fill(c, "#verify-hc1", "HC1:NOT A CERTIFICATE").await;
    click(c, "#verify-submit").await;
    assert!(text(c, "#verify-error").await.contains("không phải là một chứng nhận"));
}
