//! Contact tracing in a real headless Chromium: a positive result makes a case, tracing runs
//! by itself and finds an F1 at a market, an F1 at home and an F2 on a bus; the commune's
//! tracer sees them on the case page, traces again, adds a named contact, moves contacts in
//! bulk and one by one, and opens the chain; a tracer in Ho Chi Minh City sees their own
//! resident in their queue and follows them up; the contacts get SMS; the case's tracer
//! still sees how the other province's contact stands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use fantoccini::{Client, Locator};
use outbreak_domain::testing::{CaseId, NewResult, NewSession};
use outbreak_domain::venue::NewVenue;
use outbreak_domain::{NewPerson, PersonId, local_date, now};
use outbreak_services::checkins::VisitorId;
use outbreak_store::{Contact, NewCheckin, Venue};
use outbreak_testkit::browser::Browser;
use support::pages::{attr, citizen_sign_in, click, fill, goto, screenshot, sign_out, staff_sign_in, text};
use support::{TestServer, root};
use time::OffsetDateTime;

async fn register(server: &TestServer, name: &str, phone: &str, unit: &str, household: Option<&str>) -> PersonId {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: "1985-02-03".into(),
        sex: "male".into(),
        phone: Some(phone.into()),
        address_unit: unit.into(),
        street: "7 Hàng Đường".into(),
        household: household.map(Into::into),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap().id()
}

async fn venue(server: &TestServer, name: &str, kind: &str) -> Venue {
    let input = NewVenue {
        name: name.into(),
        kind: kind.into(),
        plate: (kind == "bus").then(|| "29B-123.45".into()),
        unit: "00070".into(),
        address: "Phố Hàng Da".into(),
        contact_phone: "0912999999".into(),
    };
    server.services.register_venue(&root(), &input).await.unwrap()
}

/// A stay of a registered person at `venue`, `from` to `to` minutes after `t0`, as a gate
/// system reports it.
async fn stay(server: &TestServer, venue: &Venue, person: PersonId, t0: OffsetDateTime, from: i64, to: i64) {
    let checkin = NewCheckin {
        venue: venue.id,
        visitor: person.to_string(),
        name: String::new(),
        at: t0 + time::Duration::minutes(from),
        until: t0 + time::Duration::minutes(to),
        source: "api".into(),
        client_key: None,
    };
    server.services.store.record_checkins(vec![checkin], time::Duration::ZERO, vec![]).await.unwrap();
}

/// Waits for automatic tracing to list `f1` and `f2` contacts of the case.
async fn wait_for_contacts(server: &TestServer, case: CaseId, f1: u64, f2: u64) -> Vec<Contact> {
    let mut last = (0, 0);
    for _ in 0..300 {
        let found = server.services.contacts(&root(), case).await.unwrap();
        if (found.f1, found.f2) == (f1, f2) {
            return found.contacts;
        }
        last = (found.f1, found.f2);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tracing listed {last:?} F1/F2, not {f1}/{f2}");
}

async fn wait_for_sms(server: &TestServer, phone: &str, text: &str) -> String {
    for _ in 0..150 {
        if let Some(message) = server.messages(phone).into_iter().find(|m| m.contains(text)) {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no SMS with {text:?} reached {phone}: {:?}", server.messages(phone));
}

fn contact_of(contacts: &[Contact], person: PersonId) -> &Contact {
    contacts.iter().find(|c| c.person == Some(person)).unwrap_or_else(|| panic!("{person} is no contact"))
}

/// Opens a link's target by its address (clicking links races navigation on slow machines).
async fn follow(c: &Client, server: &TestServer, css: &str) {
    let href = attr(c, css, "href").await;
    let url = if href.starts_with("http") { href } else { format!("{}{href}", server.url) };
    goto(c, &url).await;
}

async fn wait_for(c: &Client, css: &str) {
    c.wait().for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css} never appeared: {e}"));
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn choose(c: &Client, css: &str, value: &str) {
    let select = c.wait().for_element(Locator::Css(css)).await.unwrap();
    select.select_by_value(value).await.unwrap();
}

#[tokio::test]
async fn a_positive_result_is_traced_followed_up_across_provinces_and_drawn() {
    let server = TestServer::start().await;
    let services = &server.services;
    let hamlet = services.add_child_unit(&root(), "00070", "TDP1", "Tổ dân phố 1", "").await.unwrap();
    let home = services.add_child_unit(&root(), hamlet.code.as_str(), "H1", "Hộ ông Ca", "").await.unwrap();
    let f0 = register(&server, "Nguyễn Văn Ca", "0911000001", "00070", Some(home.code.as_str())).await;
    let spouse = register(&server, "Nguyễn Thị Hộ", "0911000002", "00070", Some(home.code.as_str())).await;
    let trader = register(&server, "Trần Văn Buôn", "0911000003", "26740", None).await;
    let rider = register(&server, "Lê Văn Xe", "0911000005", "00070", None).await;
    let market = venue(&server, "Chợ Hàng Da", "market").await;
    let bus = venue(&server, "Xe buýt số 9", "bus").await;

    // This morning: the case and the trader at the market together, then the trader on a bus
    // with the rider.
    let t0 = now() - time::Duration::hours(6);
    stay(&server, &market, f0, t0, 0, 60).await;
    stay(&server, &market, trader, t0, 30, 60).await;
    stay(&server, &bus, trader, t0, 180, 240).await;
    stay(&server, &bus, rider, t0, 210, 270).await;

    // The case is sampled and comes back positive; tracing runs by itself.
    let session = NewSession {
        site: "Trạm Y tế Hoàn Kiếm".into(),
        unit: "00070".into(),
        date: local_date(now()).to_string(),
        test_type: "rt_pcr".into(),
        ..NewSession::default()
    };
    let session = services.open_session(&root(), &session).await.unwrap();
    let who = VisitorId { person_id: Some(f0.0), ..VisitorId::default() };
    let specimen = services.take_specimen(&root(), session.id, &who).await.unwrap();
    let result = NewResult {
        barcode: specimen.barcode.to_string(),
        result: "positive".into(),
        ct: Some(22.0),
        resulted_at: None,
    };
    let recorded = services.record_results(&root(), &[result]).await.unwrap();
    let case = recorded[0].cases[0];
    let contacts = wait_for_contacts(&server, case, 2, 1).await;
    let (at_market, at_home, on_bus) =
        (contact_of(&contacts, trader).id, contact_of(&contacts, spouse).id, contact_of(&contacts, rider).id);

    let hanoi = server.staff("tracer.hk", "tracer", "00070").await;
    let saigon = server.staff("tracer.hcm", "tracer", "26740").await;
    let browser = Browser::start().await;
    let c = &browser.client;

    // The commune's tracer finds the case in the list and opens it.
    staff_sign_in(c, &server, "tracer.hk", &hanoi).await;
    wait_for(c, "#tracing-link").await;
    goto(c, &format!("{}/cases", server.url)).await;
    follow(c, &server, &format!("#case-{case} a.case-link")).await;
    wait_for(c, &format!("#case-page[data-case='{case}']")).await;
    wait_for(c, &format!("#f1-contacts #contact-{at_market}[data-kind='venue'][data-status='identified']")).await;
    wait_for(c, &format!("#f1-contacts #contact-{at_home}[data-kind='household']")).await;
    wait_for(c, &format!("#f2-contacts #contact-{on_bus}[data-generation='2']")).await;
    let f1 = text(c, "#f1-contacts").await;
    for expected in ["Trần Văn Buôn", "Chợ Hàng Da", "ở cùng lúc 30 phút", "Nguyễn Thị Hộ", "Cùng hộ gia đình", "26740"]
    {
        assert!(f1.contains(expected), "{expected:?} missing from the F1 list: {f1}");
    }
    let f2 = text(c, "#f2-contacts").await;
    for expected in ["Lê Văn Xe", "Xe buýt số 9", "qua Trần Văn Buôn"] {
        assert!(f2.contains(expected), "{expected:?} missing from the F2 list: {f2}");
    }
    assert_eq!((text(c, "#count-f1").await, text(c, "#count-f2").await), ("2".into(), "1".into()));
    assert_eq!(attr(c, &format!("#contact-{at_market} a[href^='tel:']"), "href").await, "tel:+84911000003");
    screenshot(c, "tracing-case").await;

    // Tracing again on demand finds nobody new, and says so.
    click(c, "#trace-now").await;
    wait_for(c, "#trace-report").await;
    assert_eq!((text(c, "#report-f1").await, text(c, "#report-f2").await), ("2".into(), "1".into()));
    assert!(text(c, "#report-summary").await.contains("2 F1 (0 mới), 1 F2 (0 mới)"));
    assert!(text(c, "#report-venues").await.contains("Chợ Hàng Da"));

    // The case names a friend known only by phone.
    fill(c, "#named-phone", "0911 000 009").await;
    fill(c, "#named-name", "Phạm Văn Bạn").await;
    fill(c, "#named-note", "ăn sáng cùng nhau").await;
    click(c, "#add-named").await;
    wait_for(c, "#case-message").await;
    wait_for(c, "#f1-contacts tr[data-kind='named']").await;
    assert!(text(c, "#f1-contacts").await.contains("Phạm Văn Bạn"));
    assert_eq!(text(c, "#count-f1").await, "3");

    // The case goes into isolation.
    choose(c, "#case-status-select", "isolating").await;
    fill(c, "#case-note", "cách ly tại bệnh viện dã chiến").await;
    click(c, "#save-case-status").await;
    wait_for(c, "#case-status[data-status='isolating']").await;

    // The chain draws the case and one node per contact, edges saying where they met.
    let rows = count(c, "tr.contact").await;
    assert_eq!(rows, 4);
    follow(c, &server, "#chain-link").await;
    wait_for(c, "svg#chain-svg #node-case").await;
    let contacts = services.contacts(&root(), case).await.unwrap().contacts;
    for contact in &contacts {
        wait_for(c, &format!("svg#chain-svg #node-{}", contact.id)).await;
    }
    assert_eq!(count(c, "svg#chain-svg g[id^='node-']").await, contacts.len() + 1);
    let drawing = c.find(Locator::Css("svg#chain-svg")).await.unwrap().html(false).await.unwrap();
    for label in ["Chợ Hàng Da", "Xe buýt số 9", "hộ gia đình", "được kể tên"] {
        assert!(drawing.contains(label), "no edge says {label:?}");
    }
    wait_for(c, "#chain-legend li").await;
    screenshot(c, "tracing-chain").await;

    // A link cut short when it was copied names no page, and says so in words.
    let cut = format!("{}/cases/{}", server.url, &case.to_string()[..20]);
    goto(c, &cut).await;
    assert!(text(c, "main").await.contains("Không có trang nào ở đường dẫn này"), "{cut}");

    // The queue of Hoàn Kiếm: its own residents, not the trader who lives in Saigon.
    goto(c, &format!("{}/tracing", server.url)).await;
    wait_for(c, "#queue").await;
    assert_eq!(count(c, &format!("#queue tr[data-person='{trader}']")).await, 0);
    assert_eq!(count(c, "#queue tr.contact").await, 3, "the household F1, the named F1 and the F2");
    let followed_in = text(c, &format!("#contact-{at_home} .followed-in")).await;
    assert!(followed_in.ends_with("Phường Hoàn Kiếm (00070)"), "units are named: {followed_in}");
    click(c, &format!("#pick-{at_home}")).await;
    click(c, &format!("#pick-{on_bus}")).await;
    choose(c, "#bulk-status", "notified").await;
    click(c, "#bulk-apply").await;
    wait_for(c, "#trace-moved").await;
    wait_for(c, &format!("#contact-{at_home}[data-status='notified']")).await;
    wait_for(c, &format!("#contact-{on_bus}[data-status='notified']")).await;
    click(c, &format!("#contact-{at_home} button[value='quarantining']")).await;
    wait_for(c, &format!("#contact-{at_home}[data-status='quarantining']")).await;
    // Tested suits the one in quarantine only: the other is refused by name, not lost.
    click(c, &format!("#pick-{at_home}")).await;
    click(c, &format!("#pick-{on_bus}")).await;
    choose(c, "#bulk-status", "tested").await;
    fill(c, "#bulk-note", "lấy mẫu ngày 1").await;
    click(c, "#bulk-apply").await;
    wait_for(c, "#trace-refused").await;
    let refused = text(c, "#trace-refused").await;
    assert!(refused.contains("Lê Văn Xe: Đã thông báo — chỉ có thể chuyển sang Đang cách ly"), "{refused}");
    assert!(!refused.contains("Nguyễn Thị Hộ"), "{refused}");
    assert!(text(c, "#trace-moved").await.contains("Nguyễn Thị Hộ"));
    wait_for(c, &format!("#contact-{at_home}[data-status='tested']")).await;
    wait_for(c, &format!("#contact-{on_bus}[data-status='notified']")).await;
    screenshot(c, "tracing-queue-hanoi").await;
    sign_out(c, &server).await;

    // Ho Chi Minh City's tracer sees their own resident and follows them up.
    staff_sign_in(c, &server, "tracer.hcm", &saigon).await;
    goto(c, &format!("{}/tracing", server.url)).await;
    let row = format!("#contact-{at_market}[data-person='{trader}']");
    wait_for(c, &row).await;
    assert_eq!(count(c, "#queue tr.contact").await, 1);
    assert!(text(c, &row).await.contains("Chợ Hàng Da"));
    click(c, &format!("#contact-{at_market} button[value='notified']")).await;
    wait_for(c, &format!("#contact-{at_market}[data-status='notified']")).await;
    fill(c, &format!("#contact-{at_market} input[name='note']"), "cách ly tại nhà, Thủ Đức").await;
    click(c, &format!("#contact-{at_market} button[value='quarantining']")).await;
    wait_for(c, &format!("#contact-{at_market}[data-status='quarantining']")).await;
    goto(c, &format!("{}/tracing?status=quarantining&lang=en", server.url)).await;
    wait_for(c, &row).await;
    assert!(text(c, "h1").await.contains("Tracers' queue"));
    assert!(text(c, &row).await.contains("Quarantining"));
    // The case itself stays Hanoi's.
    goto(c, &format!("{}/cases/{case}", server.url)).await;
    wait_for(c, "main").await;
    assert_eq!(count(c, "#case-page").await, 0, "another province's tracer cannot open the case");
    goto(c, &format!("{}/tracing", server.url)).await;
    wait_for(c, &row).await;
    screenshot(c, "tracing-queue-saigon").await;
    sign_out(c, &server).await;

    // The contacts were told by SMS, without naming the case.
    let told = wait_for_sms(&server, "+84911000003", "tiep xuc gan").await;
    assert!(!told.contains("NGUYEN") && !told.contains("Nguyễn"), "{told}");
    wait_for_sms(&server, "+84911000002", "tiep xuc gan").await;
    wait_for_sms(&server, "+84911000005", "(F1)").await;
    wait_for_sms(&server, "+84911000009", "tiep xuc gan").await;

    // The trader reads on their own page (in English, as chosen above) what to do and until
    // when, without the case named.
    citizen_sign_in(c, &server, "0911 000 003", "+84911000003").await;
    let notice = text(c, "#contact-notices").await;
    assert!(notice.contains("Chợ Hàng Da") && notice.contains("Isolate until"), "{notice}");
    assert!(!notice.contains("Nguyễn Văn Ca"), "{notice}");
    screenshot(c, "tracing-contact-own-page").await;
    sign_out(c, &server).await;
    // So does the friend the case named, known only by phone, once they sign in with it.
    citizen_sign_in(c, &server, "0911 000 009", "+84911000009").await;
    let notice = text(c, "#contact-notices").await;
    assert!(notice.contains("Phạm Văn Bạn: Close contact (F1) of a case on"), "{notice}");
    sign_out(c, &server).await;

    // Hanoi's tracer still sees how the trader stands.
    staff_sign_in(c, &server, "tracer.hk", &hanoi).await;
    goto(c, &format!("{}/cases/{case}", server.url)).await;
    wait_for(c, &format!("#contact-{at_market}[data-status='quarantining']")).await;
    goto(c, &format!("{}/clusters", server.url)).await;
    wait_for(c, "#no-clusters").await;
    browser.client.clone().close().await.unwrap();
}

/// A case for `person` of Hoàn Kiếm, entered by staff now, with symptoms since yesterday.
async fn confirm(server: &TestServer, person: PersonId) -> CaseId {
    let confirmed_at = now();
    let case = outbreak_store::Case {
        id: CaseId(uuid::Uuid::now_v7()),
        person,
        unit: outbreak_domain::UnitCode::parse("unit", "00070").unwrap(),
        unit_path: "/VN/01/00070/".into(),
        source: "staff".into(),
        specimen: None,
        sample_date: None,
        onset_date: Some(local_date(confirmed_at) - time::Duration::days(1)),
        confirmed_at,
        status: outbreak_domain::testing::CaseStatus::Confirmed,
        note: "Bệnh viện báo".into(),
    };
    server.services.store.insert_case(&case).await.unwrap();
    case.id
}

#[tokio::test]
async fn a_contact_who_becomes_a_case_extends_the_chain_and_makes_a_cluster() {
    use outbreak_services::clusters::ClusterOrder;
    use outbreak_services::tracing::NamedContact;

    let server = TestServer::start().await;
    let services = &server.services;
    let hamlet = services.add_child_unit(&root(), "00070", "TDP2", "Tổ dân phố 2", "").await.unwrap();
    let home = services.add_child_unit(&root(), hamlet.code.as_str(), "H7", "Hộ bà Lan", "").await.unwrap();
    let f0 = register(&server, "Đỗ Thị Lan", "0912000001", "00070", Some(home.code.as_str())).await;
    let husband = register(&server, "Đỗ Văn Nam", "0912000002", "00070", Some(home.code.as_str())).await;
    let trader = register(&server, "Vũ Văn Chợ", "0912000003", "26740", None).await;
    let market = venue(&server, "Chợ Đồng Xuân", "market").await;
    let t0 = now() - time::Duration::hours(5);
    stay(&server, &market, f0, t0, 0, 60).await;
    stay(&server, &market, trader, t0, 20, 50).await;
    let tea = venue(&server, "Quán trà Hồ Gươm", "restaurant").await;
    stay(&server, &tea, husband, t0, 120, 180).await;
    stay(&server, &tea, trader, t0, 150, 200).await;

    // The first case: her husband (home) and the trader (market) are her F1s.
    let first = confirm(&server, f0).await;
    let contacts = wait_for_contacts(&server, first, 2, 0).await;
    let (at_home, at_market) = (contact_of(&contacts, husband).id, contact_of(&contacts, trader).id);

    // The husband falls ill too: his wife and the trader (at the tea shop) are his F1s; he
    // names a friend, and the trader once more.
    let second = confirm(&server, husband).await;
    wait_for_contacts(&server, second, 2, 0).await;
    let name = |visitor: VisitorId| NamedContact { visitor, exposed_at: None, note: "uống trà".into() };
    let friend =
        VisitorId { phone: Some("0912000009".into()), name: Some("Hồ Văn Bạn".into()), ..VisitorId::default() };
    let friend = services.name_contact(&root(), second, &name(friend)).await.unwrap();
    let by_id = VisitorId { person_id: Some(trader.0), ..VisitorId::default() };
    let conflict = services.name_contact(&root(), second, &name(by_id)).await;
    assert!(conflict.is_err(), "the trader is his contact already");

    // Her chain: the husband is marked as a case, his friend hangs from him, his meeting
    // with the trader is one edge more, and nobody is drawn twice.
    let chain = services.chain(&root(), first).await.unwrap();
    let node = |id| chain.contacts.iter().find(|c| c.contact.id == id).unwrap();
    let him = node(at_home);
    assert_eq!(him.case.as_ref().map(|k| (k.id, k.visible)), Some((second, true)));
    assert!(node(at_market).case.is_none());
    let drawn_friend = node(friend.id);
    assert_eq!((drawn_friend.depth, drawn_friend.from), (2, Some(at_home)));
    assert_eq!(chain.contacts.len(), 3, "wife and trader are not drawn again");
    let links: Vec<_> = chain.links.iter().map(|l| (l.from, l.to)).collect();
    assert_eq!(links, [(at_home, Some(at_market))], "his wife is joined to him already");

    // The cluster: two cases, the wife's first; Hoàn Kiếm sees it, Saigon does not.
    let hanoi = server.staff("tracer.hk2", "tracer", "00070").await;
    let (client, _) = server.signed_in("tracer.hk2", &hanoi).await;
    let clusters = services.clusters(&root(), ClusterOrder::Size).await.unwrap();
    assert_eq!(clusters.len(), 1);
    assert_eq!((clusters[0].root, clusters[0].size(), clusters[0].last_7_days), (first, 2, 2));
    let page = client.get(format!("{}/clusters", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("href=\"/cases/{first}/chain\"")), "{page}");
    let page = client.get(format!("{}/cases/{first}/chain", server.url)).send().await.unwrap().text().await.unwrap();
    for id in ["node-case".to_owned(), format!("node-{at_home}"), format!("node-{}", friend.id)] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id} is not drawn");
    }
    assert!(page.contains(&format!("href=\"/cases/{second}/chain\"")), "the husband's node opens his chain");
    assert!(page.contains(">Quán trà Hồ Gươm</text>"), "the extra edge says where they met");
    let saigon = server.staff("tracer.hcm2", "tracer", "26740").await;
    let (client, _) = server.signed_in("tracer.hcm2", &saigon).await;
    let page = client.get(format!("{}/clusters", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"no-clusters\""), "{page}");
    let denied = client.get(format!("{}/cases/{first}/chain", server.url)).send().await.unwrap();
    assert_eq!(denied.status(), 403);
}
