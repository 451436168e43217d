//! A day of testing in a real headless Chromium: a sampler scans three personal QRs with the
//! phone's camera (one scan and one tap each) into a pool, the lab records the pool
//! positive, the members are sent to retest, one retest is positive; the citizen sees the
//! result and gets an SMS, the case appears for their commune, and the dashboard changes
//! while it is open.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use fantoccini::Locator;
use outbreak_domain::testing::{NewResult, NewSession};
use outbreak_domain::{NewPerson, PersonId, local_date, now};
use outbreak_services::checkins::VisitorId;
use outbreak_testkit::browser::Browser;
use support::pages::{citizen_sign_in, click, fill, goto, screenshot, sign_out, staff_sign_in, text, wait_text};
use support::{TestServer, root};

async fn register(server: &TestServer, name: &str, phone: &str, cccd: &str) -> PersonId {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: "1990-05-12".into(),
        sex: "female".into(),
        phone: Some(phone.into()),
        cccd: Some(cccd.into()),
        address_unit: "00070".into(),
        street: "5 Lý Thái Tổ".into(),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap().id()
}

#[tokio::test]
async fn a_pooled_day_from_the_swab_to_the_case_and_the_live_dashboard() {
    let server = TestServer::start().await;
    let people = [
        register(&server, "Nguyễn Thị Hà", "0911111111", "001190000001").await,
        register(&server, "Trần Thị Lan", "0911111112", "001190000002").await,
        register(&server, "Lê Thị Mai", "0911111113", "001190000003").await,
    ];
    let sampler = server.staff("sampler", "sampler", "00070").await;
    let lab = server.staff("lab", "lab_technician", "01").await;
    let officer = server.staff("officer", "health_officer", "00070").await;
    let browser = Browser::start().await;
    let c = &browser.client;

    // The sampler opens a pooled session and turns on camera sampling mode.
    staff_sign_in(c, &server, "sampler", &sampler).await;
    // From the staff home, by the links the roles open.
    click(c, "#testing-link").await;
    fill(c, "#site", "Trạm Y tế Hàng Trống").await;
    fill(c, "#session-unit", "00070").await;
    fill(c, "#team", "Tổ 1").await;
    fill(c, "#pool-size", "5").await;
    click(c, "#open-session").await;
    assert_eq!(text(c, "#session-site").await, "Trạm Y tế Hàng Trống");
    let session_page = c.current_url().await.unwrap().to_string();
    click(c, "#start-sampling-mode").await;
    c.wait().for_element(Locator::Css("#sampling-mode-on")).await.unwrap();

    // Each person costs one scan (the camera opens their QR) and one tap: the scan shows
    // who it is and records nothing, the tap takes the specimen. Nothing else is needed.
    let mut pool = String::new();
    for (i, person) in people.iter().enumerate() {
        let token = server.services.personal_qr_token(*person).await.unwrap();
        goto(c, &server.services.personal_qr_url(&token)).await;
        c.wait().for_element(Locator::Css("#sampling-person")).await.unwrap();
        assert!(
            server.services.store.person_specimens(*person).await.unwrap().is_empty(),
            "the scan alone records nothing"
        );
        click(c, "#take-specimen").await;
        c.wait().for_element(Locator::Css("#specimen-taken")).await.unwrap();
        let taken_pool = text(c, "#taken-pool").await;
        assert!(pool.is_empty() || pool == taken_pool, "one pool for the three swabs");
        pool = taken_pool;
        assert_eq!(server.services.store.person_specimens(*person).await.unwrap().len(), 1, "person {i}");
    }
    screenshot(c, "sampling-taken").await;
    goto(c, &session_page).await;
    assert_eq!(c.find_all(Locator::Css("#specimens tr[data-conclusion]")).await.unwrap().len(), 3);
    click(c, &format!("tr[data-pool='{pool}'] .close-pool")).await;
    c.wait().for_element(Locator::Css(&format!("tr[data-pool='{pool}']"))).await.unwrap();
    sign_out(c, &server).await;

    // The lab receives the pool and records it positive: every member goes to retest.
    staff_sign_in(c, &server, "lab", &lab).await;
    assert!(c.find(Locator::Css("#tracing-link")).await.is_err(), "a lab has no tracers' queue");
    click(c, "#lab-link").await;
    fill(c, "#find-barcode", &pool).await;
    click(c, "#find-tube").await;
    assert_eq!(text(c, "#tube-barcode").await, pool);
    click(c, "#receive-tube").await;
    c.wait().for_element(Locator::Css("#tube-status[data-status='received']")).await.unwrap();
    click(c, "#result-positive").await;
    fill(c, "#ct", "24,5").await;
    click(c, "#record-result").await;
    c.wait().for_element(Locator::Css("#tube-message")).await.unwrap();
    let members = c.find_all(Locator::Css("#pool-members tr[data-conclusion='retest_individually']")).await.unwrap();
    assert_eq!(members.len(), 3, "a positive pool sends its members to an individual retest");
    screenshot(c, "lab-pool").await;
    sign_out(c, &server).await;

    // The first member is retested on her own, in a new individual session.
    let session = NewSession {
        site: "Trạm Y tế Hàng Trống".into(),
        unit: "00070".into(),
        date: local_date(now()).to_string(),
        test_type: "rt_pcr".into(),
        ..NewSession::default()
    };
    let retest_session = server.services.open_session(&root(), &session).await.unwrap();
    let by_cccd = VisitorId { cccd: Some("001190000001".into()), ..VisitorId::default() };
    let retest = server.services.take_specimen(&root(), retest_session.id, &by_cccd).await.unwrap();
    assert!(retest.retest_of.is_some() && retest.pool.is_none());

    // The commune's officer watches the dashboard while the retest comes back positive.
    staff_sign_in(c, &server, "officer", &officer).await;
    goto(c, &format!("{}/testing/dashboard?unit=00070", server.url)).await;
    c.wait().for_element(Locator::Css("#dash-live[data-live='on']")).await.unwrap();
    assert_eq!(text(c, "#dash-positive").await, "0");
    assert_eq!(text(c, "#dash-pending").await, "1");
    let result =
        NewResult { barcode: retest.barcode.to_string(), result: "positive".into(), ct: Some(21.0), resulted_at: None };
    let recorded = server.services.record_results(&root(), &[result]).await.unwrap();
    assert_eq!(recorded[0].cases.len(), 1);
    wait_text(c, "#dash-positive", |t| t == "1").await;
    wait_text(c, "#dash-pending", |t| t == "0").await;
    screenshot(c, "dashboard-live").await;

    goto(c, &format!("{}/cases", server.url)).await;
    let cases = text(c, "#cases").await;
    assert!(cases.contains("Nguyễn Thị Hà"), "{cases}");
    assert_eq!(c.find_all(Locator::Css("tr.case")).await.unwrap().len(), 1);
    sign_out(c, &server).await;

    // The citizen sees her own positive result, and the SMS gateway carried it.
    citizen_sign_in(c, &server, "0911 111 111", "+84911111111").await;
    goto(c, &format!("{}/me", server.url)).await;
    c.wait().for_element(Locator::Css("#my-results .result[data-conclusion='positive']")).await.unwrap();
    screenshot(c, "citizen-result").await;
    let mut sms = Vec::new();
    for _ in 0..50 {
        sms = server.messages("+84911111111");
        if sms.iter().any(|m| m.contains("DUONG TINH")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sms.iter().any(|m| m.contains("DUONG TINH")), "{sms:?}");
    assert!(
        server.messages("+84911111112").iter().all(|m| !m.contains("DUONG TINH")),
        "a pooled positive is never told as one's own"
    );
    browser.client.clone().close().await.unwrap();
}
