//! Test results in a real headless Chromium: the testing dashboard following a lab's result
//! live, the citizen seeing it on their page, and the look-up without an account that
//! answers the same whether or not the details match anyone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use outbreak_domain::testing::{NewResult, NewSession};
use outbreak_domain::{NewPerson, PersonId, local_date, now};
use outbreak_services::checkins::VisitorId;
use outbreak_store::Specimen;
use outbreak_testkit::browser::Browser;
use support::pages::{attr, citizen_sign_in, click, fill, goto, screenshot, sign_out, staff_sign_in, text};
use support::{TestServer, root};

const PHONE: &str = "0987654321";
const E164: &str = "+84987654321";
const CCCD: &str = "001190012345";
const CODE_SENT: &str =
    "Nếu các thông tin này khớp với một người đã đăng ký, mã tra cứu đã được gửi tới số điện thoại của người đó.";

async fn register(server: &TestServer) -> PersonId {
    let person = NewPerson {
        full_name: "Phạm Thị Mai".into(),
        date_of_birth: "1990-05-12".into(),
        sex: "female".into(),
        phone: Some(PHONE.into()),
        cccd: Some(CCCD.into()),
        address_unit: "00070".into(),
        street: "5 Lý Thái Tổ".into(),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap().id()
}

/// Swabs the person in an RT-PCR session in 00070 opened today.
async fn swab(server: &TestServer, person: PersonId) -> Specimen {
    let session = NewSession {
        site: "Trạm y tế phường Hoàn Kiếm".into(),
        unit: "00070".into(),
        date: local_date(now()).to_string(),
        test_type: "rt_pcr".into(),
        pool_size: None,
        ..NewSession::default()
    };
    let session = server.services.open_session(&root(), &session).await.unwrap();
    let visitor = VisitorId { person_id: Some(person.0), ..VisitorId::default() };
    server.services.take_specimen(&root(), session.id, &visitor).await.unwrap()
}

async fn record_negative(server: &TestServer, specimen: &Specimen) {
    let result =
        NewResult { barcode: specimen.barcode.as_str().into(), result: "negative".into(), ..NewResult::default() };
    let items = server.services.record_results(&root(), &[result]).await.unwrap();
    assert_eq!(items[0].status, "recorded", "{items:?}");
}

/// Waits up to ten seconds for the element to show `want`.
async fn wait_for_text(c: &Client, css: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = text(c, css).await;
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            screenshot(c, "dashboard-stuck").await;
            panic!("{css} shows {got:?}, not {want:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Lines the SMS log holds for a phone.
fn sms_count(server: &TestServer, phone: &str) -> usize {
    let log = std::fs::read_to_string(server.dir.join("sms.log")).unwrap_or_default();
    log.lines().filter(|line| line.split('\t').nth(1) == Some(phone)).count()
}

#[tokio::test]
async fn dashboard_follows_a_result_live_without_a_reload() {
    let server = TestServer::start().await;
    let person = register(&server).await;
    let specimen = swab(&server, person).await;
    let password = server.staff("officer", "health_officer", "00070").await;

    let browser = Browser::start().await;
    let c = &browser.client;
    staff_sign_in(c, &server, "officer", &password).await;
    click(c, "#dashboard-link").await;
    c.wait().for_element(Locator::Css("#dash-pending")).await.unwrap();
    goto(c, &format!("{}/testing/dashboard?unit=00070", server.url)).await;
    assert_eq!(text(c, "#dash-pending").await, "1");
    assert_eq!(text(c, "#dash-tests").await, "1");
    assert_eq!(text(c, "#dash-positivity").await, "—", "no conclusive result yet");
    let today = local_date(now());
    let today = format!("{:02}/{:02}/{}", today.day(), u8::from(today.month()), today.year());
    assert!(text(c, "#dash-days tbody tr").await.starts_with(&today));
    assert!(c.find(Locator::Css("#dash-up")).await.is_err(), "the province is outside a commune officer's reach");
    c.wait().for_element(Locator::Css("#dash-chart svg rect.bar-pcr")).await.unwrap();
    c.wait().for_element(Locator::Css("#dash-live[data-live='on']")).await.unwrap();
    // A mark that a reload would wipe out.
    c.execute("window.stillHere = 'yes';", vec![]).await.unwrap();

    record_negative(&server, &specimen).await;
    wait_for_text(c, "#dash-pending", "0").await;
    assert_eq!(text(c, "#dash-tests").await, "1");
    assert_eq!(text(c, "#dash-positive").await, "0");
    assert_eq!(text(c, "#dash-positivity").await, "0,0%", "Vietnamese decimals");
    assert_ne!(text(c, "#dash-tat-median").await, "—", "the turnaround is known now");
    let day = text(c, "#dash-days tbody tr").await;
    assert!(day.contains("0,0%"), "{day}");
    assert_eq!(c.execute("return window.stillHere;", vec![]).await.unwrap(), "yes", "the page was not reloaded");
    c.wait().for_element(Locator::Css("#dash-chart svg circle.dot-positivity")).await.unwrap();
    screenshot(c, "testing-dashboard").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn citizen_and_look_up_show_the_result_and_the_look_up_reveals_nothing() {
    let server = TestServer::start().await;
    let person = register(&server).await;
    let specimen = swab(&server, person).await;
    record_negative(&server, &specimen).await;

    let browser = Browser::start().await;
    let c = &browser.client;
    citizen_sign_in(c, &server, PHONE, E164).await;
    let result = "#my-results .result";
    assert_eq!(attr(c, result, "data-conclusion").await, "negative");
    let shown = text(c, result).await;
    assert!(shown.contains("Âm tính") && shown.contains("RT-PCR"), "{shown}");
    assert!(!shown.contains("Dương tính"), "{shown}");
    screenshot(c, "citizen-results").await;
    sign_out(c, &server).await;

    // Without an account: the landing page leads to the look-up.
    click(c, "#lookup-link").await;
    fill(c, "#lookup-cccd", "12345").await;
    fill(c, "#lookup-birth", "1990-05-12").await;
    click(c, "#lookup-send").await;
    assert!(text(c, "#lookup-cccd-error").await.contains("12 chữ số"));

    let before = sms_count(&server, E164);
    fill(c, "#lookup-cccd", CCCD).await;
    fill(c, "#lookup-birth", "12/05/1990").await;
    click(c, "#lookup-send").await;
    assert_eq!(text(c, "#lookup-sent").await, CODE_SENT);
    let matched_page = text(c, "main").await;
    assert_eq!(sms_count(&server, E164), before + 1, "a code went to the registered phone");
    let code = server.last_code(E164).expect("the look-up code reached the SMS log");

    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    fill(c, "#lookup-code", &wrong).await;
    click(c, "#lookup-check").await;
    let error = text(c, "#lookup-error").await;
    assert!(error.contains("không khớp"), "{error}");
    assert_eq!(text(c, "#lookup-sent").await, CODE_SENT, "the same step again");
    assert!(c.find(Locator::Css(".result")).await.is_err());

    fill(c, "#lookup-code", &code).await;
    click(c, "#lookup-check").await;
    assert_eq!(attr(c, "#lookup-results .result", "data-conclusion").await, "negative");
    assert!(text(c, "#lookup-results").await.contains("Phạm Thị Mai"));
    screenshot(c, "lookup-results").await;

    // Details that match nobody get the very same page, and no SMS goes anywhere.
    let log_before = std::fs::read_to_string(server.dir.join("sms.log")).unwrap();
    click(c, "#lookup-again").await;
    fill(c, "#lookup-cccd", "001190099999").await;
    fill(c, "#lookup-birth", "12/05/1990").await;
    click(c, "#lookup-send").await;
    assert_eq!(text(c, "#lookup-sent").await, CODE_SENT);
    assert_eq!(text(c, "main").await, matched_page, "nothing tells the two apart");
    assert_eq!(std::fs::read_to_string(server.dir.join("sms.log")).unwrap(), log_before);
    fill(c, "#lookup-code", &code).await;
    click(c, "#lookup-check").await;
    assert!(text(c, "#lookup-error").await.contains("không khớp"));
    assert!(c.find(Locator::Css(".result")).await.is_err());
    browser.client.clone().close().await.unwrap();
}
