//! The web pages in a real headless Chromium, as citizens and staff use them on a phone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use fantoccini::Locator;
use outbreak_domain::{NewPerson, PersonId};
use outbreak_testkit::browser::Browser;
use support::pages::{click, fill, screenshot, sign_out, staff_sign_in, text};
use support::{TestServer, root};

async fn register(server: &TestServer, name: &str, phone: &str, unit: &str) -> PersonId {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: "1990-05-12".into(),
        sex: "female".into(),
        phone: Some(phone.into()),
        address_unit: unit.into(),
        street: "5 Lý Thái Tổ".into(),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap().id()
}

#[tokio::test]
async fn citizen_signs_in_with_a_code_from_the_sms_log_and_sees_their_qr() {
    let server = TestServer::start().await;
    register(&server, "Phạm Thị Mai", "0987654321", "00070").await;
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&server.url).await.unwrap();
    let home = c.source().await.unwrap();
    assert!(home.contains("Người dân đăng nhập"), "Vietnamese first, and this is what the browser showed: {home}");
    click(c, "a[href='/signin']").await;
    fill(c, "#phone", "0987 654 321").await;
    click(c, "#send-code").await;
    c.wait().for_element(Locator::Css("#code")).await.unwrap();
    assert!(text(c, "main").await.contains("0987654321"));
    let code = server.last_code("+84987654321").expect("the code reached the SMS log");
    // A mistyped code is refused in the page's language; the right one still works after.
    fill(c, "#code", if code == "000000" { "111111" } else { "000000" }).await;
    click(c, "#verify").await;
    assert!(text(c, ".error").await.contains("Mã không đúng hoặc đã hết hạn"));
    c.find(Locator::Css("#code")).await.unwrap().clear().await.unwrap();
    fill(c, "#code", &code).await;
    click(c, "#verify").await;
    c.wait().for_element(Locator::Css(".qr svg")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/me"));
    assert_eq!(text(c, "section.qr-card h1").await, "Phạm Thị Mai");
    let qr = c.find(Locator::Css(".qr svg")).await.unwrap();
    let size = qr.rectangle().await.unwrap();
    assert!(size.2 > 150.0, "the QR is large enough to scan: {size:?}");
    screenshot(c, "citizen-home").await;

    click(c, "a.lang").await;
    c.wait().for_element(Locator::Css("html[lang='en']")).await.unwrap();
    assert!(text(c, "main").await.contains("Print QR card"), "English on request");
    click(c, "a.button[href^='/me/card/']").await;
    assert!(c.find(Locator::Css(".print-card .qr svg")).await.is_ok());
    screenshot(c, "citizen-card").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn tracer_opens_own_commune_is_refused_another_and_the_audit_log_shows_it() {
    let server = TestServer::start().await;
    let own = register(&server, "Nguyễn Thị Hà", "0911111111", "00070").await;
    let other = register(&server, "Trần Thị Sài", "0922222222", "26740").await;
    let tracer_password = server.staff("tracer.hk", "tracer", "00070").await;
    let admin_password = server.staff("admin", "admin", "VN").await;

    let browser = Browser::start().await;
    let c = &browser.client;
    staff_sign_in(c, &server, "tracer.hk", &tracer_password).await;
    c.wait().for_element(Locator::Css("form.search")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/staff"));
    fill(c, "#q", "nguyen thi ha").await;
    click(c, "form.search button").await;
    let link = c.wait().for_element(Locator::Css(".results a")).await.unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    c.goto(&format!("{}{href}", server.url)).await.unwrap();
    assert_eq!(text(c, "#person-name").await, "Nguyễn Thị Hà");
    assert!(c.current_url().await.unwrap().path().ends_with(&own.to_string()));
    screenshot(c, "tracer-person").await;

    c.goto(&format!("{}/people/{other}", server.url)).await.unwrap();
    let refusal = text(c, "#error-message").await;
    assert!(refusal.contains("outside your jurisdiction"), "{refusal}");
    assert_eq!(text(c, "#error-summary").await, "Bạn không có quyền xem hoặc làm việc này.");
    assert!(!c.source().await.unwrap().contains("Trần Thị Sài"));

    // A personal QR scanned with the phone's camera opens the person for staff.
    let token = server.services.personal_qr_token(own).await.unwrap();
    c.goto(&server.services.personal_qr_url(&token)).await.unwrap();
    assert_eq!(text(c, "#person-name").await, "Nguyễn Thị Hà");

    sign_out(c, &server).await;
    staff_sign_in(c, &server, "admin", &admin_password).await;
    c.goto(&format!("{}/admin/audit?actor=tracer.hk&action=person.read", server.url)).await.unwrap();
    let log = text(c, "#audit").await;
    assert!(log.contains(&own.to_string()), "{log}");
    assert!(!log.contains(&other.to_string()), "the refused read was not a read: {log}");
    screenshot(c, "admin-audit").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn staff_register_a_person_and_see_clear_errors() {
    let server = TestServer::start().await;
    let password = server.staff("officer", "health_officer", "00070").await;
    let browser = Browser::start().await;
    let c = &browser.client;
    staff_sign_in(c, &server, "officer", &password).await;
    c.goto(&format!("{}/people/new", server.url)).await.unwrap();
    fill(c, "#full_name", "Đỗ Văn Nam").await;
    fill(c, "#date_of_birth", "1987").await;
    fill(c, "#cccd", "001187012345").await;
    fill(c, "#address_unit", "00070").await;
    click(c, "#save").await;
    let error = text(c, "#form-error").await;
    assert!(error.contains("CCCD"), "the contradiction is explained: {error}");
    assert_eq!(server.people_count().await, 0);
    fill(c, "#cccd", "001087012345").await;
    fill(c, "#phone", "0912 345 678").await;
    click(c, "#save").await;
    assert_eq!(text(c, "#person-name").await, "Đỗ Văn Nam");
    assert_eq!(text(c, "#person-cccd").await, "001087012345");
    assert_eq!(server.people_count().await, 1);

    // Editing another field keeps the phone: regression for an edit form that had none.
    let person = c.current_url().await.unwrap().path().to_owned();
    c.goto(&format!("{}{person}/edit", server.url)).await.unwrap();
    fill(c, "#street", "7 Hàng Gai").await;
    click(c, "#save").await;
    assert!(text(c, "dl.facts").await.contains("0912345678"), "the phone survives an edit");
    browser.client.clone().close().await.unwrap();
}
