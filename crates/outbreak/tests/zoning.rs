//! Narrow zoning through the API: a venue declared exposed for a window lists everyone
//! checked in then (and only them), an overlapping second declaration lists only who is
//! new, its contacts are followed up; a neighbourhood under restriction lists its residents
//! and venues; and the bad input a new user tries gets a clear answer and stores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use outbreak_domain::venue::NewVenue;
use outbreak_domain::{NewPerson, now};
use outbreak_store::{NewCheckin, Venue};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, call, root};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

async fn venue(server: &TestServer, name: &str) -> Venue {
    venue_in(server, name, "00070").await
}

async fn venue_in(server: &TestServer, name: &str, unit: &str) -> Venue {
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

async fn stay(server: &TestServer, venue: &Venue, visitor: &str, t0: OffsetDateTime, from: i64, to: i64) {
    let checkin = NewCheckin {
        venue: venue.id,
        visitor: visitor.into(),
        name: "Khách lẻ".into(),
        at: t0 + time::Duration::minutes(from),
        until: t0 + time::Duration::minutes(to),
        source: "api".into(),
        client_key: None,
    };
    server.services.store.record_checkins(vec![checkin], time::Duration::ZERO, vec![]).await.unwrap();
}

fn at(t0: OffsetDateTime, minutes: i64) -> String {
    (t0 + time::Duration::minutes(minutes)).format(&Rfc3339).unwrap()
}

fn visitors(contacts: &Value) -> Vec<String> {
    let mut listed: Vec<String> =
        contacts.as_array().unwrap().iter().map(|c| c["visitor"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    listed
}

#[tokio::test]
async fn a_venue_declared_exposed_lists_who_was_there_then() {
    exposure_lists_who_was_there(TestServer::start().await).await;
}

#[tokio::test]
async fn a_venue_declared_exposed_on_postgres() {
    exposure_lists_who_was_there(TestServer::start_postgres().await).await;
}

async fn exposure_lists_who_was_there(server: TestServer) {
    let tracer = server.system_token("tracer.hk", "tracer", "00070").await;
    let elsewhere = server.system_token("tracer.hcm", "tracer", "79").await;
    let market = venue(&server, "Chợ Hàng Da").await;
    let t0 = now() - time::Duration::days(1);
    stay(&server, &market, "tel:+84911000001", t0, 0, 60).await; // before and into the window
    stay(&server, &market, "tel:+84911000002", t0, 90, 120).await; // inside
    stay(&server, &market, "tel:+84911000003", t0, 200, 260).await; // after the window
    stay(&server, &market, "tel:+84911000004", t0, -120, -30).await; // before the window
    stay(&server, &market, "tel:+84911000005", t0, 185, 200).await; // inside the second window only

    // A window that ends before it starts: a clear 422, nothing stored.
    let backwards = json!({"venue": market.code, "from": at(t0, 180), "until": at(t0, 30), "reason": "F0"});
    let (status, error) = call(&server, &tracer, "POST", "/exposures", Some(backwards)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "window_ends_before_it_starts", "{error}");
    assert_eq!(error["error"]["field"], "until", "{error}");
    let (status, list) = call(&server, &tracer, "GET", "/exposures", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([]));

    // An unknown venue, and a venue outside one's jurisdiction.
    let unknown = json!({"venue": "NO-SUCH-VENUE", "from": at(t0, 30), "until": at(t0, 180), "reason": "F0"});
    let (status, error) = call(&server, &tracer, "POST", "/exposures", Some(unknown)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("venue"), "{error}");
    let body = json!({"venue": market.code, "from": at(t0, 30), "until": at(t0, 180), "reason": "Ca F0 đến chợ"});
    let (status, error) = call(&server, &elsewhere, "POST", "/exposures", Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");

    // Only the stays overlapping the window become contacts, with the exposure as evidence.
    let (status, report) = call(&server, &tracer, "POST", "/exposures", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["contacts"], 2, "{report}");
    assert_eq!(visitors(&report["new_contacts"]), ["tel:+84911000001", "tel:+84911000002"]);
    let first = report["exposure"]["id"].as_str().unwrap().to_owned();
    let (status, contacts) = call(&server, &tracer, "GET", &format!("/exposures/{first}/contacts"), None).await;
    assert_eq!(status, StatusCode::OK, "{contacts}");
    assert_eq!(visitors(&contacts), ["tel:+84911000001", "tel:+84911000002"]);
    let contact = &contacts[0];
    assert_eq!(contact["kind"], "venue");
    assert_eq!(contact["status"], "identified");
    assert_eq!(contact["evidence"]["kind"], "exposure");
    assert_eq!(contact["evidence"]["code"], market.code.as_str());
    assert_eq!(contact["unit_path"], "/VN/01/00070/");
    let (status, _) = call(&server, &elsewhere, "GET", &format!("/exposures/{first}/contacts"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An overlapping second declaration lists only who is new.
    let again = json!({"venue": market.code, "from": at(t0, 100), "until": at(t0, 190), "reason": "Ca F0 thứ hai"});
    let (status, report) = call(&server, &tracer, "POST", "/exposures", Some(again)).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["contacts"], 2, "{report}");
    assert_eq!(report["already_listed"], 1, "{report}");
    assert_eq!(visitors(&report["new_contacts"]), ["tel:+84911000005"]);
    let (_, list) = call(&server, &tracer, "GET", "/exposures", None).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (_, list) = call(&server, &elsewhere, "GET", "/exposures", None).await;
    assert_eq!(list, json!([]), "another province sees none");

    // Its contacts are followed up through the same steps as a case's.
    let id = contact["id"].as_str().unwrap();
    let path = format!("/exposure-contacts/{id}");
    let (status, moved) =
        call(&server, &tracer, "PUT", &path, Some(json!({"status": "notified", "note": "đã gọi"}))).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!((moved["status"].as_str(), moved["note"].as_str()), (Some("notified"), Some("đã gọi")));
    let (status, error) = call(&server, &tracer, "PUT", &path, Some(json!({"status": "released"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "bad_transition", "{error}");
    let (status, _) = call(&server, &elsewhere, "PUT", &path, Some(json!({"status": "quarantining"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The contacts hear of it.
    for _ in 0..100 {
        if server.messages("+84911000002").iter().any(|m| m.contains("cho hang da")) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no SMS reached the contact: {:?}", server.messages("+84911000002"));
}

#[tokio::test]
async fn a_neighbourhood_under_restriction_lists_residents_and_venues() {
    restriction_lists_residents_and_venues(TestServer::start().await).await;
}

#[tokio::test]
async fn a_neighbourhood_under_restriction_on_postgres() {
    restriction_lists_residents_and_venues(TestServer::start_postgres().await).await;
}

async fn resident(server: &TestServer, name: &str, unit: &str) {
    let person = NewPerson {
        full_name: name.into(),
        date_of_birth: "1979-06-01".into(),
        sex: "female".into(),
        phone: Some("0913000111".into()),
        address_unit: unit.into(),
        street: "3 Ngõ Huyện".into(),
        ..NewPerson::default()
    };
    server.services.register_person(&root(), &person).await.unwrap();
}

async fn restriction_lists_residents_and_venues(server: TestServer) {
    let officer = server.system_token("officer.hk", "health_officer", "00070").await;
    let elsewhere = server.system_token("officer.hcm", "health_officer", "79").await;
    let (status, hamlet) =
        call(&server, &officer, "POST", "/units/00070/children", Some(json!({"code": "TDP5", "name": "Tổ dân phố 5"})))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{hamlet}");
    resident(&server, "Lê Thị Hoa", "00070.TDP5").await;
    resident(&server, "Phạm Văn Nam", "00070").await; // in the commune, outside the neighbourhood
    let inside = venue_in(&server, "Tạp hoá Tổ 5", "00070.TDP5").await;
    venue_in(&server, "Chợ Hàng Bè", "00070").await;
    let t0 = now();
    let body = |unit: &str, from: i64, until: i64| json!({"unit": unit, "from": at(t0, from), "until": at(t0, until), "reason": "Cụm 3 ca F0 trong khu phố"});
    let day = 24 * 60;

    // Windows a new user gets wrong, an unknown unit, a unit outside one's jurisdiction.
    for (request, code) in [
        (body("00070.TDP5", 2 * day, day), "window_ends_before_it_starts"),
        (body("00070.TDP5", -3 * day, -day), "already_over"),
        (body("00070.TDP5", 0, 40 * day), "window_too_long"),
    ] {
        let (status, error) = call(&server, &officer, "POST", "/restrictions", Some(request)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    let (status, error) = call(&server, &officer, "POST", "/restrictions", Some(body("00070.NOPE", 0, day))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("00070.NOPE"), "{error}");
    let (status, _) = call(&server, &elsewhere, "POST", "/restrictions", Some(body("00070.TDP5", 0, day))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = call(&server, &officer, "GET", "/restrictions", None).await;
    assert_eq!(list, json!([]), "nothing stored");

    // The neighbourhood: its residents and venues, nobody from the rest of the commune.
    let (status, report) =
        call(&server, &officer, "POST", "/restrictions", Some(body("00070.TDP5", 0, 14 * day))).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["in_force"], true);
    assert_eq!(report["restriction"]["unit_name"], "Tổ dân phố 5");
    let names: Vec<&str> =
        report["residents"].as_array().unwrap().iter().map(|r| r["full_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Lê Thị Hoa"]);
    let venues: Vec<&str> = report["venues"].as_array().unwrap().iter().map(|v| v["code"].as_str().unwrap()).collect();
    assert_eq!(venues, [inside.code.as_str()]);
    let id = report["restriction"]["id"].as_str().unwrap().to_owned();

    // The commune around it, for an overlapping window: 409 naming the restriction.
    let (status, error) = call(&server, &officer, "POST", "/restrictions", Some(body("00070", day, 3 * day))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["error"]["existing_id"], id.as_str(), "{error}");

    let (status, read) = call(&server, &officer, "GET", &format!("/restrictions/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["residents"].as_array().unwrap().len(), 1);
    let (status, _) = call(&server, &elsewhere, "GET", &format!("/restrictions/{id}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = call(&server, &elsewhere, "GET", "/restrictions", None).await;
    assert_eq!(list, json!([]), "another province sees none");

    // Lifted once; then the commune may be restricted.
    let (status, lifted) = call(&server, &officer, "POST", &format!("/restrictions/{id}/lift"), None).await;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    assert!(lifted["lifted_at"].is_string(), "{lifted}");
    let (status, error) = call(&server, &officer, "POST", &format!("/restrictions/{id}/lift"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "already_over");
    let (status, report) = call(&server, &officer, "POST", "/restrictions", Some(body("00070", day, 3 * day))).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["in_force"], false, "it starts tomorrow");
    assert_eq!(report["residents"].as_array().unwrap().len(), 2);
}
