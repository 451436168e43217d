//! Check-in and health declaration in a real headless Chromium: a venue's poster followed
//! as a phone camera would, signed in and not; staff checking visitors in by personal QR
//! and by health-insurance number; a deactivated venue refusing check-ins.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use fantoccini::wd::PrintConfiguration;
use fantoccini::{Client, Locator};
use outbreak_domain::venue::{NewDeclaration, NewVenue};
use outbreak_domain::{NewPerson, PersonId};
use outbreak_store::DeclarationFilter;
use outbreak_testkit::browser::Browser;
use support::pages::{attr, citizen_sign_in, click, fill, goto, screenshot, staff_sign_in, text};
use support::{TestServer, root};

/// How many A4 pages the current page prints on.
async fn printed_pages(client: &Client) -> usize {
    let config = PrintConfiguration::builder().shrink_to_fit(false).build().unwrap();
    let pdf = client.print(config).await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("venue-poster.pdf"), &pdf);
    let pdf = String::from_utf8_lossy(&pdf);
    pdf.matches("/Type /Page").count() - pdf.matches("/Type /Pages").count()
}

async fn register(server: &TestServer, name: &str, phone: &str, insurance: Option<&str>) -> PersonId {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: "1984-02-03".into(),
        sex: "male".into(),
        phone: Some(phone.into()),
        insurance_number: insurance.map(Into::into),
        address_unit: "00070".into(),
        street: "8 Hàng Bạc".into(),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap().id()
}

/// A venue registered by commune staff in 00070; returns its code.
async fn venue(server: &TestServer, name: &str, kind: &str, plate: Option<&str>) -> String {
    let input = NewVenue {
        name: name.into(),
        kind: kind.into(),
        plate: plate.map(Into::into),
        unit: "00070".into(),
        address: "1 Đinh Tiên Hoàng".into(),
        contact_phone: "0243 826 1234".into(),
    };
    server.services.register_venue(&root(), &input).await.unwrap().code
}

async fn checkins(server: &TestServer) -> u64 {
    server.services.store.count_checkins().await.unwrap()
}

#[tokio::test]
async fn a_poster_is_followed_by_phones_that_check_in_and_declare_and_the_owner_sees_the_warning() {
    let server = TestServer::start().await;
    let owner = Browser::start().await;
    let c = &owner.client;

    // A shop owner signs in with their phone and registers the shop.
    citizen_sign_in(c, &server, "0912 000 111", "+84912000111").await;
    goto(c, &format!("{}/venues/new", server.url)).await;
    fill(c, "#venue-name", "Tạp hoá Bình An").await;
    click(c, "#venue-kind option[value='bus']").await;
    fill(c, "#venue-unit", "00070").await;
    fill(c, "#venue-address", "12 Hàng Bạc").await;
    click(c, "#register-venue").await;
    let error = text(c, "#form-error").await;
    assert!(error.starts_with("Biển số: "), "the field is named: {error}");
    assert_eq!(attr(c, "#venue-plate", "aria-invalid").await, "true");
    assert_eq!(attr(c, "#venue-name", "value").await, "Tạp hoá Bình An", "what was typed is kept");
    click(c, "#venue-kind option[value='shop']").await;
    click(c, "#register-venue").await;
    let code = text(c, "#venue-code").await;
    assert_eq!(c.current_url().await.unwrap().path(), format!("/venues/{code}"));
    assert_eq!(text(c, "#today-count").await, "0");

    // Its poster: the QR's URL, the code in large letters, both languages.
    let poster = attr(c, "#poster-link", "href").await;
    goto(c, &format!("{}{poster}", server.url)).await;
    let url = attr(c, "#poster-qr", "data-url").await;
    assert_eq!(url, format!("{}/v/{code}", server.url));
    assert_eq!(text(c, "#poster-url").await, url);
    assert_eq!(text(c, "#poster-code").await, code);
    let qr = c.find(Locator::Css("#poster-qr svg")).await.unwrap().rectangle().await.unwrap();
    assert!(qr.2 > 250.0, "the QR is large: {qr:?}");
    let poster_text = text(c, "#poster").await;
    assert!(poster_text.contains("Quét mã QR") && poster_text.contains("Scan the QR code"), "{poster_text}");
    assert!(poster_text.contains("Tạp hoá Bình An") && poster_text.contains("Cửa hàng / Shop"), "{poster_text}");
    screenshot(c, "venue-poster").await;
    assert_eq!(printed_pages(c).await, 1, "the poster prints on one A4 page");

    // The owner follows the URL as their camera would, and checks in with one tap.
    goto(c, &url).await;
    click(c, "#checkin-self").await;
    let done = text(c, "#checked-in").await;
    assert!(done.contains("Đã check-in") && done.contains("Tạp hoá Bình An"), "{done}");
    assert_eq!(checkins(&server).await, 1);

    // A visitor without an account checks in with phone and name, then declares a fever.
    {
        let visitor = Browser::start().await;
        let v = &visitor.client;
        goto(v, &url).await;
        // A number cut short is refused in the page's language, and nothing is stored.
        fill(v, "#visitor-phone", "0987 111").await;
        fill(v, "#visitor-name", "Lê Văn Khách").await;
        click(v, "#checkin-phone").await;
        let refused = text(v, "#checkin-error").await;
        assert!(refused.contains("phải là số điện thoại Việt Nam"), "{refused}");
        assert_eq!(checkins(&server).await, 1);
        v.find(Locator::Css("#visitor-phone")).await.unwrap().clear().await.unwrap();
        v.find(Locator::Css("#visitor-name")).await.unwrap().clear().await.unwrap();
        fill(v, "#visitor-phone", "0987 111 222").await;
        screenshot(v, "checkin-page").await;
        fill(v, "#visitor-name", "Lê Văn Khách").await;
        click(v, "#checkin-phone").await;
        text(v, "#checked-in").await;
        assert!(text(v, "#signin-later").await.contains("0987 111 222"));
        assert_eq!(attr(v, "#declare-phone", "value").await, "0987 111 222");
        click(v, "#symptom-fever").await;
        click(v, "#declare").await;
        let warning = text(v, "#flagged-warning").await;
        assert!(warning.contains("Sốt"), "{warning}");
        assert!(warning.contains("đưa màn hình này cho nhân viên"), "{warning}");
        screenshot(v, "flagged-warning").await;
        visitor.client.clone().close().await.unwrap();
    }
    assert_eq!(checkins(&server).await, 2);

    // The owner's page: two check-ins today and the flagged arrival, without names.
    goto(c, &format!("{}/venues/{code}", server.url)).await;
    assert_eq!(text(c, "#today-count").await, "2");
    let flagged = text(c, "#flagged-arrivals").await;
    assert!(flagged.contains("Sốt"), "{flagged}");
    assert!(!c.source().await.unwrap().contains("Lê Văn Khách"), "the owner never sees visitors' names");
    screenshot(c, "venue-page").await;

    // The owner's diary shows the visit.
    goto(c, &format!("{}/me/diary", server.url)).await;
    let visits = text(c, "#visits").await;
    assert!(visits.contains("Tạp hoá Bình An") && visits.contains(&code), "{visits}");
    screenshot(c, "diary").await;

    // Leaving early: checking out ends the visit now, and the button goes.
    click(c, ".check-out").await;
    let mut gone = false;
    for _ in 0..50 {
        if c.find(Locator::Css(".check-out")).await.is_err() && c.find(Locator::Css("#visits")).await.is_ok() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the visit was checked out");
    owner.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn staff_check_visitors_in_by_personal_qr_and_by_insurance_number() {
    let server = TestServer::start().await;
    let password = server.staff("officer", "health_officer", "00070").await;
    let scanned = register(&server, "Vũ Thị Quét", "0911222333", None).await;
    register(&server, "Đặng Văn Thẻ", "0911222444", Some("DN4010123456789")).await;
    let code = venue(&server, "Xe buýt tuyến 09", "bus", Some("29B-123.45")).await;

    let browser = Browser::start().await;
    let c = &browser.client;
    staff_sign_in(c, &server, "officer", &password).await;
    goto(c, &format!("{}/venues/{code}", server.url)).await;
    click(c, "#start-checkin-mode").await;
    text(c, "#checkin-mode-on").await;

    // The phone camera opens the personal QR's URL: in check-in mode that is a check-in.
    let token = server.services.personal_qr_token(scanned).await.unwrap();
    goto(c, &server.services.personal_qr_url(&token)).await;
    let done = text(c, "#scan-checked-in").await;
    assert!(done.contains("Xe buýt tuyến 09"), "{done}");
    assert!(!c.source().await.unwrap().contains("Vũ Thị Quét"), "the check-in page names nobody");
    assert_eq!(checkins(&server).await, 1);
    screenshot(c, "scan-checked-in").await;

    // Someone without a phone gives their health-insurance number.
    let back = attr(c, "#back-to-venue", "href").await;
    goto(c, &format!("{}{back}", server.url)).await;
    fill(c, "#visitor-id", "DN4010123456789").await;
    click(c, "#checkin-visitor").await;
    assert!(text(c, "#visitor-checked-in").await.contains("Đã check-in"));
    assert_eq!(checkins(&server).await, 2);

    // A number nobody holds is refused and stores nothing.
    fill(c, "#visitor-id", "DN4010999999999").await;
    click(c, "#checkin-visitor").await;
    assert!(text(c, "#visitor-error").await.contains("no person"));
    assert_eq!(checkins(&server).await, 2);

    // Commune staff read the visitor log (audited), which names the visitors.
    let log = attr(c, "#visitor-log-link", "href").await;
    goto(c, &format!("{}{log}", server.url)).await;
    let visitors = text(c, "#visitors").await;
    assert!(visitors.contains("Đặng Văn Thẻ") && visitors.contains("Nhân viên check-in"), "{visitors}");

    // A flagged declaration at the venue reaches the commune health station's list.
    let cough = NewDeclaration { symptoms: vec!["cough".into()], ..NewDeclaration::default() };
    server.services.declare(None, Some(&code), Some("0977 555 666"), &cough).await.unwrap();
    goto(c, &format!("{}/staff", server.url)).await;
    let list = attr(c, "#declarations-link", "href").await;
    goto(c, &format!("{}{list}", server.url)).await;
    let flagged = text(c, "#flagged-declarations").await;
    assert!(
        flagged.contains("Xe buýt tuyến 09") && flagged.contains("Ho") && flagged.contains("0977555666"),
        "{flagged}"
    );

    // Out of check-in mode, a scan opens the person for staff again.
    goto(c, &format!("{}/venues/{code}", server.url)).await;
    click(c, "#leave-checkin-mode").await;
    c.wait().for_element(Locator::Css("#start-checkin-mode")).await.unwrap();
    goto(c, &server.services.personal_qr_url(&token)).await;
    assert_eq!(text(c, "#person-name").await, "Vũ Thị Quét");
    assert_eq!(checkins(&server).await, 2);
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_scan_link_from_another_site_records_nothing_until_confirmed() {
    let server = TestServer::start().await;
    let password = server.staff("officer", "health_officer", "00070").await;
    let person = register(&server, "Vũ Thị Quét", "0911222333", None).await;
    let code = venue(&server, "Văn phòng phường", "office", None).await;
    let token = server.services.personal_qr_token(person).await.unwrap();
    let (client, csrf) = server.signed_in("officer", &password).await;
    let started = client
        .post(format!("{}/venues/{code}/checkin-mode", server.url))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303);

    // A link in a message opens the scan URL: the phone asks before recording.
    let url = server.services.personal_qr_url(&token);
    let page = client.get(&url).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("id=\"confirm-scan\""));
    assert_eq!(checkins(&server).await, 0);

    let confirmed = client.post(format!("{url}/checkin")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(confirmed.status(), 200);
    assert!(confirmed.text().await.unwrap().contains("id=\"scan-checked-in\""));
    assert_eq!(checkins(&server).await, 1);

    // The phone camera itself (no Sec-Fetch-Site from another site) records at once.
    let other = register(&server, "Đặng Văn Thẻ", "0911222444", None).await;
    let token = server.services.personal_qr_token(other).await.unwrap();
    let page =
        client.get(server.services.personal_qr_url(&token)).header("sec-fetch-site", "none").send().await.unwrap();
    assert!(page.text().await.unwrap().contains("id=\"scan-checked-in\""));
    assert_eq!(checkins(&server).await, 2);
}

#[tokio::test]
async fn a_traveller_declares_a_domestic_journey_with_places_typed_by_name() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    let c = &browser.client;
    // From the front page, without an account.
    goto(c, &server.url).await;
    click(c, "#declare-link").await;
    fill(c, "#declare-phone", "0966 777 888").await;
    fill(c, "#from-unit", "Không Có Nơi Này").await;
    fill(c, "#to-unit", "Phường Sài Gòn").await;
    let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date().to_string();
    c.execute("document.getElementById('travel-date').value = arguments[0]", vec![serde_json::json!(today)])
        .await
        .unwrap();
    fill(c, "#vehicle", "xe khách 51B-123.45").await;
    click(c, "#declare").await;
    let error = text(c, "#declare-error").await;
    assert!(error.starts_with("Đi từ"), "the field is named: {error}");
    let filter = DeclarationFilter { limit: 10, ..DeclarationFilter::default() };
    assert!(server.services.store.declarations(&filter).await.unwrap().is_empty());

    // What was typed is kept; the traveller corrects the place, typed without diacritics.
    assert_eq!(attr(c, "#to-unit", "value").await, "Phường Sài Gòn");
    fill(c, "#from-unit", "phuong hoan kiem").await;
    click(c, "#f0-contact").await;
    click(c, "#declare").await;
    assert!(text(c, "#flagged-warning").await.contains("tiếp xúc F0"));
    let stored = server.services.store.declarations(&filter).await.unwrap();
    assert_eq!(stored.len(), 1);
    let record = &stored[0].record;
    assert_eq!(record.move_from.as_ref().map(|u| u.as_str()), Some("00070"));
    assert_eq!(record.move_to.as_ref().map(|u| u.as_str()), Some("26740"));
    assert_eq!(record.vehicle, "xe khách 51B-123.45");
    assert!(record.flagged);
    browser.client.clone().close().await.unwrap();
}

/// The `ob_csrf` cookie a response sets.
fn csrf_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("ob_csrf=").and_then(|rest| rest.split(';').next()))
        .expect("a CSRF cookie")
        .to_owned()
}

#[tokio::test]
async fn a_deactivated_or_unknown_venue_refuses_check_ins_clearly_and_stores_nothing() {
    let server = TestServer::start().await;
    let code = venue(&server, "Chợ đêm cũ", "market", None).await;
    server.services.set_venue_active(&root(), &code, false).await.unwrap();

    let browser = Browser::start().await;
    let c = &browser.client;
    goto(c, &format!("{}/v/{code}", server.url)).await;
    let refusal = text(c, "#checkin-closed").await;
    assert!(refusal.contains("Chợ đêm cũ") && refusal.contains("không còn nhận check-in"), "{refusal}");
    assert!(c.find(Locator::Css("#checkin-phone")).await.is_err(), "no check-in form");
    screenshot(c, "venue-closed").await;

    goto(c, &format!("{}/v/ZZZZ2345?lang=en", server.url)).await;
    let unknown = text(c, "#checkin-closed").await;
    assert!(unknown.contains("No venue has this code"), "{unknown}");
    browser.client.clone().close().await.unwrap();

    // Forms sent anyway (an old page left open) are refused with the same page.
    let client = TestServer::client();
    let page = client.get(format!("{}/v/{code}", server.url)).send().await.unwrap();
    assert_eq!(page.status(), 410);
    let csrf = csrf_cookie(&page);
    let form = [("csrf", csrf.as_str()), ("phone", "0987111222"), ("name", "Lê Văn Muộn"), ("symptoms", "fever")];
    let checkin = client.post(format!("{}/v/{code}/checkin", server.url)).form(&form).send().await.unwrap();
    assert_eq!(checkin.status(), 410);
    let declare = client.post(format!("{}/v/{code}/declare", server.url)).form(&form).send().await.unwrap();
    assert_eq!(declare.status(), 410);
    let unknown = client.get(format!("{}/v/ZZZZ2345", server.url)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    assert_eq!(checkins(&server).await, 0);
    let filter = DeclarationFilter { limit: 10, ..DeclarationFilter::default() };
    assert!(server.services.store.declarations(&filter).await.unwrap().is_empty());
}
