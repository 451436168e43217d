//! Narrow zoning in a real headless Chromium: the commune's tracer declares a market exposed
//! for the last hours and sees the two people checked in then, moves one on in their
//! follow-up, puts a neighbourhood under restriction and sees its resident and its shop,
//! then lifts it; the contacts get SMS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use fantoccini::Locator;
use outbreak_domain::venue::NewVenue;
use outbreak_domain::{NewPerson, now};
use outbreak_store::{NewCheckin, Venue};
use outbreak_testkit::browser::Browser;
use support::pages::{attr, citizen_sign_in, click, fill, goto, screenshot, sign_out, staff_sign_in, text};
use support::{TestServer, root};

async fn venue(server: &TestServer, name: &str, unit: &str) -> Venue {
    let input = NewVenue {
        name: name.into(),
        kind: "market".into(),
        plate: None,
        unit: unit.into(),
        address: "Phố Hàng Da".into(),
        contact_phone: "0912999999".into(),
    };
    server.services.register_venue(&root(), &input).await.unwrap()
}

/// A visitor who gave only a phone number, at `venue` from `from` to `to` minutes ago.
async fn stay(server: &TestServer, venue: &Venue, phone: &str, from: i64, to: i64) {
    let t0 = now();
    let checkin = NewCheckin {
        venue: venue.id,
        visitor: format!("tel:{phone}"),
        name: "Khách lẻ".into(),
        at: t0 - time::Duration::minutes(from),
        until: t0 - time::Duration::minutes(to),
        source: "api".into(),
        client_key: None,
    };
    server.services.store.record_checkins(vec![checkin], time::Duration::ZERO, vec![]).await.unwrap();
}

#[tokio::test]
async fn a_tracer_zones_a_market_and_a_neighbourhood() {
    let server = TestServer::start().await;
    let password = server.staff("tracer.zone", "tracer", "00070").await;
    server.services.add_child_unit(&root(), "00070", "TDP7", "Tổ dân phố 7", "").await.unwrap();
    let resident = NewPerson {
        full_name: "Đỗ Thị Lan".into(),
        date_of_birth: "1990-09-09".into(),
        sex: "female".into(),
        phone: Some("0914000777".into()),
        address_unit: "00070.TDP7".into(),
        street: "5 Ngõ Gạch".into(),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &resident).await.unwrap();
    let market = venue(&server, "Chợ Đồng Xuân", "00070").await;
    let shop = venue(&server, "Tạp hoá Tổ 7", "00070.TDP7").await;
    stay(&server, &market, "+84915000001", 120, 60).await;
    stay(&server, &market, "+84915000002", 100, 90).await;
    stay(&server, &market, "+84915000003", 600, 500).await; // before the window

    let browser = Browser::start().await;
    let c = &browser.client;
    staff_sign_in(c, &server, "tracer.zone", &password).await;
    click(c, "#zoning-link").await;

    // The form proposes the last three hours: the two who were there then are listed.
    fill(c, "#exposure-venue", &market.code).await;
    fill(c, "#exposure-reason", "Ca F0 bán hàng tại chợ").await;
    click(c, "#exposure-declare").await;
    c.wait().for_element(Locator::Css("#exposure-contacts")).await.unwrap();
    screenshot(c, "zoning-exposure").await;
    assert_eq!(text(c, "#exposure-count").await, "2");
    let rows = c.find_all(Locator::Css("#exposure-contacts tr.contact")).await.unwrap();
    assert_eq!(rows.len(), 2);
    let first = rows[0].attr("id").await.unwrap().unwrap();
    click(c, &format!("#{first} button[value='notified']")).await;
    c.wait().for_element(Locator::Css("#zoning-note")).await.unwrap();
    assert_eq!(attr(c, &format!("#{first}"), "data-status").await, "notified");

    // A visitor who checked in by phone alone signs in and reads what to do.
    sign_out(c, &server).await;
    citizen_sign_in(c, &server, "0915 000 002", "+84915000002").await;
    let notice = text(c, "#contact-notices").await;
    assert!(notice.contains("Chợ Đồng Xuân") && notice.contains("Hãy tự cách ly tại nhà"), "{notice}");
    sign_out(c, &server).await;
    staff_sign_in(c, &server, "tracer.zone", &password).await;

    // A trace report's hub visit links here with the venue and the case's stay filled in.
    goto(c, &format!("{}/zoning?venue={}&from=2026-05-10T08:00&until=2026-05-10T09:30", server.url, market.code)).await;
    assert_eq!(attr(c, "#exposure-venue", "value").await, market.code);
    assert_eq!(attr(c, "#exposure-from", "value").await, "2026-05-10T08:00");
    assert_eq!(attr(c, "#exposure-until", "value").await, "2026-05-10T09:30");

    // A neighbourhood under restriction: its resident and its shop, nobody else.
    goto(c, &format!("{}/zoning", server.url)).await;
    fill(c, "#restriction-unit", "00070.TDP7").await;
    fill(c, "#restriction-reason", "Cụm ca bệnh trong tổ dân phố").await;
    click(c, "#restriction-declare").await;
    c.wait().for_element(Locator::Css("#restriction-state")).await.unwrap();
    screenshot(c, "zoning-restriction").await;
    assert_eq!(attr(c, "#restriction-state", "data-state").await, "in_force");
    assert_eq!(text(c, "#resident-count").await, "1");
    assert!(text(c, "#residents").await.contains("Đỗ Thị Lan"));
    assert!(text(c, "#restricted-venues").await.contains(&shop.code));
    assert!(!text(c, "#restricted-venues").await.contains(&market.code));

    // The same neighbourhood again is refused, naming why.
    goto(c, &format!("{}/zoning", server.url)).await;
    fill(c, "#restriction-unit", "00070.TDP7").await;
    fill(c, "#restriction-reason", "Lần hai").await;
    click(c, "#restriction-declare").await;
    assert!(text(c, "#zoning-error").await.contains("restriction"), "the refusal says why");
    goto(c, &format!("{}/zoning", server.url)).await;
    click(c, "#restrictions tr.restriction a").await;
    click(c, "#restriction-lift").await;
    c.wait().for_element(Locator::Css("#restriction-state[data-state='over']")).await.unwrap();

    for _ in 0..100 {
        if !server.messages("+84915000002").is_empty() {
            assert!(server.messages("+84915000003").is_empty(), "nobody outside the window is told");
            browser.client.clone().close().await.unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no SMS reached the contact");
}
